import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inParallel } from '../src/common';

test('inParallel: at most `limit` calls at once, every item once, results in order', async () => {
  let running = 0;
  let peak = 0;
  const calls: number[] = [];
  const items = Array.from({ length: 20 }, (_, i) => i);
  const out = await inParallel(items, 3, async i => {
    calls.push(i);
    running++;
    peak = Math.max(peak, running);
    // Later items finish first: the order of results must not follow the order of completion.
    await new Promise(resolve => setImmediate(resolve));
    if (i % 2 === 0) await new Promise(resolve => setImmediate(resolve));
    running--;
    return i * 10;
  });
  assert.deepEqual(
    out,
    items.map(i => i * 10),
  );
  assert.deepEqual(
    [...calls].sort((a, b) => a - b),
    items,
  );
  assert.equal(peak, 3);
  assert.deepEqual(await inParallel([], 4, async () => 1), []);
  assert.deepEqual(await inParallel([1, 2], 0, async x => x), [1, 2], 'a limit below 1 still runs one at a time');
});

test('inParallel: a rejection is the result', async () => {
  await assert.rejects(
    inParallel([1, 2, 3], 2, async x => {
      if (x === 2) throw new Error('two failed');
      return x;
    }),
    /two failed/,
  );
});
