/**
 * systemd's dependencies between the units of one machine (systemd.unit(5), [Unit] section), as
 * pure decisions: which jobs a start or a stop pulls in (a "transaction"), in which order jobs may
 * run, what a failed start job takes down with it, and which units BindsTo= stops when a unit goes
 * inactive. The process unit manager's job queue (jobs.ts) applies them. No I/O, no clock.
 *
 * What each directive does here, as systemd.unit(5) describes it:
 * - Requires=B: starting A starts B; if B's start fails while A's start waits for it (A After=B),
 *   A's start fails ("Dependency failed"); stopping B (a stop job) stops A. B exiting on its own
 *   does not stop A (that is BindsTo=).
 * - Requisite=B: like Requires=, but B is not started: A's start fails unless B is active.
 * - Wants=B: starting A starts B; B's failure or absence changes nothing for A.
 * - BindsTo=B: like Requires=, and whenever B is inactive or failed (for any reason, also when its
 *   process exits) while A is active, A is stopped; with After=B, A only starts while B is active.
 * - PartOf=B: stopping B stops A (one way; starting B does not start A).
 * - Conflicts=B: starting A stops B, starting B stops A; both in one start fails it.
 * - After=/Before=: a start job waits for the jobs of the units it comes after; stop jobs go in
 *   the reverse order (systemd's job_compare: a stop job always goes first).
 * A dependency on a unit that is not loaded on this machine behaves as on a unit that does not
 * exist: Requires=/Requisite=/BindsTo= fail the start ("Unit B not found"), the others are ignored.
 */
import { validateUnitName } from '../../../unitfile/src/unitName';

export const DEPENDENCY_KEYS = ['Requires', 'Requisite', 'Wants', 'BindsTo', 'PartOf', 'Conflicts', 'After', 'Before'] as const;
export type DependencyKey = (typeof DEPENDENCY_KEYS)[number];
export type UnitDeps = Record<DependencyKey, string[]>;

export function emptyDeps(): UnitDeps {
  return { Requires: [], Requisite: [], Wants: [], BindsTo: [], PartOf: [], Conflicts: [], After: [], Before: [] };
}

export function isDependencyKey(key: string): key is DependencyKey {
  return (DEPENDENCY_KEYS as readonly string[]).includes(key);
}

/**
 * One dependency line's names (space-separated, specifiers already expanded). A name systemd
 * cannot use is dropped with a note saying why and what to write instead (systemd logs
 * "Failed to add dependency on …, ignoring" and ignores it too).
 */
export function parseDependencyValue(key: DependencyKey, value: string, self: string): { names: string[]; notes: string[] } {
  const names: string[] = [];
  const notes: string[] = [];
  for (const name of value.split(/\s+/).filter(Boolean)) {
    if (/[*?[\]]/.test(name)) {
      notes.push(
        `${key}=${name} is a glob; systemd's dependencies name units, not patterns (globs belong to [X-Fleet] Conflicts=), so it is ignored; list each unit`,
      );
    } else if (/@\.[^.]+$/.test(name)) {
      notes.push(`${key}=${name} is a template, which cannot run, so the dependency is ignored; name an instance such as ${name.replace('@.', '@1.')}`);
    } else if (validateUnitName(name) !== undefined) {
      notes.push(
        `${key}=${name} is not a valid unit name (${validateUnitName(name)}), so the dependency is ignored; write a full name such as ${name.includes('.') ? 'web.service' : `${name}.service`}`,
      );
    } else if (name !== self && !names.includes(name)) {
      names.push(name);
    }
  }
  return { names, notes };
}

// ------------------------------------------------------------------------------------------------
// The machine as the planner sees it

export type Activity = 'active' | 'activating' | 'deactivating' | 'inactive' | 'failed';
export type JobType = 'start' | 'stop';

export interface PlanUnit {
  name: string;
  deps: UnitDeps;
  state: Activity;
  /** The job the unit has queued or running, if any. */
  job?: JobType;
}

export type Machine = ReadonlyMap<string, PlanUnit>;

export interface Job {
  unit: string;
  type: JobType;
}

export type Transaction = { ok: true; jobs: Job[]; notes: { unit: string; text: string }[] } | { ok: false; error: string };

/** Units whose `key` names `name` (the inverse dependency: RequiredBy, BoundBy, ConsistsOf, ConflictedBy). */
export function dependents(machine: Machine, name: string, key: DependencyKey): string[] {
  return [...machine.values()]
    .filter(u => u.deps[key].includes(name))
    .map(u => u.name)
    .sort();
}

/** `a` is ordered after `b` (a After=b or b Before=a). */
export function orderedAfter(machine: Machine, a: string, b: string): boolean {
  return (machine.get(a)?.deps.After.includes(b) ?? false) || (machine.get(b)?.deps.Before.includes(a) ?? false);
}

/**
 * systemd's job_compare as job_is_runnable applies it: `job` waits for `other` when the job is a
 * start ordered after `other`'s unit (whatever `other` is), or when `other` is a stop of a unit
 * ordered after the job's unit (stops go in reverse order, and always before starts).
 */
export function waitsFor(machine: Machine, job: Job, other: Job): boolean {
  if (job.unit === other.unit) return false;
  if (orderedAfter(machine, job.unit, other.unit)) return job.type === 'start';
  if (orderedAfter(machine, other.unit, job.unit)) return other.type === 'stop';
  return false;
}

/** A start of `anchor` with everything it pulls in, as systemd builds the transaction. */
export function planStart(machine: Machine, anchor: string): Transaction {
  if (!machine.has(anchor)) return { ok: false, error: `Unit ${anchor} not found.` };
  // essential: required by the anchor (a failure there fails the whole start); else only wanted.
  const starts = new Map<string, { essential: boolean; via: string }>();
  const notes: { unit: string; text: string }[] = [];
  const wantedDrops = new Set<string>();
  const add = (name: string, essential: boolean, via: string): string | undefined => {
    const seen = starts.get(name);
    if (seen && (seen.essential || !essential)) return undefined;
    starts.set(name, { essential, via });
    const u = machine.get(name)!;
    for (const key of ['Requires', 'BindsTo', 'Requisite'] as const) {
      for (const dep of u.deps[key]) {
        if (!machine.has(dep)) {
          const why = `Unit ${dep} not found (${name} has ${key}=${dep}; it is not loaded on this machine).`;
          if (essential) return why;
          wantedDrops.add(name);
          notes.push({ unit: name, text: `not started with ${anchor}: ${why}` });
          continue;
        }
        if (key === 'Requisite') continue; // verified when the start runs, never started
        const err = add(dep, essential, `${key}= of ${name}`);
        if (err) return err;
      }
    }
    for (const dep of u.deps.Wants) if (machine.has(dep) && !starts.has(dep)) add(dep, false, `Wants= of ${name}`);
    return undefined;
  };
  const err = add(anchor, true, 'requested');
  if (err) return { ok: false, error: err };
  for (const name of wantedDrops) starts.delete(name);

  // Conflicts=: every unit a start conflicts with (either way) gets a stop job.
  const stops = new Set<string>();
  for (const name of [...starts.keys()].sort()) {
    const u = machine.get(name)!;
    const conflicting = new Set([...u.deps.Conflicts.filter(c => machine.has(c)), ...dependents(machine, name, 'Conflicts')]);
    for (const c of [...conflicting].sort()) {
      const other = starts.get(c);
      if (other) {
        if (!other.essential) {
          starts.delete(c);
          notes.push({ unit: c, text: `not started with ${anchor}: it conflicts with ${name} (Conflicts=)` });
          continue;
        }
        return {
          ok: false,
          error: `Transaction contains conflicting jobs 'start' and 'stop' for ${c}: it is required by ${anchor} and conflicts with ${name} (Conflicts=); remove one of the two dependencies`,
        };
      }
      for (const s of stopClosure(machine, c)) stops.add(s);
    }
  }
  for (const s of stops) {
    if (starts.get(s)?.essential)
      return {
        ok: false,
        error: `Transaction contains conflicting jobs 'start' and 'stop' for ${s} (a Conflicts= stops a unit that ${anchor} requires); remove one of the two dependencies`,
      };
    if (starts.delete(s)) notes.push({ unit: s, text: `not started with ${anchor}: a unit it conflicts with starts` });
  }

  let jobs: Job[] = [
    ...[...stops].sort().map(unit => ({ unit, type: 'stop' as const })),
    ...[...starts.keys()].map(unit => ({ unit, type: 'start' as const })),
  ];
  // Ordering cycles: systemd deletes a job that does not matter to the anchor, or fails the start.
  for (let round = 0; round < jobs.length; round++) {
    const cycle = findCycle(machine, jobs);
    if (!cycle) break;
    const victim = cycle.find(j => j.type === 'start' && j.unit !== anchor && !starts.get(j.unit)?.essential);
    const described = describeCycle(cycle);
    if (!victim) {
      return { ok: false, error: `Transaction order is cyclic: ${described} (After=/Before=); remove one of these orderings` };
    }
    jobs = jobs.filter(j => j !== victim);
    notes.push({ unit: victim.unit, text: `Job ${victim.unit}/start deleted to break ordering cycle starting with ${anchor}/start: ${described}` });
  }
  return { ok: true, jobs, notes };
}

/** A stop of `anchor` and of every unit that Requires=, Requisite=, BindsTo= or is PartOf= it, transitively. */
export function planStop(machine: Machine, anchor: string): Job[] {
  return stopClosure(machine, anchor).map(unit => ({ unit, type: 'stop' as const }));
}

function stopClosure(machine: Machine, anchor: string): string[] {
  const out = [anchor];
  for (let i = 0; i < out.length; i++) {
    for (const key of ['Requires', 'Requisite', 'BindsTo', 'PartOf'] as const) {
      for (const d of dependents(machine, out[i]!, key)) {
        const u = machine.get(d)!;
        const running = u.state === 'active' || u.state === 'activating' || u.job === 'start';
        if (running && !out.includes(d)) out.push(d);
      }
    }
  }
  return out;
}

/**
 * BindsTo= when `name` is inactive or failed and has no job: every active unit bound to it that
 * has no job of its own is stopped (systemd's unit_check_binds_to).
 */
export function boundToInactive(machine: Machine, name: string): string[] {
  const u = machine.get(name);
  if (!u || u.job || (u.state !== 'inactive' && u.state !== 'failed')) return [];
  return dependents(machine, name, 'BindsTo').filter(d => {
    const b = machine.get(d)!;
    return b.state === 'active' && !b.job;
  });
}

/** Pending start jobs that fail when `failed`'s start job fails (Requires=, Requisite=, BindsTo=; transitively). */
export function failedDependents(machine: Machine, failed: string): string[] {
  const out: string[] = [];
  const queue = [failed];
  for (let i = 0; i < queue.length; i++) {
    for (const key of ['Requires', 'Requisite', 'BindsTo'] as const) {
      for (const d of dependents(machine, queue[i]!, key)) {
        if (machine.get(d)?.job === 'start' && !out.includes(d)) {
          out.push(d);
          queue.push(d);
        }
      }
    }
  }
  return out;
}

/**
 * Whether a start job that is next in line may run: undefined to go, 'wait' while a Requisite=
 * unit is still activating, else why it fails (Requisite= not active; BindsTo= with After= on an
 * inactive unit).
 */
export function startCheck(machine: Machine, name: string): undefined | 'wait' | string {
  const u = machine.get(name);
  if (!u) return `Unit ${name} not found.`;
  for (const r of u.deps.Requisite) {
    const s = machine.get(r)?.state;
    if (s === 'activating') return 'wait';
    if (s !== 'active') return `Dependency failed: Requisite=${r} is not active (${s ?? 'not loaded on this machine'}); start ${r} first`;
  }
  for (const b of u.deps.BindsTo) {
    if (!orderedAfter(machine, name, b)) continue;
    const s = machine.get(b)?.state;
    if (s !== 'active') return `Dependency failed: ${name} is bound to inactive unit ${b} (BindsTo= with After=)`;
  }
  return undefined;
}

/**
 * The queued jobs that may run now, in queue order: none of the jobs they wait for (running or
 * queued) is left. When nothing runs and every queued job waits (an ordering cycle between jobs of
 * separate starts, which systemd would leave waiting forever), the first queued job runs and
 * `cycle` names the loop, so one bad ordering never blocks the machine's other units.
 */
export function runnableJobs(machine: Machine, queued: readonly Job[], running: readonly Job[]): { jobs: Job[]; cycle?: string } {
  const all = [...running, ...queued];
  const jobs = queued.filter(j => !all.some(o => o !== j && waitsFor(machine, j, o)));
  if (jobs.length > 0 || running.length > 0 || queued.length === 0) return { jobs };
  const cycle = findCycle(machine, queued);
  return { jobs: [queued[0]!], cycle: cycle ? describeCycle(cycle) : `${queued.map(j => `${j.unit}/${j.type}`).join(', ')} wait for each other` };
}

/** A cycle in the waits-for relation among `jobs`, as the list of jobs along it. */
export function findCycle(machine: Machine, jobs: readonly Job[]): Job[] | undefined {
  const color = new Map<Job, 'grey' | 'black'>();
  const stack: Job[] = [];
  const visit = (j: Job): Job[] | undefined => {
    color.set(j, 'grey');
    stack.push(j);
    for (const o of jobs) {
      if (!waitsFor(machine, j, o)) continue;
      if (color.get(o) === 'grey') return stack.slice(stack.indexOf(o));
      if (!color.has(o)) {
        const found = visit(o);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(j, 'black');
    return undefined;
  };
  for (const j of jobs) {
    if (color.has(j)) continue;
    const found = visit(j);
    if (found) return found;
  }
  return undefined;
}

function describeCycle(cycle: readonly Job[]): string {
  return [...cycle, cycle[0]!].map(j => `${j.unit}/${j.type}`).join(' → ');
}
