/**
 * runLoop pacing (idleRatio, minGapMs): a stream of triggers is served by spaced runs whose gap
 * follows the last run's duration, an idle loop still reacts at once, and bad options are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { runLoop } from '../src/loop';
import { waitFor } from '../../test/support/wait';
import { FakeClock } from './fakeClock';

test('idleRatio: after a slow run, a trigger waits at least duration × ratio before the next run', async () => {
  const controller = new AbortController();
  const spans: { start: number; end: number }[] = [];
  const loop = runLoop({
    intervalMs: 60_000,
    idleRatio: 2,
    signal: controller.signal,
    reconcile: async () => {
      const start = performance.now();
      await delay(40);
      spans.push({ start, end: performance.now() });
    },
  });
  // Keep triggering: without pacing each run would start right after the previous one.
  const hammer = setInterval(() => loop.trigger(), 2);
  try {
    await waitFor('four runs', () => spans.length >= 4, { timeoutMs: 5000, intervalMs: 5 });
  } finally {
    clearInterval(hammer);
    controller.abort();
    await loop.done;
  }
  for (let i = 1; i < spans.length; i++) {
    const previous = spans[i - 1]!;
    const gap = spans[i]!.start - previous.end;
    const wanted = (previous.end - previous.start) * 2;
    // Timers never fire early; allow 2 ms for clock granularity.
    assert.ok(gap >= wanted - 2, `run ${i} started ${gap.toFixed(1)} ms after the previous one ended; wanted ≥ ${wanted.toFixed(1)} ms`);
  }
});

test('minGapMs: triggers arriving during the gap coalesce into one run', async () => {
  const controller = new AbortController();
  let runs = 0;
  const clock = new FakeClock();
  const loop = runLoop({ intervalMs: 60_000, minGapMs: 150, clock, signal: controller.signal, reconcile: async () => void runs++ });
  await waitFor('the first run, then its gap', () => runs === 1 && clock.pending().length === 1, { timeoutMs: 5000, intervalMs: 5 });
  assert.deepEqual(clock.pending(), [150]);
  for (let i = 0; i < 20; i++) loop.trigger();
  clock.advance(150);
  await waitFor('the run after the gap, then its gap', () => runs === 2 && clock.pending().length === 1, { timeoutMs: 5000, intervalMs: 5 });
  clock.advance(150);
  // After the second run's gap no trigger is left: the loop waits for the rest of its interval.
  await waitFor('the loop to park until its interval', () => clock.pending()[0] === 60_000 - 150, { timeoutMs: 5000, intervalMs: 5 });
  assert.equal(runs, 2, 'twenty triggers during the gap make exactly one run');
  controller.abort();
  await loop.done;
});

test('pacing never delays past the interval, and a fast idle loop still reacts promptly', async () => {
  const controller = new AbortController();
  const at: number[] = [];
  const loop = runLoop({
    intervalMs: 60,
    idleRatio: 100,
    signal: controller.signal,
    reconcile: async () => {
      at.push(performance.now());
      await delay(20); // 20 ms × 100 would be 2 s: capped at the 60 ms interval
    },
  });
  await waitFor('three runs', () => at.length >= 3, { timeoutMs: 3000, intervalMs: 5 });
  controller.abort();
  await loop.done;
  for (let i = 1; i < at.length; i++) assert.ok(at[i]! - at[i - 1]! < 1500, `gap ${i}: ${(at[i]! - at[i - 1]!).toFixed(0)} ms is not capped by the interval`);

  // No pacing configured: a trigger after a quick run starts the next run without waiting.
  const c2 = new AbortController();
  let runs = 0;
  const l2 = runLoop({ intervalMs: 60_000, signal: c2.signal, reconcile: async () => void runs++ });
  await waitFor('the first run', () => runs === 1, { timeoutMs: 5000, intervalMs: 5 });
  const t0 = performance.now();
  l2.trigger();
  await waitFor('the triggered run', () => runs === 2, { timeoutMs: 5000, intervalMs: 5 });
  const latency = performance.now() - t0;
  c2.abort();
  await l2.done;
  assert.ok(latency < 1000, `triggered run took ${latency.toFixed(0)} ms`);
});

test('abort during a pacing gap ends the loop at once', async () => {
  const controller = new AbortController();
  let runs = 0;
  const loop = runLoop({ intervalMs: 60_000, minGapMs: 30_000, signal: controller.signal, reconcile: async () => void runs++ });
  await waitFor('the first run', () => runs === 1, { timeoutMs: 5000, intervalMs: 5 });
  loop.trigger();
  const t0 = performance.now();
  controller.abort();
  await loop.done;
  assert.ok(performance.now() - t0 < 1000, 'done resolves promptly after abort');
  assert.equal(runs, 1);
});

test('bad pacing options are refused with the option named', () => {
  const signal = new AbortController().signal;
  assert.throws(() => runLoop({ intervalMs: 10, idleRatio: -1, signal, reconcile: async () => {} }), /idleRatio must be a non-negative number, got -1/);
  assert.throws(() => runLoop({ intervalMs: 10, idleRatio: Number.NaN, signal, reconcile: async () => {} }), RangeError);
  assert.throws(
    () => runLoop({ intervalMs: 10, minGapMs: Number.POSITIVE_INFINITY, signal, reconcile: async () => {} }),
    /minGapMs must be a non-negative number/,
  );
});
