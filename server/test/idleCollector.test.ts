import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdleCollector } from '../src/lsp/idleCollector';
import { waitFor } from '../../test/support/wait';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
describe('IdleCollector', () => {
  test('light work never collects', async () => {
    let collected = 0;
    const c = new IdleCollector(() => collected++, 20, 30);
    for (let i = 0; i < 5; i++) c.worked(5);
    await sleep(120);
    assert.equal(collected, 0);
  });

  test('heavy work collects once, when nothing has touched the server for the quiet time', async () => {
    let collected = 0;
    let at = 0;
    const c = new IdleCollector(
      () => {
        collected++;
        at = performance.now();
      },
      20,
      150,
    );
    c.worked(25);
    // Keep it busy for ~300 ms: no collection meanwhile.
    const busyUntil = performance.now() + 300;
    let lastTouch = 0;
    while (performance.now() < busyUntil) {
      c.touch();
      // Measured at the touch: a sleep that wakes late on a loaded machine must not move it.
      lastTouch = performance.now();
      await sleep(10);
    }
    assert.equal(collected, 0, 'collected while busy');
    await waitFor('collected === 1', () => collected === 1, { timeoutMs: 5_000, intervalMs: 10 });
    assert.ok(at - lastTouch >= 130, `collected ${at - lastTouch} ms after the last touch`);
    await sleep(300);
    assert.equal(collected, 1, 'once per burst');
    c.worked(30);
    await waitFor('collected === 2', () => collected === 2, { timeoutMs: 5_000, intervalMs: 10 });
    c.dispose();
  });

  test('without gc exposed, nothing is armed; dispose cancels', async () => {
    const c = new IdleCollector(undefined, 20, 30);
    c.worked(100);
    let collected = 0;
    const d = new IdleCollector(() => collected++, 20, 30);
    d.worked(100);
    d.dispose();
    await sleep(100);
    assert.equal(collected, 0);
  });
});
