/**
 * The agent's decisions (fleet-reference §5.7; fleet's agent/reconcile.go): which units this
 * machine should hold (`desiredUnitsForMachine`) and the ordered tasks that move the unit manager
 * from what it has to that (`planMachine`). Pure: no I/O, no clock; the agent applies the tasks.
 */
import type { UnitOption } from '../../unitfile/src/serialize';
import { globMatch } from '../../unitfile/src/glob';
import { metadataMatches, requirements } from '../../unitfile/src/xfleet';

/** fleet's job target states, as the agent sees them. */
export type MachineUnitState = 'inactive' | 'loaded' | 'launched';

export interface DesiredUnit {
  name: string;
  /** 40-hex unitHash of the options. */
  hash: string;
  options: readonly UnitOption[];
  targetState: MachineUnitState;
}

export interface CurrentUnit {
  name: string;
  /** Hash of the unit file the manager has loaded. */
  hash: string;
  /** What this agent last did with it; `inactive` when the file is present but the agent has no record (e.g. after a restart). */
  state: MachineUnitState;
}

/** fleet's task reasons (agent/task.go), verbatim. */
export const TaskReason = {
  scheduledButUnloaded: 'unit scheduled here but not loaded',
  loadedButNotScheduled: 'unit loaded but not scheduled here',
  loadedButHashDiffers: 'unit loaded but hash differs to expected',
  loadedDesiredStateLaunched: 'unit currently loaded but desired state is launched',
  launchedDesiredStateLoaded: 'unit currently launched but desired state is loaded',
  purgingAgent: 'purging agent',
  alwaysReloadUnitFiles: 'always reload unit files',
} as const;
export type TaskReason = (typeof TaskReason)[keyof typeof TaskReason];

export type MachineTask =
  | { kind: 'unload'; unit: string; reason: TaskReason }
  | { kind: 'load'; unit: string; hash: string; options: readonly UnitOption[]; reason: TaskReason }
  | { kind: 'reloadUnitFiles'; reason: TaskReason }
  | { kind: 'stop'; unit: string; reason: TaskReason }
  | { kind: 'start'; unit: string; reason: TaskReason };

/** fleet's taskTypeSortOrder. */
const ORDER: Record<MachineTask['kind'], number> = { unload: 1, load: 2, reloadUnitFiles: 3, stop: 4, start: 5 };

/**
 * fleet's calculateTasksForUnits: per unit (in name order) the tasks of §5.7's table, then one
 * ReloadUnitFiles when any Load or Unload exists, all sorted by type
 * (Unload < Load < ReloadUnitFiles < Stop < Start), name order kept within a type.
 */
export function planMachine(desired: readonly DesiredUnit[], current: readonly CurrentUnit[]): MachineTask[] {
  const d = new Map(desired.map(u => [u.name, u]));
  const c = new Map(current.map(u => [u.name, u]));
  const names = [...new Set([...d.keys(), ...c.keys()])].sort(compare);
  const tasks: MachineTask[] = [];
  for (const name of names) tasks.push(...tasksForUnit(d.get(name), c.get(name), name));
  if (tasks.length === 0) return [];
  if (tasks.some(t => t.kind === 'load' || t.kind === 'unload')) {
    tasks.push({ kind: 'reloadUnitFiles', reason: TaskReason.alwaysReloadUnitFiles });
  }
  // Array.prototype.sort is stable: name order is kept within a task type.
  return tasks.sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
}

/** Unload every unit the manager holds (fleet's Purge on graceful shutdown). */
export function planPurge(current: readonly CurrentUnit[]): MachineTask[] {
  return current
    .map(u => u.name)
    .sort(compare)
    .map(unit => ({ kind: 'unload' as const, unit, reason: TaskReason.purgingAgent }));
}

function tasksForUnit(d: DesiredUnit | undefined, c: CurrentUnit | undefined, name: string): MachineTask[] {
  if (!d || d.targetState === 'inactive') {
    return c ? [{ kind: 'unload', unit: name, reason: TaskReason.loadedButNotScheduled }] : [];
  }
  const load: MachineTask = { kind: 'load', unit: name, hash: d.hash, options: d.options, reason: TaskReason.scheduledButUnloaded };
  const start: MachineTask = { kind: 'start', unit: name, reason: TaskReason.loadedDesiredStateLaunched };
  const launched = d.targetState === 'launched';
  if (!c) return launched ? [load, start] : [load];
  if (c.hash !== d.hash) {
    const unload: MachineTask = { kind: 'unload', unit: name, reason: TaskReason.loadedButHashDiffers };
    return launched ? [unload, load, start] : [unload, load];
  }
  if (c.state === d.targetState) return [];
  const tasks: MachineTask[] = [];
  if (c.state === 'inactive') tasks.push(load);
  if ((c.state === 'inactive' || c.state === 'loaded') && launched) tasks.push(start);
  if (c.state === 'launched' && d.targetState === 'loaded') {
    tasks.push({ kind: 'stop', unit: name, reason: TaskReason.launchedDesiredStateLoaded });
  }
  return tasks;
}

// ---------------------------------------------------------------------------------------------
// Desired state (fleet's desiredAgentState)

export interface MachineUnitInput {
  name: string;
  options: readonly UnitOption[];
  hash: string;
  desiredState: MachineUnitState;
}

export interface MachineIdentity {
  id: string;
  /** The merged metadata (configured + dynamic), as the registry reports it. */
  metadata: Readonly<Record<string, string>>;
}

export type DroppedReason = { kind: 'metadata'; unit: string; message: string } | { kind: 'conflict'; unit: string; with: string; message: string };

export interface DesiredMachineState {
  units: DesiredUnit[];
  /** Units this machine could have held but refuses, with why (global metadata mismatch, local conflicts). */
  dropped: DroppedReason[];
}

/**
 * fleet's desiredAgentState: non-global units whose schedule target is this machine, global units
 * whose MachineMetadata this machine satisfies; then, in name order, any unit that conflicts with
 * one already accepted is dropped (the agent enforces Conflicts locally, for global units too).
 * `targetOf(name)` is the machine the engine scheduled the unit to.
 */
export function desiredUnitsForMachine(
  units: readonly MachineUnitInput[],
  targetOf: (name: string) => string | undefined,
  machine: MachineIdentity,
): DesiredMachineState {
  const accepted = new AcceptedUnits();
  const out: DesiredUnit[] = [];
  const dropped: DroppedReason[] = [];
  for (const u of [...units].sort((a, b) => compare(a.name, b.name))) {
    const req = requirements(u.options, u.name);
    if (req.global) {
      if (!metadataMatches(req.metadata, machine.metadata)) {
        dropped.push({
          kind: 'metadata',
          unit: u.name,
          message: `global unit ${u.name} needs metadata ${describeMetadata(req.metadata)}, which machine ${machine.id} does not have`,
        });
        continue;
      }
    } else if (targetOf(u.name) !== machine.id) {
      continue;
    }
    const clash = accepted.firstClash(u.name, req.conflicts);
    if (clash) {
      dropped.push({
        kind: 'conflict',
        unit: u.name,
        with: clash.name,
        message: `unit ${u.name} conflicts with ${clash.name}, already on machine ${machine.id}; it is not run here`,
      });
      continue;
    }
    accepted.add(u.name, req.conflicts);
    out.push({ name: u.name, hash: u.hash, options: u.options, targetState: u.desiredState });
  }
  return { units: out, dropped };
}

/**
 * The units a machine accepted so far, in name order, indexed for fleet's conflict rule: a unit
 * clashes with the first accepted unit whose Conflicts= globs match its name, or whose name its
 * own globs match. Checked pair by pair, a machine of a thousand units cost half a million checks
 * per pass. Here a unit is checked against each distinct glob once: the accepted units declaring
 * a glob are listed under it, and the first accepted name a glob matches is remembered (names
 * are only appended, so it never changes once found). A machine of units without Conflicts=
 * costs one lookup per unit; template instances that all declare `Conflicts=web@*.service`
 * cost one glob each.
 */
class AcceptedUnits {
  private readonly names: string[] = [];
  /** Glob → the indexes (ascending) of the accepted units that declare it. */
  private readonly declaring = new Map<string, number[]>();
  /** Glob → the first accepted index whose name it matches (-1: none below `checked`). */
  private readonly firstMatch = new Map<string, { at: number; checked: number }>();

  add(name: string, conflicts: readonly string[]): void {
    const index = this.names.length;
    this.names.push(name);
    for (const glob of new Set(conflicts)) {
      const list = this.declaring.get(glob);
      if (list) list.push(index);
      else this.declaring.set(glob, [index]);
    }
  }

  firstClash(name: string, conflicts: readonly string[]): { name: string } | undefined {
    let at = -1;
    const better = (i: number) => i >= 0 && (at < 0 || i < at);
    for (const [glob, indexes] of this.declaring) {
      if (!better(indexes[0]!) || !globMatch(glob, name)) continue;
      const i = indexes.find(i => this.names[i] !== name) ?? -1;
      if (better(i)) at = i;
    }
    for (const glob of conflicts) {
      const i = this.firstMatching(glob, name);
      if (better(i)) at = i;
    }
    return at < 0 ? undefined : { name: this.names[at]! };
  }

  /** The first accepted index, other than a unit named `except`, whose name `glob` matches; -1 for none. */
  private firstMatching(glob: string, except: string): number {
    let m = this.firstMatch.get(glob);
    if (!m) this.firstMatch.set(glob, (m = { at: -1, checked: 0 }));
    for (; m.at < 0 && m.checked < this.names.length; m.checked++) if (globMatch(glob, this.names[m.checked]!)) m.at = m.checked;
    if (m.at < 0 || this.names[m.at] !== except) return m.at;
    // The remembered match is the unit itself (a name given twice): look past it, without remembering.
    for (let i = m.at + 1; i < this.names.length; i++) if (this.names[i] !== except && globMatch(glob, this.names[i]!)) return i;
    return -1;
  }
}

function describeMetadata(md: ReadonlyMap<string, readonly string[]>): string {
  return [...md].map(([k, vs]) => vs.map(v => `${k}=${v}`).join(' or ')).join(' and ');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
