/**
 * The engine's decision (fleet's Reconciler.calculateClusterTasks), as a pure function of a
 * snapshot:
 *
 *  1. Every scheduled unit is checked on its own machine, in name order: inactive units, units on
 *     machines that went away, and units their machine can no longer run (metadata changed, a
 *     MachineOf peer left, a conflict, a unit that Replaces them) are unscheduled. Unscheduling
 *     can strand MachineOf followers, so the machines touched are re-checked until nothing changes.
 *  2. Every unscheduled unit that should run (peers before their followers, then by name) goes to
 *     the least-loaded machine that passes every check (ties: lowest machine ID, as fleet). A unit
 *     with Replaces may land next to the unit it replaces, which is then moved elsewhere — the
 *     documented intent of Replaces, done deterministically (fleet picks a side at random).
 *  3. Every unit that wants to run but has no machine gets a reason.
 *
 * Global units are never scheduled (agents run them); they count toward load where eligible.
 * A machine marked `unreachable` (absent for less than the engine's grace period) keeps its units
 * and is checked like any other, but receives no new units.
 * Output order is deterministic; applying the actions is the caller's job.
 */
import { feasible, firstRejection } from './checks';
import { ClusterState, type MachineState, type UnitInfo } from './clusterState';
import { explainGlobal, explainUnplaced } from './reasons';
import type { ClusterSnapshot } from './snapshot';

export type ClusterAction =
  { kind: 'schedule'; unit: string; machineId: string; reason: string } | { kind: 'unschedule'; unit: string; machineId: string; reason: string };

export interface ClusterPlan {
  /** In the order to apply them; a unit's unschedule comes before its new schedule. */
  actions: ClusterAction[];
  /** Units that should run but are not scheduled (and global units that run nowhere) → why, in name order. */
  reasons: Map<string, string>;
}

export function planCluster(snapshot: ClusterSnapshot): ClusterPlan {
  const state = new ClusterState(snapshot);
  const actions: ClusterAction[] = [];
  const unschedule = (unit: UnitInfo | string, machineId: string, reason: string): void => {
    actions.push({ kind: 'unschedule', unit: typeof unit === 'string' ? unit : unit.name, machineId, reason });
    if (typeof unit !== 'string') state.remove(unit);
  };

  // Pass 1: scheduled units on their own machines.
  for (const u of state.units.values()) {
    if (u.staleTarget !== undefined) unschedule(u.name, u.staleTarget, 'global units run on every eligible machine and are not scheduled to one');
  }
  for (const u of state.units.values()) {
    if (u.global || u.machineId === undefined) continue;
    if (u.desiredState === 'inactive') unschedule(u, u.machineId, 'desired state is inactive');
    else if (!state.machines.has(u.machineId)) unschedule(u, u.machineId, `machine ${u.machineId} went away`);
  }
  let toCheck: Iterable<UnitInfo> = state.units.values();
  for (let round = 0; round <= state.units.size; round++) {
    const touched = new Set<MachineState>();
    for (const u of toCheck) {
      if (u.global || u.machineId === undefined) continue;
      const machine = state.machines.get(u.machineId);
      if (!machine) continue;
      const rejection = firstRejection(u, machine, state);
      if (!rejection) continue;
      unschedule(u, machine.id, rejection.message);
      touched.add(machine);
    }
    if (touched.size === 0) break;
    // Only MachineOf followers on a machine that lost a unit can newly fail.
    toCheck = [...touched]
      .flatMap(m => [...m.jobs])
      .sort()
      .map(name => state.units.get(name)!);
  }

  // Pass 2: place what should run. Moving a replaced unit away can free a machine for a unit that
  // was turned away earlier in the pass, so after any move the leftovers get one more sweep.
  for (let sweep = 0; sweep < 2; sweep++) {
    const queue = placementOrder(state);
    let moved = false;
    for (let i = 0; i < queue.length; i++) {
      const unit = queue[i]!;
      if (unit.machineId !== undefined) continue;
      const chosen = choose(unit, state);
      if (!chosen) continue;
      const { machine, displaced } = chosen;
      const load = machine.load;
      for (const other of displaced) {
        unschedule(other, machine.id, `replaced by ${unit.name} on machine ${machine.id}`);
        queue.push(other);
        moved = true;
      }
      state.place(unit, machine);
      actions.push({ kind: 'schedule', unit: unit.name, machineId: machine.id, reason: placementReason(unit, load, displaced) });
    }
    if (!moved) break;
  }

  const reasons = new Map<string, string>();
  for (const u of state.units.values()) {
    if (u.desiredState === 'inactive') continue;
    if (u.global) {
      const why = explainGlobal(u, state);
      if (why !== undefined) reasons.set(u.name, why);
    } else if (u.machineId === undefined) {
      reasons.set(u.name, explainUnplaced(u, state));
    }
  }
  return { actions, reasons };
}

/** Unscheduled units that should run, each after the MachineOf peers it waits for, otherwise by name. */
function placementOrder(state: ClusterState): UnitInfo[] {
  const order: UnitInfo[] = [];
  const visited = new Set<string>();
  const pending = (u: UnitInfo | undefined): u is UnitInfo => u !== undefined && !u.global && u.machineId === undefined && u.desiredState !== 'inactive';
  const visit = (root: UnitInfo): void => {
    if (root.requirements.peers.length === 0) {
      visited.add(root.name);
      order.push(root);
      return;
    }
    // Iterative depth-first walk (peer chains can be long); cycles are cut at the first revisit.
    const stack: { unit: UnitInfo; next: number }[] = [{ unit: root, next: 0 }];
    visited.add(root.name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const peers = top.unit.requirements.peers;
      if (top.next < peers.length) {
        const peer = state.units.get(peers[top.next++]!);
        if (pending(peer) && !visited.has(peer.name)) {
          visited.add(peer.name);
          stack.push({ unit: peer, next: 0 });
        }
        continue;
      }
      stack.pop();
      order.push(top.unit);
    }
  };
  for (const u of state.units.values()) if (pending(u) && !visited.has(u.name)) visit(u);
  return order;
}

function candidates(unit: UnitInfo, state: ClusterState): readonly MachineState[] {
  const required = unit.requirements.machineId;
  if (required !== undefined) return state.machinesMatchingId(required);
  const firstPeer = unit.requirements.peers[0];
  const peer = firstPeer === undefined ? undefined : state.units.get(firstPeer);
  if (peer && !peer.global) {
    const machine = peer.machineId === undefined ? undefined : state.machines.get(peer.machineId);
    return machine && !machine.machine.unreachable ? [machine] : [];
  }
  return state.ranked();
}

function choose(unit: UnitInfo, state: ClusterState): { machine: MachineState; displaced: UnitInfo[] } | undefined {
  for (const machine of candidates(unit, state)) {
    if (!feasible(unit, machine, state)) continue;
    const displaced = state.replacedBy(machine, unit);
    if (displaced.some(d => !movable(d, state))) continue;
    return { machine, displaced };
  }
  return undefined;
}

/**
 * Whether a replaced unit may be moved away to make room. Units placed in this pass stay, and so
 * do units that replace others themselves: moving them could chase a ring of Replaces round the
 * cluster forever.
 */
function movable(unit: UnitInfo, state: ClusterState): boolean {
  return unit.replaces.length === 0 && !state.placedThisPass.has(unit.name);
}

function placementReason(unit: UnitInfo, load: number, displaced: readonly UnitInfo[]): string {
  const req = unit.requirements;
  let reason: string;
  if (req.machineId !== undefined) reason = `pinned by MachineID ${req.machineId}`;
  else if (req.peers.length > 0) reason = `with its MachineOf peer${req.peers.length > 1 ? 's' : ''} ${req.peers.join(', ')}`;
  else reason = `least-loaded machine that can run it (${load} unit${load === 1 ? '' : 's'})`;
  if (displaced.length > 0) reason += `; replaces ${displaced.map(d => d.name).join(', ')}`;
  return reason;
}
