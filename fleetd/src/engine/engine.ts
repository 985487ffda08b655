/**
 * fleetd's engine role: compete for the engine lease, and while leader run the level-triggered
 * reconcile loop (at start, every `intervalMs`, and on registry hints about units, the schedule
 * and machines). A follower retries the lease every interval. When the lease is lost the engine
 * stops writing at once (the pass in progress checks before every write) and goes back to
 * competing. `stop()` ends the loop and releases the lease, so another engine takes over at once.
 */
import type { Disposable, Leadership, Registry } from '../registry/registry';
import { RequirementsCache } from '../../../scheduler/src';
import { runLoop, type Loop } from '../loop';
import { ActionsFailedError, errorText, reconcileOnce, type Log } from './reconcile';

export interface EngineOptions {
  registry: Registry;
  machineId: string;
  /** fleet's engine_reconcile_interval; default 2000 ms. */
  intervalMs?: number;
  /** The engine lease TTL; default 5 × intervalMs, as fleet. */
  leaseTtlMs?: number;
  log?: Log;
}

export interface Engine {
  stop(): Promise<void>;
}

export async function startEngine(opts: EngineOptions): Promise<Engine> {
  const { registry, machineId } = opts;
  const intervalMs = opts.intervalMs ?? 2000;
  // fleet's lease is five intervals; a floor of 10 s keeps a busy machine (a thousand units in
  // flight) from losing leadership to its own slow keepalives.
  const leaseTtlMs = opts.leaseTtlMs ?? Math.max(5 * intervalMs, 10_000);
  const log: Log = opts.log ?? (() => {});
  if (machineId === '') throw new Error('engine: a machine ID is required to compete for the engine lease');
  if (!(intervalMs > 0)) throw new RangeError(`engine: intervalMs must be positive, got ${intervalMs}`);
  if (!(leaseTtlMs > intervalMs)) throw new RangeError(`engine: leaseTtlMs (${leaseTtlMs}) must be longer than intervalMs (${intervalMs})`);

  const controller = new AbortController();
  let leadership: Leadership | undefined;
  let lostSubscription: Disposable | undefined;
  let lastReasons: ReadonlyMap<string, string> | undefined;
  let announcedFollower = false;
  const cache = new RequirementsCache();

  const isLeader = (): boolean => !controller.signal.aborted && leadership !== undefined && leadership.held;

  const dropLeadership = (why: string): void => {
    if (!leadership) return;
    lostSubscription?.dispose();
    lostSubscription = undefined;
    leadership = undefined;
    lastReasons = undefined;
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
      const result = await reconcileOnce({ registry, stillLeader: isLeader, log, lastReasons, cache });
      if (!result.aborted) lastReasons = result.reasons;
      log('debug', `engine: pass done in ${Date.now() - started} ms: ${result.planned} planned, ${result.applied} applied, ${result.stale} stale, ${result.reasons.size} unit(s) waiting`);
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
    onError: error => log('error', `engine: pass failed: ${errorText(error)}; retrying with backoff`),
  });

  const hint = (): void => {
    if (leadership) loop?.trigger();
  };
  const watches: Disposable[] = [
    registry.watch('units', hint),
    registry.watch('schedule', hint),
    registry.watch('machines', hint),
  ];

  let stopping: Promise<void> | undefined;
  return {
    stop: () => {
      stopping ??= (async () => {
        controller.abort();
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
            log('warn', `engine: releasing the engine lease failed (${errorText(error)}); it expires in ${leaseTtlMs} ms`);
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
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
