/** runLoop: level-triggered, coalescing, never overlapping, backing off on failure, stopping on abort. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { runLoop, type Loop } from '../src/loop';
import { waitFor } from '../../test/support/wait';
import { FakeClock, settle } from './fakeClock';

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>(resolve => (open = resolve));
  return { wait, open };
}

test('runs at start and then every interval, never sooner', async () => {
  const controller = new AbortController();
  const at: number[] = [];
  const loop = runLoop({ intervalMs: 20, signal: controller.signal, reconcile: async () => void at.push(performance.now()) });
  assert.equal(at.length, 1, 'the first run starts synchronously');
  await waitFor('five runs', () => at.length >= 5, { timeoutMs: 5000, intervalMs: 5 });
  controller.abort();
  await loop.done;
  // Timers never fire early (a loaded machine only makes them late).
  for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 19, `gap ${i}: ${at[i]! - at[i - 1]!} ms`);
});

test('a trigger runs promptly when idle', async () => {
  const controller = new AbortController();
  let runs = 0;
  const loop = runLoop({ intervalMs: 60_000, signal: controller.signal, reconcile: async () => void runs++ });
  await waitFor('the first run', () => runs === 1, { timeoutMs: 2000, intervalMs: 5 });
  loop.trigger();
  await waitFor('the triggered run', () => runs === 2, { timeoutMs: 5000, intervalMs: 5 });
  controller.abort();
  await loop.done;
  assert.equal(runs, 2);
});

test('triggers during a run coalesce into exactly one more run, and runs never overlap', async () => {
  const controller = new AbortController();
  let runs = 0;
  let running = 0;
  let maxRunning = 0;
  let release = gate();
  const clock = new FakeClock();
  const loop = runLoop({
    intervalMs: 60_000,
    clock,
    signal: controller.signal,
    reconcile: async () => {
      runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await release.wait;
      running--;
    },
  });
  for (let i = 0; i < 10; i++) loop.trigger();
  const first = release;
  release = gate();
  first.open();
  await waitFor('the coalesced run', () => runs === 2, { timeoutMs: 2000, intervalMs: 5 });
  release.open();
  // The second run ends with no trigger left: the loop parks on its interval timer alone.
  await waitFor('the loop to park after the second run', () => running === 0 && clock.pending().length > 0, { timeoutMs: 5000, intervalMs: 5 });
  await settle();
  assert.deepEqual(clock.pending(), [60_000], 'the loop waits for its interval, no run is due');
  assert.equal(runs, 2, 'ten triggers during one run give one more run');
  assert.equal(maxRunning, 1);
  controller.abort();
  await loop.done;
});

test('a failing run is reported and retried with exponential backoff', async () => {
  const controller = new AbortController();
  const errors: unknown[] = [];
  const at: number[] = [];
  const loop = runLoop({
    intervalMs: 10,
    maxBackoffMs: 80,
    signal: controller.signal,
    reconcile: async () => {
      at.push(performance.now());
      throw new Error(`boom ${at.length}`);
    },
    onError: e => errors.push(e),
  });
  await waitFor('six failed runs', () => at.length >= 6, { timeoutMs: 10_000, intervalMs: 5 });
  controller.abort();
  await loop.done;
  // Waits of 20, 40, 80, 80, 80 ms: doubling from the interval, capped.
  const expected = [20, 40, 80, 80, 80];
  expected.forEach((ms, i) => assert.ok(at[i + 1]! - at[i]! >= ms - 1, `wait ${i + 1}: ${at[i + 1]! - at[i]!} ms, expected ≥ ${ms}`));
  assert.equal(errors.length, at.length);
  assert.equal((errors[0] as Error).message, 'boom 1');
});

test('during a backoff a trigger brings the run forward, but never closer than one interval', async () => {
  const controller = new AbortController();
  const at: number[] = [];
  const self: { loop?: Loop } = {};
  const loop = runLoop({
    intervalMs: 30,
    maxBackoffMs: 10_000,
    signal: controller.signal,
    reconcile: async () => {
      at.push(performance.now());
      // A failing pass that triggers itself (as a write followed by its own watch event would).
      self.loop?.trigger();
      throw new Error('fails');
    },
    onError: () => {},
  });
  self.loop = loop;
  await waitFor('six runs', () => at.length >= 6, { timeoutMs: 10_000, intervalMs: 5 });
  controller.abort();
  await loop.done;
  for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! >= 29, `gap ${i}: ${at[i]! - at[i - 1]!} ms`);
  // Without the triggers the sixth run would come at least 60 + 120 + 240 + 480 + 960 ms after the first.
  assert.ok(at[5]! - at[0]! < 1860, `triggers should bring runs forward (took ${at[5]! - at[0]!} ms)`);
});

test('after a failure, success resets the interval', async () => {
  const controller = new AbortController();
  let runs = 0;
  const loop = runLoop({
    intervalMs: 10,
    maxBackoffMs: 1000,
    signal: controller.signal,
    reconcile: async () => {
      runs++;
      if (runs === 1) throw new Error('first run fails');
    },
    onError: () => {},
  });
  await waitFor('runs at the normal interval again', () => runs >= 6, { timeoutMs: 10_000, intervalMs: 5 });
  controller.abort();
  await loop.done;
});

test('an onError that throws does not stop the loop', async () => {
  const controller = new AbortController();
  let runs = 0;
  const loop = runLoop({
    intervalMs: 5,
    maxBackoffMs: 5,
    signal: controller.signal,
    reconcile: async () => {
      runs++;
      throw new Error('x');
    },
    onError: () => {
      throw new Error('reporter broke');
    },
  });
  await waitFor('three runs', () => runs >= 3, { timeoutMs: 2000, intervalMs: 5 });
  controller.abort();
  await loop.done;
});

test('abort waits for the run in progress and then stops for good', async () => {
  const controller = new AbortController();
  let runs = 0;
  let finished = 0;
  const release = gate();
  const clock = new FakeClock();
  const loop = runLoop({
    intervalMs: 5,
    clock,
    signal: controller.signal,
    reconcile: async () => {
      runs++;
      await release.wait;
      finished++;
    },
  });
  controller.abort();
  let done = false;
  void loop.done.then(() => (done = true));
  await settle();
  assert.equal(done, false, 'done waits for the run in progress');
  release.open();
  await loop.done;
  assert.equal(finished, 1);
  loop.trigger();
  await settle();
  assert.deepEqual(clock.pending(), [], 'nothing is scheduled after abort, even when triggered');
  assert.equal(runs, 1, 'no run after abort, even when triggered');
});

test('an already aborted signal runs nothing', async () => {
  const controller = new AbortController();
  controller.abort();
  let runs = 0;
  const loop = runLoop({ intervalMs: 5, signal: controller.signal, reconcile: async () => void runs++ });
  await loop.done;
  assert.equal(runs, 0);
});

test('a bad interval is refused with a clear error', () => {
  const signal = new AbortController().signal;
  assert.throws(() => runLoop({ intervalMs: 0, signal, reconcile: async () => {} }), /intervalMs must be a positive number, got 0/);
  assert.throws(() => runLoop({ intervalMs: Number.NaN, signal, reconcile: async () => {} }), RangeError);
});
