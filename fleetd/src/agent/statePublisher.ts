/**
 * The agent's state publisher: writes its machine's unit states (and launched heartbeats) to the
 * registry on change only, in batches. A state change during a pass waits for the pass's end (so
 * a unit loaded and started in one pass is written once, running), at most HOLD_STATES_MS;
 * batches go out one after another, so a unit's writes stay in order.
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
  private publishing: Promise<void> = Promise.resolve();
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
  async publishAll(force = false, launched: readonly string[] = []): Promise<void> {
    const states = (await this.o.states()).filter(s => force || this.published.get(s.name) !== publishedKey(s));
    await this.write(states, launched);
  }

  /** Started units: their states with (never after) their launched heartbeats (fleetctl start reads the state right after). */
  async announceStarted(units: readonly string[]): Promise<void> {
    const byName = new Map((await this.o.states()).map(s => [s.name, s]));
    const states = units.map(u => byName.get(u)).filter((s): s is UnitManagerState => s !== undefined);
    await this.write(states, units);
  }

  /** The unit's state was removed from the registry (or will be with the machine): forget what was published. */
  forget(name: string): void {
    this.published.delete(name);
  }

  /** Resolves once the batches queued so far are written. */
  idle(): Promise<void> {
    return this.publishing;
  }

  /** No more held batches (the agent is stopping; what is queued still goes out). */
  close(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  private flush(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.publishing = this.publishing.then(async () => {
      // Everything that changed meanwhile goes out as one batch; batches one after another, so a
      // unit's writes stay in order.
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
