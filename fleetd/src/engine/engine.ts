/**
 * fleetd's engine role: compete for the engine lease, and while leader run the level-triggered
 * reconcile loop (at start, every `intervalMs`, and on registry hints about units, the schedule
 * and machines). A follower retries the lease every interval. When the lease is lost the engine
 * stops writing at once (the pass in progress checks before every write) and goes back to
 * competing. `stop()` ends the loop and releases the lease, so another engine takes over at once.
 *
 * A machine that disappears from the registry is given a short grace period before its units
 * are moved (fleet-reference §6: no teardown on a brief registry loss without a grace policy):
 * a presence lease that etcd expired under load is re-granted within a second or two, and
 * moving a hundred units for that would churn the cluster. Meanwhile the machine keeps its units
 * but receives no new ones. The decision is scheduler/src/machineGrace.ts; the engine keeps its
 * memory between passes and runs a pass when a grace period ends.
 */
import type { Disposable, Leadership, MachineRecord, EngineRegistry } from '../../../registry/src/registry';
import { machinesWithGrace, RequirementsCache, type SeenMachine } from '../../../scheduler/src';
import { runLoop, type Loop } from '../loop';
import { errorMessage, type Log } from '../../../protocol/src/log';
import { ActionsFailedError, reconcileOnce, type PassResult } from './reconcile';

export interface EngineOptions {
  registry: EngineRegistry;
  machineId: string;
  /** fleet's engine_reconcile_interval; default 2000 ms. */
  intervalMs?: number;
  /** The engine lease TTL; default 5 × intervalMs, as fleet. */
  leaseTtlMs?: number;
  /** How long a machine may be missing before its units move; default 2 × intervalMs, at most 10 s. 0: at once (fleet). */
  machineGraceMs?: number;
  /** Milliseconds (for the grace period); default Date.now. */
  now?: () => number;
  log?: Log;
  /** Called after each pass this engine ran as the leader, with its result (a metrics hook; tests count passes with it). */
  onPass?: (result: PassResult) => void;
}

export interface Engine {
  stop(): Promise<void>;
}

export async function startEngine(opts: EngineOptions): Promise<Engine> {
  const { registry, machineId } = opts;
  const intervalMs = opts.intervalMs ?? 2000;
  // fleet's lease is five intervals (10 s by default). The floor of 5 s keeps a very short interval
  // from making leadership flap on a busy machine; a longer floor (10 s) made a dead leader's
  // units wait twice the agent TTL of a test cluster before moving. The lease is renewed on every
  // pass and by etcd3's own keepalive timer, so a slow pass does not starve it.
  const leaseTtlMs = opts.leaseTtlMs ?? Math.max(5 * intervalMs, 5_000);
  const log: Log = opts.log ?? (() => {});
  const graceMs = opts.machineGraceMs ?? Math.min(2 * intervalMs, 10_000);
  const now = opts.now ?? Date.now;
  if (!(graceMs >= 0)) throw new RangeError(`engine: machineGraceMs must be >= 0, got ${graceMs}`);
  if (machineId === '') throw new Error('engine: a machine ID is required to compete for the engine lease');
  if (!(intervalMs > 0)) throw new RangeError(`engine: intervalMs must be positive, got ${intervalMs}`);
  if (!(leaseTtlMs > intervalMs)) throw new RangeError(`engine: leaseTtlMs (${leaseTtlMs}) must be longer than intervalMs (${intervalMs})`);

  const controller = new AbortController();
  let leadership: Leadership | undefined;
  let lostSubscription: Disposable | undefined;
  let lastReasons: ReadonlyMap<string, string> | undefined;
  let announcedFollower = false;
  const cache = new RequirementsCache();
  /** Machines seen by this engine: the last record, and since when it has been missing. */
  let seen = new Map<string, SeenMachine<MachineRecord>>();

  /** A pass when a grace period ends (the interval may be much longer). */
  let graceTimer: NodeJS.Timeout | undefined;
  let graceTimerAt = Infinity;
  const wakeAt = (at: number): void => {
    if (graceTimer && graceTimerAt <= at) return;
    clearTimeout(graceTimer);
    graceTimerAt = at;
    graceTimer = setTimeout(
      () => {
        graceTimer = undefined;
        graceTimerAt = Infinity;
        loop?.trigger();
      },
      Math.max(0, at - now()) + 1,
    );
    graceTimer.unref();
  };

  /** The live machines plus those missing for less than the grace period (marked unreachable; scheduler's machinesWithGrace). */
  const withGrace = (live: readonly MachineRecord[]): (MachineRecord & { unreachable?: boolean })[] => {
    const decision = machinesWithGrace(seen, live, now(), graceMs);
    seen = decision.seen;
    for (const e of decision.events) {
      if (e.kind === 'back') log('info', `engine: machine ${e.id} is back after ${e.missingMs} ms; its units stay`);
      else if (e.kind === 'missing' && graceMs > 0) log('info', `engine: machine ${e.id} is missing; its units move if it is not back within ${graceMs} ms`);
    }
    if (decision.wakeAt !== undefined) wakeAt(decision.wakeAt);
    return decision.machines;
  };

  const isLeader = (): boolean => !controller.signal.aborted && leadership !== undefined && leadership.held;

  const dropLeadership = (why: string): void => {
    if (!leadership) return;
    lostSubscription?.dispose();
    lostSubscription = undefined;
    leadership = undefined;
    lastReasons = undefined;
    seen.clear();
    log('warn', `engine: ${machineId} lost the engine lease (${why}); no longer scheduling`);
  };

  /** Renew the lease we hold (as fleet does on every tick), or try to acquire it. */
  const acquire = async (): Promise<boolean> => {
    if (leadership && !leadership.held) dropLeadership('expired');
    const lease = await registry.tryAcquireLeadership(machineId, leaseTtlMs);
    if (leadership) {
      if (lease === leadership && lease.held) return true;
      dropLeadership('not renewed');
    }
    if (!lease) {
      if (!announcedFollower) log('info', `engine: another engine holds the lease; ${machineId} will retry every ${intervalMs} ms`);
      announcedFollower = true;
      return false;
    }
    if (controller.signal.aborted) {
      await lease.release();
      return false;
    }
    leadership = lease;
    announcedFollower = false;
    lastReasons = undefined;
    lostSubscription = lease.onLost(() => {
      if (leadership === lease) dropLeadership('lost');
      loop?.trigger();
    });
    log('info', `engine: ${machineId} acquired the engine lease; scheduling`);
    return true;
  };

  const reconcile = async (): Promise<void> => {
    if (!(await acquire())) return;
    const started = Date.now();
    try {
      const result = await reconcileOnce({ registry, stillLeader: isLeader, log, lastReasons, cache, machines: withGrace });
      if (!result.aborted) lastReasons = result.reasons;
      opts.onPass?.(result);
      log(
        'debug',
        `engine: pass done in ${Date.now() - started} ms: ${result.planned} planned, ${result.applied} applied, ${result.stale} stale, ${result.reasons.size} unit(s) waiting`,
      );
    } catch (error) {
      if (!(error instanceof ActionsFailedError)) lastReasons = undefined;
      throw error;
    }
  };

  // Assigned before any callback that uses it can run (the first pass awaits the registry first).
  let loop: Loop | undefined;
  loop = runLoop({
    intervalMs,
    reconcile,
    signal: controller.signal,
    // A stream of submissions is served by a few large passes, not one full read per unit.
    idleRatio: 1,
    minGapMs: 50,
    onError: error => log('error', `engine: pass failed: ${errorMessage(error)}; retrying with backoff`),
  });

  const hint = (): void => {
    if (leadership) loop?.trigger();
  };
  const watches: Disposable[] = [registry.watch('units', hint), registry.watch('schedule', hint), registry.watch('machines', hint)];

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        controller.abort();
        clearTimeout(graceTimer);
        for (const w of watches) w.dispose();
        // The pass in progress makes no more writes once aborted; wait for it, but not forever
        // (a registry call that hangs must not hang fleetd's shutdown).
        if (!(await settlesWithin(loop?.done, leaseTtlMs))) {
          log('warn', `engine: the pass in progress did not finish within ${leaseTtlMs} ms; stopping without it (it makes no more writes)`);
        }
        const lease = leadership;
        lostSubscription?.dispose();
        leadership = undefined;
        if (lease?.held) {
          try {
            await lease.release();
            log('info', `engine: ${machineId} released the engine lease`);
          } catch (error) {
            log('warn', `engine: releasing the engine lease failed (${errorMessage(error)}); it expires in ${leaseTtlMs} ms`);
          }
        }
      })();
      return stopping;
    },
  };
}

/** True when `promise` settles within `ms` (the timer does not outlive the wait). */
async function settlesWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!promise) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>(resolve => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
