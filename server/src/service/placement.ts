/**
 * Placement preview: which machines of the connected cluster a unit could be scheduled on,
 * judged by what the editor can see (MachineID and MachineMetadata; MachineOf, Conflicts and
 * Replaces depend on where other units run, which the cluster context does not carry). The
 * judging is the scheduler's own: its checks (scheduler/src/checks.ts) and, when no machine
 * qualifies, its reason (scheduler/src/reasons.ts), worded as the engine words it.
 */
import { requirements, toOptions, XFLEET_SECTION, type Requirements, type UnitFile, type Problem } from '../../../unitfile/src';
import { CHECKS, type CheckName } from '../../../scheduler/src/checks';
import { ClusterState, type UnitInfo } from '../../../scheduler/src/clusterState';
import { explainUnplaced } from '../../../scheduler/src/reasons';
import type { ClusterContext, ClusterMachine } from '../../../protocol/src/lsp';

export const PLACEMENT_CODE = 'xfleet-placement';
export const NO_ELIGIBLE_MACHINE_CODE = 'xfleet-no-eligible-machine';

export interface Placement {
  eligible: ClusterMachine[];
  total: number;
  global: boolean;
  /** Why each ineligible machine was ruled out, by machine ID. */
  rejected: { machine: ClusterMachine; reason: string }[];
  /** The engine's reason when no machine qualifies. */
  reason?: string;
}

const short = (id: string) => id.slice(0, 8);

/** The checks the preview can judge from the cluster context alone. */
const PREVIEW_CHECKS: ReadonlySet<CheckName> = new Set(['machineId', 'metadata']);

/**
 * The scheduler's working state for the connected cluster with the unit added, unscheduled: the
 * cluster's other units where they run (their requirements are not in the context).
 */
export function clusterStateWith(name: string, req: Requirements, cluster: ClusterContext): { state: ClusterState; unit: UnitInfo } {
  const others = (cluster.unitDetails ?? []).filter(u => u.name !== name);
  const state = new ClusterState({
    machines: cluster.machines.map(m => ({ id: m.id, metadata: m.metadata ?? {} })),
    units: [
      ...others.map(u => ({ name: u.name, desiredState: u.desiredState ?? 'inactive', requirements: requirements([], u.name), machineId: u.machineID })),
      { name, desiredState: 'launched' as const, requirements: req, machineId: undefined },
    ],
  });
  return { state, unit: state.units.get(name)! };
}

export function placement(file: UnitFile, unitName: string | undefined, cluster: ClusterContext): Placement {
  const named = unitName !== undefined && unitName.includes('.') ? unitName : undefined;
  const req = requirements(toOptions(file), named);
  const { state, unit } = clusterStateWith(named ?? '(this unit)', req, cluster);
  const checks = CHECKS.filter(c => PREVIEW_CHECKS.has(c.name));
  const eligible: ClusterMachine[] = [];
  const rejected: Placement['rejected'] = [];
  for (const m of cluster.machines) {
    const machine = state.machines.get(m.id)!;
    const failed = checks.find(c => !c.passes(unit, machine, state));
    if (failed) rejected.push({ machine: m, reason: failed.reject(unit, machine, state).message });
    else eligible.push(m);
  }
  const p: Placement = { eligible, total: cluster.machines.length, global: req.global, rejected };
  if (eligible.length === 0 && cluster.machines.length > 0) p.reason = explainUnplaced(unit, state, checks);
  return p;
}

export function describeMachine(m: ClusterMachine): string {
  const meta = Object.entries(m.metadata ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return `${short(m.id)}${m.primaryIP ? ` (${m.primaryIP})` : ''}${meta ? ` ${meta}` : ''}`;
}

export function placementSummary(p: Placement): string {
  const names = p.eligible.map(m => short(m.id)).join(', ');
  const verb = p.global ? 'runs on' : 'eligible on';
  return `${verb} ${p.eligible.length} of ${p.total} machine${p.total === 1 ? '' : 's'}${names ? `: ${names}` : ''}`;
}

/**
 * Problems about placement when a cluster is connected and the file has an [X-Fleet] section:
 * an information with the summary, or a warning when no machine qualifies.
 */
export function placementProblems(file: UnitFile, unitName: string | undefined, cluster: ClusterContext | undefined): Problem[] {
  if (!cluster || cluster.machines.length === 0) return [];
  const section = file.sections.find(s => s.name === XFLEET_SECTION);
  if (!section) return [];
  const p = placement(file, unitName, cluster);
  const range = { start: section.start, end: section.headerEnd };
  if (p.eligible.length === 0) {
    return [{
      code: NO_ELIGIBLE_MACHINE_CODE, severity: 'warning', enforcedBy: 'advice', ...range,
      message: `No machine of the connected cluster can run this unit: ${p.reason}. Change MachineID= or MachineMetadata=, or add matching metadata to a machine.`,
    }];
  }
  return [{ code: PLACEMENT_CODE, severity: 'information', enforcedBy: 'advice', ...range, message: `Placement: ${placementSummary(p)}.` }];
}
