/**
 * The agent's state publisher: writes its machine's unit states (and launched heartbeats) to the
 * registry on change only, in batches. A state change during a pass waits for the pass's end (so
 * a unit loaded and started in one pass is written once, running), at most HOLD_STATES_MS.
 *
 * Every write (changed states, a pass's or a heartbeat's full publish, started units, a removal)
 * goes through one queue: one write in flight per agent, and each reads the states when its turn
 * comes. So etcd applies a unit's states in the order they happened, and what the publisher
 * remembers as published is what etcd last got. (Two writes of the same unit in flight at once
 * could be applied in one order and answered in the other: the registry kept the older state
 * while the publisher believed the newer one written, and nothing rewrote it until the minute's
 * safety refresh.)
 */
import type { AgentRegistry } from '../../../registry/src/registry';
import { errorMessage } from '../../../protocol/src/log';
import { inParallel } from '../../../registry/src/common';
import { publishedKey } from './passHelpers';
import type { UnitManagerState } from './unitManager';

/** Longest a state change waits for the pass in progress to publish it. */
const HOLD_STATES_MS = 500;

/** State removals in flight at once (rare: units that went away). */
const REMOVE_CONCURRENCY = 8;

export interface StatePublisherOptions {
  registry: AgentRegistry;
  machineId: string;
  ttlMs: number;
  /** The states to publish: the unit manager's, with the agent's task failures laid over them. */
  states(): Promise<UnitManagerState[]>;
  /** Whether a queued unit is left out (the agent is stopping and no longer knows the unit). */
  skip(name: string): boolean;
  /** Logs a problem once (the agent's reportOnce). */
  report(level: 'warn', text: string): void;
}

export class StatePublisher {
  /** Last state published per unit (to publish on change only). */
  private readonly published = new Map<string, string>();
  private readonly queue = new Set<string>();
  /** The writes, one after another (serial). */
  private writes: Promise<void> = Promise.resolve();
  /** While a pass runs, state changes wait for it: it publishes them at its end, in one batch. */
  private passRunning = false;
  /** Bounds that wait: a long pass (a unit slow to stop) must not hold back other units' states. */
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StatePublisherOptions) {}

  /** A unit's state changed (or it went away): publish it soon. */
  changed(name: string): void {
    this.queue.add(name);
    // A pass in progress publishes every changed state at its end (a unit loaded and started in
    // the same pass is written once, running, instead of loaded, activating and running).
    if (!this.passRunning) this.flush();
    else this.holdTimer ??= setTimeout(() => this.flush(), HOLD_STATES_MS);
  }

  passStarted(): void {
    this.passRunning = true;
  }

  /** What changed during the pass and was not published by it (a failed pass, a unit unloaded) goes out now. */
  passEnded(): void {
    this.passRunning = false;
    if (this.queue.size > 0) this.flush();
  }

  /** Every state that changed since it was last written (all of them when `force`), with `launched` heartbeats, as one batch. */
  publishAll(force = false, launched: readonly string[] = []): Promise<void> {
    return this.serial(async () => {
      const states = (await this.o.states()).filter(s => force || this.published.get(s.name) !== publishedKey(s));
      await this.write(states, launched);
    });
  }

  /** Started units: their states with (never after) their launched heartbeats (fleetctl start reads the state right after). */
  announceStarted(units: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const byName = new Map((await this.o.states()).map(s => [s.name, s]));
      const states = units.map(u => byName.get(u)).filter((s): s is UnitManagerState => s !== undefined);
      await this.write(states, units);
    });
  }

  /** Removes the unit's state from the registry, after every write queued before (so none of them brings it back). */
  remove(name: string): Promise<void> {
    return this.serial(async () => {
      this.published.delete(name);
      await this.o.registry.removeUnitState(name, this.o.machineId);
    });
  }

  /** The unit's state goes away with the machine (its presence): forget what was published. */
  forget(name: string): void {
    this.published.delete(name);
  }

  /** Resolves once the writes queued so far are done. */
  idle(): Promise<void> {
    return this.writes;
  }

  /** No more held batches (the agent is stopping; what is queued still goes out). */
  close(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private flush(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    void this.serial(async () => {
      // Everything that changed meanwhile goes out as one batch.
      const names = [...this.queue];
      this.queue.clear();
      if (names.length === 0) return;
      const byName = new Map((await this.o.states()).map(s => [s.name, s]));
      const changed: UnitManagerState[] = [];
      const gone: string[] = [];
      for (const n of names) {
        if (this.o.skip(n)) continue;
        const s = byName.get(n);
        if (s) {
          if (this.published.get(n) !== publishedKey(s)) changed.push(s);
        } else if (this.published.delete(n)) {
          gone.push(n);
        }
      }
      try {
        await this.write(changed, []);
      } catch (err) {
        this.o.report('warn', `could not publish the state of ${changed.map(s => s.name).join(', ')}: ${errorMessage(err)}`);
      }
      await inParallel(gone, REMOVE_CONCURRENCY, async n => {
        try {
          await this.o.registry.removeUnitState(n, this.o.machineId);
        } catch (err) {
          this.o.report('warn', `could not remove the state of ${n}: ${errorMessage(err)}`);
        }
      });
    });
  }

  /** Runs `job` once every write queued before it is done: one write in flight. Its result or error is the caller's; the queue goes on. */
  private serial(job: () => Promise<void>): Promise<void> {
    const run = this.writes.then(job);
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** One registry batch: `states` (remembered as published once written) and launched heartbeats. */
  private async write(states: readonly UnitManagerState[], launched: readonly string[]): Promise<void> {
    if (states.length === 0 && launched.length === 0) return;
    await this.o.registry.publishUnits(
      this.o.machineId,
      {
        states: states.map(s => ({
          name: s.name,
          machineId: this.o.machineId,
          hash: s.hash,
          loadState: s.loadState,
          activeState: s.activeState,
          subState: s.subState,
          ...(s.detail ? { detail: s.detail } : {}),
        })),
        launched,
      },
      this.o.ttlMs,
    );
    // Remembered only once written: a failed write is retried on the next change, pass or heartbeat.
    for (const s of states) this.published.set(s.name, publishedKey(s));
  }
}
