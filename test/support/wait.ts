/**
 * Waiting in tests, written once: poll a condition with a bounded loop until it holds, and fail
 * with what was awaited (and the last error or value) when it does not in time. No sleeps to
 * prove something did not happen: a wait only ever ends early on success.
 */
import { isDeepStrictEqual } from 'node:util';
import assert from 'node:assert/strict';

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
  /** Ends the wait early with this reason (e.g. the server process already exited). */
  abortIf?: () => string | undefined;
}

/**
 * Polls `check` until it returns a truthy value, at most `timeoutMs`; throws with `what` and the
 * last error otherwise. `abortIf` ends the wait early (e.g. the server process already exited).
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    const abort = options.abortIf?.();
    if (abort) throw new Error(`${what}: ${abort}`);
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Polls `read` until its value deep-equals `expected`; on timeout, fails with the difference
 * between the last value read and the expected one. A read that throws is retried.
 */
export async function waitForEqual<T>(what: string, read: () => Promise<T> | T, expected: T, options: WaitOptions = {}): Promise<void> {
  let last: { value: T } | undefined;
  try {
    await waitFor(
      what,
      async () => {
        last = { value: await read() };
        return isDeepStrictEqual(last.value, expected);
      },
      options,
    );
  } catch (err) {
    if (!last) throw err;
    try {
      assert.deepEqual(last.value, expected);
    } catch (difference) {
      throw new Error(`${(err as Error).message}: ${(difference as Error).message}`);
    }
    throw err;
  }
}
