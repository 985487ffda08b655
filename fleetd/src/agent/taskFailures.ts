/**
 * The agent's record of units whose last task failed (issue 12, item 1): fleet ends its pass at the
 * first failure, so one unit that cannot load held back every unit after it. The agent instead
 * records the failure here, goes on with the other units, and publishes the unit as `failed` with
 * the reason in its state detail until a task of the unit succeeds (the next pass retries it) or
 * the unit is no longer wanted on the machine.
 */
import type { UnitManagerState } from './unitManager';

export class TaskFailures {
  private readonly failures = new Map<string, { hash: string; reason: string }>();

  get size(): number {
    return this.failures.size;
  }

  has(unit: string): boolean {
    return this.failures.has(unit);
  }

  /** `hash`: the content the task was for, when it knew (a load); else the one recorded before. */
  set(unit: string, hash: string | undefined, reason: string): void {
    this.failures.set(unit, { hash: hash ?? this.failures.get(unit)?.hash ?? '', reason });
  }

  /** True when the unit had a failure recorded. */
  clear(unit: string): boolean {
    return this.failures.delete(unit);
  }

  /** Drop the failures of units no longer wanted here (or wanted with other content); returns their names. */
  forget(desired: ReadonlyMap<string, string>): string[] {
    const dropped: string[] = [];
    for (const [name, f] of this.failures) {
      const hash = desired.get(name);
      if (hash !== undefined && (f.hash === '' || hash === f.hash)) continue;
      this.failures.delete(name);
      dropped.push(name);
    }
    return dropped;
  }

  /** Forget everything; returns the units that had no state of their own (never loaded). */
  drain(loaded: ReadonlySet<string>): string[] {
    const neverLoaded = [...this.failures.keys()].filter(n => !loaded.has(n));
    this.failures.clear();
    return neverLoaded;
  }

  /**
   * The manager's states with the failures laid over them: a unit whose task failed shows
   * `failed` with the reason in its detail; one that never loaded gets a state of its own
   * (systemd's load state `error`), so the API and the explorer say why it does not run.
   */
  overlay(states: UnitManagerState[]): UnitManagerState[] {
    if (this.failures.size === 0) return states;
    const out = states.map(s => {
      const f = this.failures.get(s.name);
      return f ? { ...s, activeState: 'failed', subState: 'failed', detail: s.detail ? `${f.reason}; ${s.detail}` : f.reason } : s;
    });
    const known = new Set(states.map(s => s.name));
    for (const [name, f] of this.failures) {
      if (!known.has(name)) out.push({ name, hash: f.hash, loadState: 'error', activeState: 'failed', subState: 'failed', detail: f.reason });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
