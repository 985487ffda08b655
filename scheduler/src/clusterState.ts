/**
 * The working state of one planning run: which units sit on which machine, each machine's load
 * (fleet's clusterState.agents(): non-global units whose desired state is not inactive, plus the
 * global units the machine is eligible for), and the least-loaded ranking. It is built from a
 * snapshot and mutated as planCluster decides, so later decisions see earlier ones. Internal to
 * the scheduler; nothing here does I/O.
 */
import { metadataMatches, type Requirements } from '../../unitfile/src/xfleet';
import { anyMatches, MatcherCache, type NameMatcher } from './matcher';
import type { ClusterSnapshot, DesiredState, SchedulerMachine } from './snapshot';

export interface UnitInfo {
  readonly name: string;
  readonly desiredState: DesiredState;
  readonly requirements: Requirements;
  readonly global: boolean;
  readonly conflicts: readonly NameMatcher[];
  readonly replaces: readonly NameMatcher[];
  /** The machine the unit is placed on in the working state (non-global units only). */
  machineId: string | undefined;
}

export class MachineState {
  /** Non-global units placed here whose desired state is not inactive, in placement order. */
  readonly jobs = new Set<string>();
  /** Global units that count here (metadata matches, no conflict), by name. */
  globals = new Set<string>();
  /** Units present here (jobs and globals) that carry Conflicts globs. */
  readonly conflictHolders = new Set<UnitInfo>();
  /** Units present here that carry Replaces globs. */
  readonly replaceHolders = new Set<UnitInfo>();

  constructor(readonly machine: SchedulerMachine) {}

  get id(): string {
    return this.machine.id;
  }

  get load(): number {
    return this.jobs.size + this.globals.size;
  }

  has(name: string): boolean {
    return this.jobs.has(name) || this.globals.has(name);
  }
}

/** fleet's sort: fewer units first, then machine ID ascending (byte order, like Go strings). */
export function compareMachines(a: MachineState, b: MachineState): number {
  return a.load - b.load || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class ClusterState {
  readonly units = new Map<string, UnitInfo>();
  readonly machines = new Map<string, MachineState>();
  /** Global units in name order. */
  readonly globalUnits: UnitInfo[] = [];
  /** Machines by the first 8 characters of their ID (fleet's short-ID match). */
  private readonly byShortId = new Map<string, MachineState[]>();
  /** Machines in least-loaded order; kept sorted as loads change. */
  private readonly ranking: MachineState[] = [];
  readonly matchers = new MatcherCache();

  constructor(snapshot: ClusterSnapshot) {
    const machines = [...snapshot.machines].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const m of machines) {
      if (this.machines.has(m.id)) continue;
      const state = new MachineState(m);
      this.machines.set(m.id, state);
      const short = m.id.slice(0, 8);
      const list = this.byShortId.get(short);
      if (list) list.push(state);
      else this.byShortId.set(short, [state]);
    }
    const units = [...snapshot.units].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const u of units) {
      if (this.units.has(u.name)) continue;
      const info: UnitInfo = {
        name: u.name,
        desiredState: u.desiredState,
        requirements: u.requirements,
        global: u.requirements.global,
        conflicts: this.matchers.all(u.requirements.conflicts),
        replaces: this.matchers.all(u.requirements.replaces),
        machineId: u.requirements.global ? undefined : u.machineId,
      };
      this.units.set(u.name, info);
      if (info.global) this.globalUnits.push(info);
    }
    for (const info of this.units.values()) {
      if (info.global || info.machineId === undefined || info.desiredState === 'inactive') continue;
      const m = this.machines.get(info.machineId);
      if (m) this.addPresent(m, info, 'job');
    }
    for (const m of this.machines.values()) this.computeGlobals(m);
    this.ranking.push(...this.machines.values());
    this.ranking.sort(compareMachines);
  }

  /** Machines in least-loaded order (live view; do not mutate). */
  ranked(): readonly MachineState[] {
    return this.ranking;
  }

  /** Machines whose ID matches a required MachineID (full ID, or exactly its first 8 characters). */
  machinesMatchingId(required: string): MachineState[] {
    const out: MachineState[] = [];
    const exact = this.machines.get(required);
    if (exact) out.push(exact);
    if (required.length === 8) for (const m of this.byShortId.get(required) ?? []) if (m !== exact) out.push(m);
    return out.sort(compareMachines);
  }

  /** Place a non-global unit on a machine (it counts toward the load unless inactive). */
  place(unit: UnitInfo, machine: MachineState): void {
    if (unit.machineId !== undefined) this.remove(unit);
    unit.machineId = machine.id;
    if (unit.desiredState === 'inactive') return;
    this.addPresent(machine, unit, 'job');
    // A unit placed through the checks conflicts with no global there, so globals cannot drop out.
    this.rerank(machine);
  }

  /** Clear a non-global unit's placement. */
  remove(unit: UnitInfo): void {
    const machine = unit.machineId !== undefined ? this.machines.get(unit.machineId) : undefined;
    unit.machineId = undefined;
    if (!machine || !machine.jobs.has(unit.name)) return;
    machine.jobs.delete(unit.name);
    machine.conflictHolders.delete(unit);
    machine.replaceHolders.delete(unit);
    // A global kept out by a conflict with this unit may count again.
    this.computeGlobals(machine);
    this.rerank(machine);
  }

  /**
   * The name of a unit present on the machine that conflicts with `unit` (in either direction,
   * ignoring the unit itself), or undefined. fleet's AgentState.HasConflict.
   */
  conflictOn(machine: MachineState, unit: { name: string; conflicts: readonly NameMatcher[] }): string | undefined {
    for (const matcher of unit.conflicts) {
      if (matcher.literal !== undefined) {
        if (matcher.literal !== unit.name && machine.has(matcher.literal)) return matcher.literal;
        continue;
      }
      for (const name of machine.jobs) if (name !== unit.name && matcher.matches(name)) return name;
      for (const name of machine.globals) if (name !== unit.name && matcher.matches(name)) return name;
    }
    for (const holder of machine.conflictHolders) {
      if (holder.name !== unit.name && anyMatches(holder.conflicts, unit.name)) return holder.name;
    }
    return undefined;
  }

  /** A unit on the machine whose Replaces matches `unit` while `unit` does not replace it back. */
  replacedByOn(machine: MachineState, unit: UnitInfo): string | undefined {
    for (const holder of machine.replaceHolders) {
      if (holder.name === unit.name) continue;
      if (anyMatches(holder.replaces, unit.name) && !anyMatches(unit.replaces, holder.name)) return holder.name;
    }
    return undefined;
  }

  /** Non-global units on the machine that `unit` replaces (one direction only), in name order. */
  replacedBy(machine: MachineState, unit: UnitInfo): UnitInfo[] {
    if (unit.replaces.length === 0) return [];
    const out: UnitInfo[] = [];
    for (const name of machine.jobs) {
      if (name === unit.name) continue;
      const other = this.units.get(name);
      if (other && anyMatches(unit.replaces, name) && !anyMatches(other.replaces, unit.name)) out.push(other);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private addPresent(machine: MachineState, unit: UnitInfo, as: 'job' | 'global'): void {
    if (as === 'job') machine.jobs.add(unit.name);
    else machine.globals.add(unit.name);
    if (unit.conflicts.length > 0) machine.conflictHolders.add(unit);
    if (unit.replaces.length > 0) machine.replaceHolders.add(unit);
  }

  /** fleet's agents(): globals in name order count where metadata matches and nothing already there conflicts. */
  private computeGlobals(machine: MachineState): void {
    if (this.globalUnits.length === 0) return;
    for (const name of machine.globals) {
      const g = this.units.get(name);
      if (g) {
        machine.conflictHolders.delete(g);
        machine.replaceHolders.delete(g);
      }
    }
    machine.globals = new Set();
    for (const g of this.globalUnits) {
      if (g.desiredState === 'inactive') continue;
      if (!metadataMatches(g.requirements.metadata, machine.machine.metadata)) continue;
      if (this.conflictOn(machine, g) !== undefined) continue;
      this.addPresent(machine, g, 'global');
    }
  }

  private rerank(machine: MachineState): void {
    const i = this.ranking.indexOf(machine);
    if (i >= 0) this.ranking.splice(i, 1);
    let lo = 0;
    let hi = this.ranking.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareMachines(this.ranking[mid]!, machine) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.ranking.splice(lo, 0, machine);
  }
}
