/**
 * Placement preview: which machines of the connected cluster a unit could be scheduled on, by the
 * scheduler's own preview (scheduler/src/preview.ts: its checks over the cluster's units where they
 * run, with what they require), which machine a MachineOf unit follows, and the engine's reason
 * when no machine qualifies. Shown in hover and code lens; only "no machine qualifies" is a
 * diagnostic (a warning), not every file's placement.
 */
import { isTemplateName, requirements, toOptions, XFLEET_SECTION, type UnitFile, type Problem } from '../../../unitfile/src';
import { previewPlacement } from '../../../scheduler/src/preview';
import type { ClusterSnapshot } from '../../../scheduler/src/snapshot';
import type { ClusterContext, ClusterMachine } from '../../../protocol/src/lsp';

export const NO_ELIGIBLE_MACHINE_CODE = 'xfleet-no-eligible-machine';

export interface Placement {
  eligible: ClusterMachine[];
  total: number;
  global: boolean;
  /** Why each ineligible machine was ruled out, by machine ID. */
  rejected: { machine: ClusterMachine; reason: string }[];
  /** The engine's reason when no machine qualifies. */
  reason?: string;
  /** The machines this unit's MachineOf peers run on (it must follow them). */
  follows: { peer: string; machine: ClusterMachine }[];
}

const short = (id: string) => id.slice(0, 8);

/** The scheduler's input from the cluster context: its machines, and its units where they run with their [X-Fleet] requirements. */
export function schedulerSnapshotOf(cluster: ClusterContext): ClusterSnapshot {
  return {
    machines: cluster.machines.map(m => ({ id: m.id, metadata: m.metadata ?? {} })),
    units: (cluster.unitDetails ?? []).map(u => ({
      name: u.name,
      desiredState: u.desiredState ?? 'inactive',
      requirements: requirements(
        (u.xfleet ?? []).map(o => ({ section: XFLEET_SECTION, name: o.name, value: o.value })),
        u.name,
      ),
      machineId: u.machineID,
    })),
  };
}

export function placement(file: UnitFile, unitName: string | undefined, cluster: ClusterContext): Placement {
  const named = unitName !== undefined && unitName.includes('.') ? unitName : undefined;
  const preview = previewPlacement({ name: named ?? '(this unit)', requirements: requirements(toOptions(file), named) }, schedulerSnapshotOf(cluster));
  const byId = new Map(cluster.machines.map(m => [m.id, m]));
  const p: Placement = {
    eligible: preview.eligible.map(id => byId.get(id)!),
    total: preview.total,
    global: preview.global,
    rejected: preview.rejected.map(r => ({ machine: byId.get(r.machineId)!, reason: r.rejection.message })),
    follows: preview.follows.map(f => ({ peer: f.peer, machine: byId.get(f.machineId)! })),
  };
  if (preview.reason !== undefined) p.reason = preview.reason;
  return p;
}

export function describeMachine(m: ClusterMachine): string {
  const meta = Object.entries(m.metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${short(m.id)}${m.primaryIP ? ` (${m.primaryIP})` : ''}${meta ? ` ${meta}` : ''}`;
}

/** `follows nginx.1.service to 5911b4a9 (127.0.0.2)` for each placed MachineOf peer. */
export function followsSummary(p: Placement): string | undefined {
  if (p.follows.length === 0) return undefined;
  return p.follows.map(f => `follows ${f.peer} to ${short(f.machine.id)}${f.machine.primaryIP ? ` (${f.machine.primaryIP})` : ''}`).join('; ');
}

export function placementSummary(p: Placement): string {
  if (p.eligible.length === 0 && p.total > 0) return `no machine of ${p.total} can take it now: ${p.reason ?? 'every machine is ruled out'}`;
  const names = p.eligible.map(m => short(m.id)).join(', ');
  const verb = p.global ? 'runs on' : 'eligible on';
  const follows = followsSummary(p);
  return `${verb} ${p.eligible.length} of ${p.total} machine${p.total === 1 ? '' : 's'}${names ? `: ${names}` : ''}${follows ? ` — ${follows}` : ''}`;
}

/**
 * The one placement diagnostic: a warning when the cluster is connected, the file has an
 * [X-Fleet] section and no machine qualifies (the preview itself is in hover and code lens).
 */
export function placementProblems(file: UnitFile, unitName: string | undefined, cluster: ClusterContext | undefined): Problem[] {
  // A template (web@.service) is never scheduled, only its instances are.
  if (!cluster || cluster.machines.length === 0 || (unitName !== undefined && isTemplateName(unitName))) return [];
  const section = file.sections.find(s => s.name === XFLEET_SECTION);
  if (!section) return [];
  const p = placement(file, unitName, cluster);
  if (p.eligible.length > 0) return [];
  return [
    {
      code: NO_ELIGIBLE_MACHINE_CODE,
      severity: 'warning',
      enforcedBy: 'advice',
      start: section.start,
      end: section.headerEnd,
      message: `No machine of the connected cluster can run this unit now: ${p.reason ?? 'every machine is ruled out'}. Change its [X-Fleet] requirements, or the machines' metadata.`,
    },
  ];
}
