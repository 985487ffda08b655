/**
 * fleet's agent for one machine (fleet-reference §5.7): keeps the machine's presence in the
 * registry, reconciles what the registry wants on this machine with what the UnitManager runs
 * (read → desiredUnitsForMachine → planMachine → apply, serially; unlike fleet, a failed task
 * ends only its own unit's part of the pass: the unit reports `failed` with the reason in its state
 * detail and the next pass retries it, so one bad unit never holds back the others), publishes unit states and "launched" heartbeats, and on a clean stop purges: stops and
 * unloads every unit, removes their states and releases the machine (on etcd the states and
 * heartbeats live on the machine's presence lease, so the release removes them all at once).
 */
import { FLEET_VERSION } from '../../../protocol/src/version';
import { desiredUnitsForMachine, planMachine, planPurge, type CurrentUnit, type MachineTask, type MachineUnitState } from '../../../scheduler/src/planMachine';
import { runLoop, type Loop } from '../loop';
import {
  MachineExistsError,
  RegistryUnavailableError,
  type Disposable,
  type MachinePresence,
  type MachineRecord,
  type AgentRegistry,
} from '../../../registry/src/registry';
import { errorMessage, type Log } from '../../../protocol/src/log';
import { heartbeatInterval } from './passHelpers';
import { StatePublisher } from './statePublisher';
import { TaskFailures } from './taskFailures';
import type { UnitManager, UnitManagerState } from './unitManager';

export interface AgentOptions {
  registry: AgentRegistry;
  machine: { id: string; publicIP: string; metadata: Record<string, string> };
  unitManager: UnitManager;
  /** fleet's agent_ttl: presence, states and launched heartbeats expire after it. Default 30 s. */
  ttlMs?: number | undefined;
  /** The reconcile period. Default 5 s (fleet's fixed agent interval). */
  intervalMs?: number | undefined;
  /** Advertised in the machine record when the agent serves a journal. */
  journalUrl?: string | undefined;
  log?: Log | undefined;
}

export const AGENT_VERSION = FLEET_VERSION;
export { heartbeatInterval } from './passHelpers';

/** How often states and launched heartbeats are rewritten when the registry keeps them alive with the presence. */
const SAFETY_REFRESH_MS = 60_000;

export class Agent {
  private readonly registry: AgentRegistry;
  private readonly manager: UnitManager;
  private readonly ttlMs: number;
  private readonly intervalMs: number;
  private readonly log: Log;
  private readonly record: MachineRecord;
  /** What this agent last did with each unit (fleet's in-memory cache; lost on restart). */
  private readonly cache = new Map<string, Exclude<MachineUnitState, 'inactive'>>();
  /** Writes the unit states to the registry, on change. */
  private readonly publisher: StatePublisher;
  private readonly reported = new Set<string>();
  /** Units whose last task failed: published as `failed` with the reason until a task of theirs succeeds. */
  private readonly failures = new TaskFailures();
  private readonly abort = new AbortController();
  private readonly disposables: Disposable[] = [];
  private presence: MachinePresence | undefined;
  private loop: Loop | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeats = 0;
  /** Set when a heartbeat failed: the next one rewrites every state and launched heartbeat. */
  private refreshAll = false;
  private stopped: Promise<void> | undefined;
  private passes: Promise<void> = Promise.resolve();

  constructor(options: AgentOptions) {
    this.registry = options.registry;
    this.manager = options.unitManager;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.intervalMs = options.intervalMs ?? 5_000;
    this.log = options.log ?? (() => {});
    if (!(this.ttlMs > 0)) throw new RangeError(`agent ttlMs must be positive, got ${this.ttlMs}`);
    this.record = {
      id: options.machine.id,
      publicIP: options.machine.publicIP,
      metadata: { ...options.machine.metadata },
      version: AGENT_VERSION,
      ...(options.journalUrl ? { journalUrl: options.journalUrl } : {}),
    };
    this.publisher = new StatePublisher({
      registry: this.registry,
      machineId: this.record.id,
      ttlMs: this.ttlMs,
      states: () => this.states(),
      skip: name => this.abort.signal.aborted && !this.cache.has(name) && !this.failures.has(name),
      report: (level, text) => this.reportOnce(level, text),
    });
  }

  get machineId(): string {
    return this.record.id;
  }

  /** Register the machine (retrying while a previous instance's presence expires), then start the loops. */
  async start(): Promise<void> {
    this.presence = await this.register();
    this.disposables.push(this.registry.watchMachine(this.machineId, () => this.loop?.trigger()));
    this.disposables.push(this.manager.onChange(name => this.publisher.changed(name)));
    this.loop = runLoop({
      intervalMs: this.intervalMs,
      signal: this.abort.signal,
      reconcile: () => this.reconcile(),
      // Hints arrive one per scheduled unit: bursts coalesce for 100 ms, and after a slow pass
      // (starting many processes) the next waits half as long again. A pass reads only this
      // machine's units, so a short gap is cheap for etcd; a long one (fleetd used 3× the pass,
      // up to the interval) left scheduled units waiting seconds for the next pass.
      idleRatio: 0.5,
      minGapMs: 100,
      onError: err => this.log('error', `reconcile failed: ${errorMessage(err)}`),
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), heartbeatInterval(this.ttlMs));
    this.heartbeatTimer.unref();
  }

  /** Ask for a reconcile pass soon. */
  trigger(): void {
    this.loop?.trigger();
  }

  private async register(): Promise<MachinePresence> {
    // fleet retries a taken machine ID with backoff (1 s doubling, capped at 60 s) until the old key expires.
    const giveUpAt = Date.now() + 2 * this.ttlMs + 5_000;
    let delay = 1_000;
    for (;;) {
      try {
        return await this.registry.registerMachine(this.record, this.ttlMs);
      } catch (err) {
        if (!(err instanceof MachineExistsError) || this.abort.signal.aborted) throw err;
        if (Date.now() + delay > giveUpAt) {
          throw new Error(
            `machine ${this.machineId} is still registered by another live fleetd after ${Math.round((2 * this.ttlMs + 5_000) / 1000)} s; ` +
              'stop the other fleetd or give this machine a different ID',
          );
        }
        this.log(
          'warn',
          `machine ${this.machineId} is already registered (a previous fleetd whose presence has not expired yet?); retrying in ${delay / 1000} s`,
        );
        await new Promise(r => setTimeout(r, delay));
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }

  // ------------------------------------------------------------------ reconcile

  /** One pass: read, plan, apply; then publish every state. Safe to run repeatedly; passes never overlap. */
  reconcile(): Promise<void> {
    const pass = this.passes.then(() => this.reconcileOnce());
    this.passes = pass.catch(() => undefined);
    return pass;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.publisher.passStarted();
    try {
      await this.pass();
    } finally {
      this.publisher.passEnded();
    }
  }

  private async pass(): Promise<void> {
    // Only this machine's units and the global ones: at a thousand units on ten machines, every
    // agent reading every unit on every pass is what saturated etcd.
    const started = performance.now();
    const view = await this.registry.machineView(this.machineId);
    const read = performance.now();
    const { units, dropped } = desiredUnitsForMachine(view.units, name => view.schedule.get(name)?.machineId, {
      id: this.machineId,
      metadata: view.machine?.metadata ?? this.record.metadata,
    });
    for (const d of dropped) this.reportOnce('info', d.message);
    const current: CurrentUnit[] = (await this.manager.states()).map(s => ({ name: s.name, hash: s.hash, state: this.cache.get(s.name) ?? 'inactive' }));
    const tasks = planMachine(units, current);
    for (const n of this.failures.forget(new Map(units.map(u => [u.name, u.hash])))) this.publisher.changed(n);
    const planned = performance.now();
    await this.apply(tasks);
    const applied = performance.now();
    await this.publisher.publishAll();
    if (tasks.length > 0) {
      const ms = (a: number, b: number) => Math.round(b - a);
      this.log(
        'debug',
        `pass done in ${ms(started, performance.now())} ms: read ${view.units.length} unit(s) in ${ms(started, read)} ms, ` +
          `${tasks.length} task(s) in ${ms(planned, applied)} ms, publish ${ms(applied, performance.now())} ms`,
      );
    }
  }

  private async apply(tasks: readonly MachineTask[]): Promise<void> {
    // The registry writes of started units (state, then launched heartbeat) go out as one batch
    // (a transaction per 128 writes) before any other kind of task and at the end of the pass.
    // At a hundred units per machine, a round trip per unit was the pass.
    const started: { unit: string; what: string; reason: string }[] = [];
    const flush = async (): Promise<void> => {
      const batch = started.splice(0);
      if (batch.length === 0) return;
      // Let the processes just spawned report it (Node emits 'spawn' on the next tick), so their
      // state goes out as active/running with the heartbeat, not as activating and again later.
      await new Promise(resolve => setImmediate(resolve));
      const t0 = performance.now();
      try {
        await this.publisher.announceStarted(batch.map(t => t.unit));
        this.log('debug', `published ${batch.length} started unit(s) in ${Math.round(performance.now() - t0)} ms`);
      } catch (err) {
        const t = batch[0]!;
        throw new Error(`${t.what}${batch.length > 1 ? ` (and ${batch.length - 1} other start(s))` : ''} failed (${t.reason}): ${errorMessage(err)}`);
      }
      for (const t of batch) this.log('info', `completed task: ${t.what} (${t.reason})`);
    };
    /** Units whose task failed in this pass: their later tasks wait for the next pass. */
    const failed = new Set<string>();
    for (const task of tasks) {
      const what = task.kind === 'reloadUnitFiles' ? 'reloadUnitFiles' : `${task.kind} ${task.unit}`;
      if (task.kind !== 'reloadUnitFiles' && failed.has(task.unit)) continue;
      if (task.kind !== 'start' && task.kind !== 'load') await flush();
      try {
        await this.run(task);
        if (task.kind !== 'reloadUnitFiles') this.clearFailure(task.unit);
        if (task.kind === 'start') started.push({ unit: task.unit, what, reason: task.reason });
        else this.log(task.kind === 'reloadUnitFiles' ? 'debug' : 'info', `completed task: ${what} (${task.reason})`);
      } catch (err) {
        const reason = `${what} failed (${task.reason}): ${errorMessage(err)}`;
        // The registry unreachable, or a failed daemon-reload, concern every unit: end the pass
        // (fleet's behaviour), the next one retries.
        if (err instanceof RegistryUnavailableError || task.kind === 'reloadUnitFiles') {
          await flush().catch(() => undefined);
          throw new Error(reason);
        }
        // fleet ends the pass at the first failure, so one unit that cannot load held back every
        // unit after it on the machine (and a global one, the whole cluster). Here the unit
        // reports failed with the reason and the pass goes on; the next pass retries it.
        failed.add(task.unit);
        this.failures.set(task.unit, 'hash' in task ? task.hash : undefined, reason);
        this.reportOnce('error', reason);
        this.publisher.changed(task.unit);
      }
    }
    await flush();
  }

  private clearFailure(unit: string): void {
    if (this.failures.clear(unit)) this.publisher.changed(unit);
  }

  /** The manager's states, with this agent's task failures laid over them. */
  private async states(): Promise<UnitManagerState[]> {
    return this.failures.overlay(await this.manager.states());
  }

  private async run(task: MachineTask): Promise<void> {
    const id = this.machineId;
    switch (task.kind) {
      case 'load':
        await this.manager.load(task.unit, task.options, task.hash);
        this.cache.set(task.unit, 'loaded');
        return;
      case 'unload':
        await this.registry.clearLaunched(task.unit, id);
        await this.manager.unload(task.unit);
        this.cache.delete(task.unit);
        await this.publisher.remove(task.unit);
        return;
      case 'reloadUnitFiles':
        await this.manager.reloadUnitFiles();
        return;
      case 'start':
        await this.manager.start(task.unit);
        this.cache.set(task.unit, 'launched');
        // Its state and launched heartbeat are written by apply() (announceStarted), batched.
        return;
      case 'stop':
        await this.registry.clearLaunched(task.unit, id);
        await this.manager.stop(task.unit);
        this.cache.set(task.unit, 'loaded');
        return;
    }
  }

  /**
   * Refresh everything that expires: presence, states, launched heartbeats. When the registry
   * ties states and heartbeats to the presence lease, they are rewritten only once a minute (a
   * safety net after a long etcd outage), not on every heartbeat: at a thousand units the
   * rewrite storm, not the work, is what limits fleet.
   */
  private async heartbeat(): Promise<void> {
    try {
      await this.presence?.update(this.record);
      this.heartbeats++;
      const everyBeats = Math.max(1, Math.round(SAFETY_REFRESH_MS / heartbeatInterval(this.ttlMs)));
      // After a failed heartbeat the presence lease may have been lost and re-granted, taking
      // the states and heartbeats written on it along: rewrite them all now, not a minute later.
      if (this.registry.ephemeralFollowsPresence && this.heartbeats % everyBeats !== 0 && !this.refreshAll) return;
      this.refreshAll = true;
      const launched = [...this.cache].filter(([, state]) => state === 'launched').map(([name]) => name);
      await this.publisher.publishAll(true, launched);
      this.refreshAll = false;
    } catch (err) {
      this.refreshAll = true;
      this.log('warn', `heartbeat failed (will retry): ${errorMessage(err)}`);
    }
  }

  private reportOnce(level: 'info' | 'warn' | 'error', text: string): void {
    if (this.reported.has(text)) return;
    if (this.reported.size >= 1000) this.reported.clear(); // bounded; a repeat is logged again at worst
    this.reported.add(text);
    this.log(level, text);
  }

  // ------------------------------------------------------------------ shutdown

  /** fleet's graceful shutdown: purge every unit (stop, unload, remove state), then release the machine. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.abort.abort();
    clearInterval(this.heartbeatTimer);
    this.publisher.close();
    for (const d of this.disposables.splice(0)) d.dispose();
    const t0 = performance.now();
    this.log('debug', 'stopping: waiting for the pass in progress');
    await this.loop?.done;
    await this.passes;
    await this.publisher.idle();
    const t1 = performance.now();
    this.log('debug', `stopping: purging (the last pass took ${Math.round(t1 - t0)} ms to finish)`);
    const states = await this.manager.states();
    const tasks = planPurge(states.map(s => ({ name: s.name, hash: s.hash, state: this.cache.get(s.name) ?? 'inactive' })));
    const errors: string[] = [];
    // When the states and heartbeats live on the machine's presence (etcd: its lease), releasing
    // the presence below removes them all in one request. Otherwise each unit's are removed here.
    // (One request per unit made a 100-unit machine take 15 s to stop, with etcd timing out.)
    const perUnitBookkeeping = !this.registry.ephemeralFollowsPresence;
    // Stop units in parallel: each may take up to its TimeoutStopSec.
    // The units are stopped even when the registry is unreachable; only the bookkeeping may fail.
    await Promise.all(
      tasks.map(async t => {
        if (t.kind !== 'unload') return;
        const attempt = async (what: string, fn: () => Promise<unknown>) => {
          try {
            await fn();
          } catch (err) {
            errors.push(`${what} ${t.unit}: ${errorMessage(err)}`);
          }
        };
        if (perUnitBookkeeping) await attempt('clearing the launched heartbeat of', () => this.registry.clearLaunched(t.unit, this.machineId));
        await attempt('unloading', () => this.manager.unload(t.unit));
        this.cache.delete(t.unit);
        this.publisher.forget(t.unit);
        if (perUnitBookkeeping) await attempt('removing the state of', () => this.registry.removeUnitState(t.unit, this.machineId));
      }),
    );
    // Units that never loaded have no process to stop, only the failed state published for them.
    const neverLoaded = this.failures.drain(new Set(states.map(s => s.name)));
    if (perUnitBookkeeping) {
      for (const n of neverLoaded) {
        try {
          await this.registry.removeUnitState(n, this.machineId);
        } catch (err) {
          errors.push(`removing the state of ${n}: ${errorMessage(err)}`);
        }
      }
    }
    const t2 = performance.now();
    try {
      await this.manager.close();
    } catch (err) {
      errors.push(`unit manager: ${errorMessage(err)}`);
    }
    try {
      await this.presence?.release();
    } catch (err) {
      errors.push(`releasing machine ${this.machineId}: ${errorMessage(err)}`);
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    this.log(
      'info',
      `purged ${tasks.length} unit(s) in ${ms(t0, performance.now())} ms (last pass ${ms(t0, t1)} ms, units ${ms(t1, t2)} ms, release ${ms(t2, performance.now())} ms)`,
    );
    if (errors.length > 0) this.log('warn', `shutdown incomplete: ${errors.join('; ')}`);
  }
}
