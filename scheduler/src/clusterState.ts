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
  /** A global unit's leftover schedule entry (the engine never schedules global units). */
  readonly staleTarget: string | undefined;
}

const NONE: readonly NameMatcher[] = [];

export class MachineState {
  /** Non-global units placed here whose desired state is not inactive, in placement order. */
  readonly jobs = new Set<string>();
  /** Global units that count here (metadata matches, no conflict), by name. */
  globals = new Set<string>();
  /** Units present here that carry Replaces globs. */
  readonly replaceHolders = new Set<UnitInfo>();
  /** Conflicts pattern (of any unit in the cluster) → the units present here whose name it matches. */
  readonly namesMatching = new Map<NameMatcher, Set<string>>();
  /** Conflicts pattern → the units present here that carry it. */
  readonly carriers = new Map<NameMatcher, Set<string>>();

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
  /** Every Conflicts pattern in the cluster, by its literal prefix (the text before any glob metacharacter). */
  private readonly conflictPatterns = new Map<string, NameMatcher[]>();
  private longestPrefix = 0;
  /** Unit name → the Conflicts patterns in the cluster that match it (computed once per name). */
  private readonly matchingCache = new Map<string, readonly NameMatcher[]>();
  private readonly needsCache = new Map<string, ReadonlySet<string>>();
  /** Units placed by the pass under way (they are not moved again in the same pass). */
  readonly placedThisPass = new Set<string>();

  constructor(snapshot: ClusterSnapshot) {
    const machines = sortedBy(snapshot.machines, m => m.id);
    for (const m of machines) {
      if (this.machines.has(m.id)) continue;
      const state = new MachineState(m);
      this.machines.set(m.id, state);
      const short = m.id.slice(0, 8);
      const list = this.byShortId.get(short);
      if (list) list.push(state);
      else this.byShortId.set(short, [state]);
    }
    const units = sortedBy(snapshot.units, u => u.name);
    for (const u of units) {
      if (this.units.has(u.name)) continue;
      const info: UnitInfo = {
        name: u.name,
        desiredState: u.desiredState,
        requirements: u.requirements,
        global: u.requirements.global,
        conflicts: u.requirements.conflicts.length === 0 ? NONE : [...new Set(this.matchers.all(u.requirements.conflicts))],
        replaces: u.requirements.replaces.length === 0 ? NONE : this.matchers.all(u.requirements.replaces),
        machineId: u.requirements.global ? undefined : u.machineId,
        staleTarget: u.requirements.global ? u.machineId : undefined,
      };
      this.units.set(u.name, info);
      if (info.global) this.globalUnits.push(info);
      for (const m of info.conflicts) this.indexPattern(m);
    }
    for (const info of this.units.values()) {
      if (info.global || info.machineId === undefined || info.desiredState === 'inactive') continue;
      const m = this.machines.get(info.machineId);
      if (m) this.addPresent(m, info, 'job');
    }
    for (const m of this.machines.values()) this.computeGlobals(m);
    // An unreachable machine (within the engine's grace period) keeps its units but takes no new ones.
    this.ranking.push(...[...this.machines.values()].filter(m => !m.machine.unreachable));
    this.ranking.sort(compareMachines);
  }

  /** Machines that can take new units, in least-loaded order (live view; do not mutate). */
  ranked(): readonly MachineState[] {
    return this.ranking;
  }

  /** Machines that can take new units whose ID matches a required MachineID (full ID, or exactly its first 8 characters). */
  machinesMatchingId(required: string): MachineState[] {
    const out: MachineState[] = [];
    const exact = this.machines.get(required);
    if (exact && !exact.machine.unreachable) out.push(exact);
    if (required.length === 8) for (const m of this.byShortId.get(required) ?? []) if (m !== exact && !m.machine.unreachable) out.push(m);
    return out.sort(compareMachines);
  }

  /** Place a non-global unit on a machine (it counts toward the load unless inactive). */
  place(unit: UnitInfo, machine: MachineState): void {
    if (unit.machineId !== undefined) this.remove(unit);
    unit.machineId = machine.id;
    if (unit.desiredState === 'inactive') return;
    this.placedThisPass.add(unit.name);
    this.addPresent(machine, unit, 'job');
    // Usually a no-op (the checks kept the unit clear of the globals there), but a unit it
    // displaced may have been holding off a global that conflicts with it.
    this.computeGlobals(machine);
    this.rerank(machine);
  }

  /** Clear a non-global unit's placement. */
  remove(unit: UnitInfo): void {
    const machine = unit.machineId !== undefined ? this.machines.get(unit.machineId) : undefined;
    unit.machineId = undefined;
    if (!machine || !machine.jobs.has(unit.name)) return;
    machine.jobs.delete(unit.name);
    this.removePresent(machine, unit);
    // A global kept out by a conflict with this unit may count again.
    this.computeGlobals(machine);
    this.rerank(machine);
  }

  /**
   * fleet's AgentState.HasConflict from the indexes: the name of a unit present on the machine
   * (other than `unit` itself) that one of `unit`'s Conflicts matches, or that carries a Conflicts
   * pattern matching `unit`; undefined when there is none.
   */
  conflictOn(machine: MachineState, unit: UnitInfo): string | undefined {
    for (const matcher of unit.conflicts) {
      const names = machine.namesMatching.get(matcher);
      if (names) for (const name of names) if (name !== unit.name) return name;
    }
    if (machine.carriers.size === 0) return undefined;
    for (const matcher of this.patternsMatching(unit.name)) {
      const names = machine.carriers.get(matcher);
      if (names) for (const name of names) if (name !== unit.name) return name;
    }
    return undefined;
  }

  hasConflict(machine: MachineState, unit: UnitInfo): boolean {
    return this.conflictOn(machine, unit) !== undefined;
  }

  /** A unit on the machine whose Replaces matches `unit` while `unit` does not replace it back. */
  replacedByOn(machine: MachineState, unit: UnitInfo): string | undefined {
    for (const holder of machine.replaceHolders) {
      if (holder.name === unit.name) continue;
      if (this.replaces(holder, unit)) return holder.name;
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
      if (other && this.replaces(unit, other)) out.push(other);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * fleet's hasReplace, one pair: `a` replaces `b` when a Replaces glob of `a` matches `b` and not
   * the other way round (mutual Replaces is ignored). We also ignore it when `a` needs `b` through
   * MachineOf, directly or through other peers — fleet's validation calls a direct one
   * unresolvable, but a unit replaced through the API skips that validation, and honouring both
   * would move the units round forever.
   */
  replaces(a: UnitInfo, b: UnitInfo): boolean {
    return anyMatches(a.replaces, b.name) && !anyMatches(b.replaces, a.name) && !this.needs(a).has(b.name);
  }

  /** Every unit `unit` needs through MachineOf, transitively (memoised for the run). */
  needs(unit: UnitInfo): ReadonlySet<string> {
    let found = this.needsCache.get(unit.name);
    if (found) return found;
    const out = new Set<string>();
    const stack = [...unit.requirements.peers];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (out.has(name)) continue;
      out.add(name);
      const peer = this.units.get(name);
      if (peer) stack.push(...peer.requirements.peers);
    }
    found = out;
    this.needsCache.set(unit.name, found);
    return found;
  }

  private addPresent(machine: MachineState, unit: UnitInfo, as: 'job' | 'global'): void {
    if (as === 'job') machine.jobs.add(unit.name);
    else machine.globals.add(unit.name);
    if (unit.replaces.length > 0) machine.replaceHolders.add(unit);
    this.count(machine, unit, 1);
  }

  /** Undo addPresent (the caller removes the name from jobs or globals). */
  private removePresent(machine: MachineState, unit: UnitInfo): void {
    machine.replaceHolders.delete(unit);
    this.count(machine, unit, -1);
  }

  private count(machine: MachineState, unit: UnitInfo, delta: 1 | -1): void {
    for (const m of this.patternsMatching(unit.name)) update(machine.namesMatching, m, unit.name, delta);
    for (const m of unit.conflicts) update(machine.carriers, m, unit.name, delta);
  }

  private indexPattern(matcher: NameMatcher): void {
    const prefix = literalPrefix(matcher.pattern);
    const list = this.conflictPatterns.get(prefix);
    if (!list) this.conflictPatterns.set(prefix, [matcher]);
    else if (!list.includes(matcher)) list.push(matcher);
    this.longestPrefix = Math.max(this.longestPrefix, prefix.length);
  }

  /** The Conflicts patterns of the cluster that match `name`. */
  patternsMatching(name: string): readonly NameMatcher[] {
    let found = this.matchingCache.get(name);
    if (found) return found;
    const out: NameMatcher[] = [];
    const longest = Math.min(name.length, this.longestPrefix);
    for (let k = 0; k <= longest; k++) {
      const list = this.conflictPatterns.get(name.slice(0, k));
      if (list) for (const m of list) if (m.matches(name)) out.push(m);
    }
    found = out;
    this.matchingCache.set(name, found);
    return found;
  }

  /**
   * fleet's agents(): globals in name order count where metadata matches and nothing already there
   * conflicts. Unlike fleet, an inactive global unit does not count: no agent runs it, so it is
   * neither load nor a MachineOf peer nor a conflict.
   */
  private computeGlobals(machine: MachineState): void {
    if (this.globalUnits.length === 0) return;
    for (const name of machine.globals) {
      const g = this.units.get(name);
      if (g) this.removePresent(machine, g);
    }
    machine.globals = new Set();
    for (const g of this.globalUnits) {
      if (g.desiredState === 'inactive') continue;
      if (!metadataMatches(g.requirements.metadata, machine.machine.metadata)) continue;
      if (this.hasConflict(machine, g)) continue;
      this.addPresent(machine, g, 'global');
    }
  }

  private rerank(machine: MachineState): void {
    const i = this.ranking.indexOf(machine);
    if (i >= 0) this.ranking.splice(i, 1);
    if (machine.machine.unreachable) return;
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

/** `items` ordered by key (byte order); the input is returned as is when already sorted (the registry sorts). */
function sortedBy<T>(items: readonly T[], key: (item: T) => string): readonly T[] {
  for (let i = 1; i < items.length; i++) {
    if (key(items[i - 1]!) > key(items[i]!)) {
      return [...items].sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    }
  }
  return items;
}

function update(index: Map<NameMatcher, Set<string>>, key: NameMatcher, name: string, delta: 1 | -1): void {
  let names = index.get(key);
  if (delta > 0) {
    if (!names) index.set(key, (names = new Set()));
    names.add(name);
  } else if (names) {
    names.delete(name);
    if (names.size === 0) index.delete(key);
  }
}

/** The text before the first glob metacharacter: every name the pattern matches starts with it. */
function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?[\\]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}
