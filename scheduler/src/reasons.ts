/**
 * Why a unit is not scheduled, in words a user can act on. Each unplaced unit is run through the
 * checks stage by stage over every live machine; the stage that eliminates the last candidate
 * names the reason ("no machine has metadata region=west", "conflicts with web.1.service on every
 * machine", "waiting for db.service (MachineOf) to be scheduled").
 */
import { CHECKS, formatMetadata, type Check, type CheckName, type Rejection } from './checks';
import type { ClusterState, MachineState, UnitInfo } from './clusterState';

interface Eliminated {
  machine: MachineState;
  rejection: Rejection;
}

const GLOBAL_CHECKS: ReadonlySet<CheckName> = new Set(['metadata', 'conflicts']);

/** Why a non-global unit that wants to run has no machine (judged by `checks`: all of them unless given). */
export function explainUnplaced(unit: UnitInfo, state: ClusterState, checks: readonly Check[] = CHECKS): string {
  return explain(unit, state, checks);
}

/** Why a global unit runs on no machine (undefined when it counts somewhere). */
export function explainGlobal(unit: UnitInfo, state: ClusterState): string | undefined {
  for (const m of state.machines.values()) if (m.globals.has(unit.name)) return undefined;
  return explain(
    unit,
    state,
    CHECKS.filter(c => GLOBAL_CHECKS.has(c.name)),
  );
}

function explain(unit: UnitInfo, state: ClusterState, checks: readonly Check[]): string {
  let candidates = [...state.ranked()];
  if (candidates.length === 0) return 'no machines in the cluster';
  const earlier = new Map<string, Rejection>();
  let restricted = false;
  for (const check of checks) {
    const passed: MachineState[] = [];
    const rejected: Eliminated[] = [];
    for (const machine of candidates) {
      if (check.passes(unit, machine, state)) passed.push(machine);
      else rejected.push({ machine, rejection: check.reject(unit, machine, state) });
    }
    if (passed.length === 0) return summarize(check.name, unit, rejected, restricted, earlier, state);
    for (const r of rejected) earlier.set(r.machine.id, r.rejection);
    if (rejected.length > 0) restricted = true;
    candidates = passed;
  }
  const displaced = candidates.flatMap(m => state.replacedBy(m, unit));
  const replacers = [...new Set(displaced.filter(d => d.replaces.length > 0).map(d => d.name))].sort();
  if (replacers.length > 0) return `every machine it can use runs a unit it replaces that itself replaces others (${replacers.join(', ')}), so it is not moved`;
  const fresh = [...new Set(displaced.filter(d => state.placedThisPass.has(d.name)).map(d => d.name))].sort();
  if (fresh.length > 0) return `it would replace ${fresh.join(', ')}, placed in this pass; retrying on the next pass`;
  return 'no machine could take it in this pass; retrying on the next pass';
}

function summarize(
  check: CheckName,
  unit: UnitInfo,
  rejected: readonly Eliminated[],
  restricted: boolean,
  earlier: ReadonlyMap<string, Rejection>,
  state: ClusterState,
): string {
  const where = restricted ? 'every eligible machine' : 'every machine';
  switch (check) {
    case 'machineId': {
      const required = unit.requirements.machineId ?? '';
      return required === '' ? 'MachineID is empty, so it matches no machine' : `MachineID ${required} is not in the cluster`;
    }
    case 'metadata':
      if (restricted && rejected.length === 1) return rejected[0]!.rejection.message;
      return `no ${restricted ? 'eligible ' : ''}machine has metadata ${formatMetadata(unit.requirements.metadata)}`;
    case 'machineOf':
      return explainPeers(unit, rejected, earlier, state);
    case 'conflicts':
    case 'replaces':
      // One machine left by the earlier checks: name it.
      if (restricted && rejected.length === 1) return rejected[0]!.rejection.message;
      return `${check === 'conflicts' ? 'conflicts with' : 'replaced by'} ${nameList(rejected)} on ${where}`;
  }
}

function nameList(rejected: readonly Eliminated[]): string {
  const names = [...new Set(rejected.map(r => r.rejection.other ?? '?'))].sort();
  if (names.length <= 3) return names.join(', ');
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

function explainPeers(unit: UnitInfo, rejected: readonly Eliminated[], earlier: ReadonlyMap<string, Rejection>, state: ClusterState): string {
  const cycle = peerCycle(unit, state);
  if (cycle) return `MachineOf cycle ${cycle.join(' → ')}: none of these units can be scheduled`;
  const placed: { peer: string; machineId: string }[] = [];
  for (const peer of unit.requirements.peers) {
    const p = state.units.get(peer);
    if (!p) return `waiting for ${peer} (MachineOf), which has not been submitted`;
    if (p.desiredState === 'inactive') return `waiting for ${peer} (MachineOf), whose desired state is inactive`;
    if (p.global) {
      if (![...state.machines.values()].some(m => m.globals.has(peer))) return `waiting for ${peer} (MachineOf), a global unit that runs on no machine`;
      continue;
    }
    if (p.machineId === undefined) return `waiting for ${peer} (MachineOf) to be scheduled`;
    placed.push({ peer, machineId: p.machineId });
  }
  const machines = [...new Set(placed.map(p => p.machineId))];
  if (machines.length > 1) {
    const list = placed.map(p => `${p.peer} (on ${p.machineId})`);
    return `MachineOf peers ${list.slice(0, -1).join(', ')} and ${list[list.length - 1]} are on different machines`;
  }
  const first = placed[0];
  if (first) {
    const why = earlier.get(first.machineId);
    if (why) return `MachineOf peer ${first.peer} is on machine ${first.machineId}, which this unit cannot use: ${why.message}`;
    const here = rejected.find(r => r.machine.id === first.machineId);
    if (here) return here.rejection.message;
  }
  return rejected[0]?.rejection.message ?? 'MachineOf peers are not on any eligible machine';
}

/** The MachineOf chain from `unit` through unscheduled peers, when it comes back to `unit`. */
function peerCycle(unit: UnitInfo, state: ClusterState): string[] | undefined {
  const path = [unit.name];
  const seen = new Set(path);
  let current: UnitInfo | undefined = unit;
  while (current) {
    const next: UnitInfo | undefined = current.requirements.peers
      .map(p => state.units.get(p))
      .find(p => p !== undefined && !p.global && p.machineId === undefined && p.desiredState !== 'inactive');
    if (!next) return undefined;
    path.push(next.name);
    if (next.name === unit.name) return path;
    if (seen.has(next.name)) return undefined;
    seen.add(next.name);
    current = next;
  }
  return undefined;
}
