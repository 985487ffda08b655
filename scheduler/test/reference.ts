/**
 * A deliberately naive planCluster: the same decisions, written straight from the specification
 * (fleet-reference §5.5–§5.6 plus our deterministic refinements) with no indexes, no caches and no
 * incremental state — every question recomputes the machines' unit sets from scratch with
 * unitfile's globMatch. The property test checks that the optimised planner agrees with it.
 */
import { globMatch } from '../../unitfile/src/glob';
import { machineIdMatches, metadataMatches } from '../../unitfile/src/xfleet';
import type { ClusterSnapshot, SchedulerUnit } from '../src/snapshot';

export interface RefAction {
  kind: 'schedule' | 'unschedule';
  unit: string;
  machineId: string;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const any = (patterns: readonly string[], name: string) => patterns.some(p => globMatch(p, name));

export function referencePlan(snapshot: ClusterSnapshot): { actions: RefAction[]; unplaced: string[] } {
  const units = [...snapshot.units].sort((a, b) => cmp(a.name, b.name));
  const byName = new Map(units.map(u => [u.name, u]));
  const machines = [...snapshot.machines].sort((a, b) => cmp(a.id, b.id));
  const live = new Set(machines.map(m => m.id));
  const target = new Map<string, string | undefined>(units.map(u => [u.name, u.machineId]));
  const actions: RefAction[] = [];
  const unschedule = (name: string, machineId: string) => {
    actions.push({ kind: 'unschedule', unit: name, machineId });
    target.set(name, undefined);
  };

  const conflicts = (u: SchedulerUnit, presentUnits: readonly SchedulerUnit[]) =>
    presentUnits.some(p => p.name !== u.name && (any(p.requirements.conflicts, u.name) || any(u.requirements.conflicts, p.name)));

  const present = (machineId: string): SchedulerUnit[] => {
    const out = units.filter(u => !u.requirements.global && u.desiredState !== 'inactive' && target.get(u.name) === machineId);
    const machine = machines.find(m => m.id === machineId)!;
    for (const g of units) {
      if (!g.requirements.global || g.desiredState === 'inactive') continue;
      if (!metadataMatches(g.requirements.metadata, machine.metadata)) continue;
      if (conflicts(g, out)) continue;
      out.push(g);
    }
    return out;
  };

  /** Units `u` needs through MachineOf, transitively. */
  const needs = (u: SchedulerUnit): Set<string> => {
    const out = new Set<string>();
    const walk = (x: SchedulerUnit | undefined) => {
      for (const p of x?.requirements.peers ?? []) {
        if (out.has(p)) continue;
        out.add(p);
        walk(byName.get(p));
      }
    };
    walk(u);
    return out;
  };
  /** `a` replaces `b`: one direction only, and not when `a` needs `b` through MachineOf. */
  const replaces = (a: SchedulerUnit, b: SchedulerUnit) =>
    any(a.requirements.replaces, b.name) && !any(b.requirements.replaces, a.name) && !needs(a).has(b.name);
  const replacedOn = (u: SchedulerUnit, here: readonly SchedulerUnit[]) => here.some(p => p.name !== u.name && replaces(p, u));

  const feasible = (u: SchedulerUnit, machineId: string): boolean => {
    const machine = machines.find(m => m.id === machineId)!;
    const req = u.requirements;
    if (req.machineId !== undefined && !machineIdMatches(req.machineId, machineId)) return false;
    if (!metadataMatches(req.metadata, machine.metadata)) return false;
    const here = present(machineId);
    if (!req.peers.every(p => here.some(h => h.name === p))) return false;
    if (conflicts(u, here)) return false;
    return !replacedOn(u, here);
  };

  const ranked = () =>
    machines
      .map(m => ({ id: m.id, load: present(m.id).length }))
      .sort((a, b) => a.load - b.load || cmp(a.id, b.id))
      .map(m => m.id);

  // Pass 1.
  for (const u of units) {
    const t = target.get(u.name);
    if (u.requirements.global && t !== undefined) unschedule(u.name, t);
  }
  for (const u of units) {
    const t = target.get(u.name);
    if (u.requirements.global || t === undefined) continue;
    if (u.desiredState === 'inactive' || !live.has(t)) unschedule(u.name, t);
  }
  let touched: Set<string> | undefined;
  for (;;) {
    const next = new Set<string>();
    for (const u of units) {
      const t = target.get(u.name);
      if (u.requirements.global || t === undefined) continue;
      if (touched && !touched.has(t)) continue;
      if (!feasible(u, t)) {
        unschedule(u.name, t);
        next.add(t);
      }
    }
    if (next.size === 0) break;
    touched = next;
  }

  // Pass 2: peers first (depth-first in peer order), otherwise by name; one more sweep after a move.
  const pending = (u: SchedulerUnit | undefined): u is SchedulerUnit =>
    u !== undefined && !u.requirements.global && target.get(u.name) === undefined && u.desiredState !== 'inactive';
  const placedThisPass = new Set<string>();
  for (let sweep = 0; sweep < 2; sweep++) {
    const order: SchedulerUnit[] = [];
    const visited = new Set<string>();
    const visit = (u: SchedulerUnit) => {
      visited.add(u.name);
      for (const p of u.requirements.peers) {
        const peer = byName.get(p);
        if (pending(peer) && !visited.has(peer.name)) visit(peer);
      }
      order.push(u);
    };
    for (const u of units) if (pending(u) && !visited.has(u.name)) visit(u);
    let moved = false;
    for (let i = 0; i < order.length; i++) {
      const u = order[i]!;
      if (target.get(u.name) !== undefined) continue;
      for (const machineId of ranked()) {
        if (!feasible(u, machineId)) continue;
        const displaced = present(machineId).filter(y => !y.requirements.global && y.name !== u.name && replaces(u, y));
        if (displaced.some(d => d.requirements.replaces.length > 0 || placedThisPass.has(d.name))) continue;
        for (const d of displaced.sort((a, b) => cmp(a.name, b.name))) {
          unschedule(d.name, machineId);
          order.push(d);
          moved = true;
        }
        target.set(u.name, machineId);
        placedThisPass.add(u.name);
        actions.push({ kind: 'schedule', unit: u.name, machineId });
        break;
      }
    }
    if (!moved) break;
  }

  const unplaced = units.filter(u => u.desiredState !== 'inactive' && !u.requirements.global && target.get(u.name) === undefined).map(u => u.name);
  return { actions, unplaced };
}
