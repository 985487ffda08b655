/**
 * Placement preview: which machines of the connected cluster a unit could be scheduled on,
 * judged by what the editor can see (MachineID and MachineMetadata; MachineOf, Conflicts and
 * Replaces depend on where other units run, which the cluster context does not carry).
 */
import { machineIdMatches, metadataMatches, requirements, toOptions, XFLEET_SECTION, type UnitFile, type Problem } from '../../../unitfile/src';
import type { ClusterContext, ClusterMachine } from '../../../protocol/src/lsp';

export const PLACEMENT_CODE = 'xfleet-placement';
export const NO_ELIGIBLE_MACHINE_CODE = 'xfleet-no-eligible-machine';

export interface Placement {
  eligible: ClusterMachine[];
  total: number;
  global: boolean;
  /** Why each ineligible machine was ruled out, by machine ID. */
  rejected: { machine: ClusterMachine; reason: string }[];
}

const short = (id: string) => id.slice(0, 8);

export function placement(file: UnitFile, unitName: string | undefined, cluster: ClusterContext): Placement {
  const req = requirements(toOptions(file), unitName !== undefined && unitName.includes('.') ? unitName : undefined);
  const eligible: ClusterMachine[] = [];
  const rejected: Placement['rejected'] = [];
  for (const m of cluster.machines) {
    if (req.machineId !== undefined && !machineIdMatches(req.machineId, m.id)) {
      rejected.push({ machine: m, reason: `MachineID=${req.machineId} does not match ${short(m.id)}` });
      continue;
    }
    if (!metadataMatches(req.metadata, m.metadata ?? {})) {
      const wanted = [...req.metadata].map(([k, v]) => `${k}=${v.join('|')}`).join(', ');
      rejected.push({ machine: m, reason: `metadata does not match ${wanted}` });
      continue;
    }
    eligible.push(m);
  }
  return { eligible, total: cluster.machines.length, global: req.global, rejected };
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
    const reasons = p.rejected.map(r => `${short(r.machine.id)}: ${r.reason}`).join('; ');
    return [{
      code: NO_ELIGIBLE_MACHINE_CODE, severity: 'warning', enforcedBy: 'advice', ...range,
      message: `No machine of the connected cluster can run this unit (${reasons}). Change MachineID= or MachineMetadata=, or add matching metadata to a machine.`,
    }];
  }
  return [{ code: PLACEMENT_CODE, severity: 'information', enforcedBy: 'advice', ...range, message: `Placement: ${placementSummary(p)}.` }];
}
