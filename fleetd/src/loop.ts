/**
 * A level-triggered reconcile loop (fleet's pkg/reconcile PeriodicReconciler): run once at start,
 * then `intervalMs` after each run finishes, and as soon as possible after `trigger()`. Triggers
 * that arrive while a run is in progress coalesce into one more run; runs never overlap. A failed
 * run is reported to `onError` and retried with exponential backoff (capped). A trigger during a
 * backoff still brings the next run forward — new information deserves a look — but never to less
 * than `intervalMs` after the failed run, so a failing reconcile that keeps triggering itself
 * cannot spin. The loop stops when `signal` aborts; `done` resolves once the run in progress, if
 * any, has finished. It never rejects.
 */

/** Time as the loop sees it: injected by tests to drive it without waiting; default the real clock and timers. */
export interface LoopClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: LoopClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: handle => clearTimeout(handle as NodeJS.Timeout),
};

export interface LoopOptions {
  intervalMs: number;
  reconcile: () => Promise<void>;
  signal: AbortSignal;
  onError?: (error: unknown) => void;
  /** Longest wait after consecutive failures; default max(intervalMs, min(30 s, 8 × intervalMs)). */
  maxBackoffMs?: number;
  /**
   * Pacing under load: after a run that took `t` ms, a trigger waits at least `t × idleRatio`
   * (at most `intervalMs`) before the next run, so a stream of hints (a thousand units being
   * submitted) is served by a few large passes instead of back-to-back full reads, while an idle
   * loop still reacts at once. Default 0 (no pacing).
   */
  idleRatio?: number;
  /** Smallest wait after a run before a triggered run (lets a burst of hints coalesce); default 0. */
  minGapMs?: number;
  clock?: LoopClock;
}

export interface Loop {
  /** Ask for a run soon (a hint; bursts coalesce). */
  trigger(): void;
  done: Promise<void>;
}

export function runLoop(opts: LoopOptions): Loop {
  const { intervalMs, reconcile, signal, onError } = opts;
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`runLoop: intervalMs must be a positive number, got ${intervalMs}`);
  const maxBackoffMs = Math.max(intervalMs, opts.maxBackoffMs ?? Math.min(30_000, 8 * intervalMs));
  const idleRatio = opts.idleRatio ?? 0;
  const minGapMs = opts.minGapMs ?? 0;
  const clock = opts.clock ?? REAL_CLOCK;
  if (!(idleRatio >= 0) || !Number.isFinite(idleRatio)) throw new RangeError(`runLoop: idleRatio must be a non-negative number, got ${idleRatio}`);
  if (!(minGapMs >= 0) || !Number.isFinite(minGapMs)) throw new RangeError(`runLoop: minGapMs must be a non-negative number, got ${minGapMs}`);
  let pending = false;
  let wake: (() => void) | undefined;

  const trigger = (): void => {
    pending = true;
    wake?.();
  };

  /** Wait `ms`, or less when aborted (or triggered, when `wakeable`). */
  const sleep = (ms: number, wakeable: boolean): Promise<void> =>
    new Promise<void>(resolve => {
      const finish = (): void => {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        wake = undefined;
        resolve();
      };
      const timer = clock.setTimeout(finish, ms);
      if (wakeable) wake = finish;
      signal.addEventListener('abort', finish, { once: true });
      if ((wakeable && pending) || signal.aborted) finish();
    });

  const report = (error: unknown): void => {
    try {
      onError?.(error);
    } catch {
      // An error reporter that fails has nowhere else to report to; the loop must go on.
    }
  };

  const done = (async () => {
    let failures = 0;
    while (!signal.aborted) {
      pending = false;
      const started = clock.now();
      try {
        await reconcile();
        failures = 0;
      } catch (error) {
        failures++;
        report(error);
      }
      if (signal.aborted) break;
      if (failures === 0) {
        const gap = Math.min(intervalMs, Math.max(minGapMs, (clock.now() - started) * idleRatio));
        if (gap > 0) await sleep(gap, false);
        if (!signal.aborted) await sleep(intervalMs - gap, true);
        continue;
      }
      // Backing off: at least one interval regardless of triggers, then the rest of the backoff
      // unless a trigger (now or meanwhile) asks for a run.
      const backoff = Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(failures, 30));
      await sleep(intervalMs, false);
      if (!pending && !signal.aborted) await sleep(backoff - intervalMs, true);
    }
  })();

  return { trigger, done };
}
