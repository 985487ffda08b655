/**
 * The placement preview: on which machines the engine's own checks would let a unit run now, given
 * where the cluster's other units run and what they require (their Conflicts count against it as
 * its own do), which machine a MachineOf unit follows, and, when no machine qualifies, the
 * engine's reason. The language server's hover and code lens show it; one implementation, the
 * scheduler's checks (checks.ts) over the scheduler's working state (clusterState.ts).
 */
import type { Requirements } from '../../unitfile/src/xfleet';
import { firstRejection, type Rejection } from './checks';
import { ClusterState } from './clusterState';
import { explainGlobal, explainUnplaced } from './reasons';
import type { ClusterSnapshot } from './snapshot';

export interface PlacementPreview {
  /** Machine IDs that would take the unit, in ID order. */
  eligible: string[];
  /** The others, each with the first check that rules it out (fleet's order). */
  rejected: { machineId: string; rejection: Rejection }[];
  total: number;
  global: boolean;
  /** The engine's reason when no machine qualifies. */
  reason?: string;
  /** MachineOf peers already placed: the unit goes where they are. */
  follows: { peer: string; machineId: string }[];
}

/** `unit` judged as if it were to be launched now, against `cluster` (its own entry there, if any, is replaced). */
export function previewPlacement(unit: { name: string; requirements: Requirements }, cluster: ClusterSnapshot): PlacementPreview {
  const state = new ClusterState({
    machines: cluster.machines,
    units: [
      ...cluster.units.filter(u => u.name !== unit.name),
      { name: unit.name, desiredState: 'launched', requirements: unit.requirements, machineId: undefined },
    ],
  });
  const info = state.units.get(unit.name)!;
  const eligible: string[] = [];
  const rejected: PlacementPreview['rejected'] = [];
  for (const machine of state.machines.values()) {
    const rejection = firstRejection(info, machine, state);
    if (rejection) rejected.push({ machineId: machine.id, rejection });
    else eligible.push(machine.id);
  }
  const preview: PlacementPreview = { eligible, rejected, total: state.machines.size, global: info.global, follows: [] };
  for (const peer of unit.requirements.peers) {
    const placed = state.units.get(peer)?.machineId;
    if (placed !== undefined && state.machines.has(placed)) preview.follows.push({ peer, machineId: placed });
  }
  if (eligible.length === 0 && state.machines.size > 0) {
    const reason = info.global ? explainGlobal(info, state) : explainUnplaced(info, state);
    if (reason !== undefined) preview.reason = reason;
  }
  return preview;
}
