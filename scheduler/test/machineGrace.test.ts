/**
 * The engine's grace period for missing machines, as a table of passes: each row is one pass
 * (the time, the live machines) and what it decides (the machines planned with, unreachable ones
 * marked `~`, the events, the next wake-up). The memory carries over from row to row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machinesWithGrace, type GraceEvent, type SeenMachine } from '../src/machineGrace';

type M = { id: string; ip: string };
const m = (id: string, ip = '10.0.0.1'): M => ({ id, ip });

interface Pass {
  at: number;
  live: string[];
  plan: string[];
  events?: string[];
  wakeAt?: number;
}

function run(graceMs: number, passes: Pass[]): void {
  let seen: ReadonlyMap<string, SeenMachine<M>> = new Map();
  for (const p of passes) {
    const before = new Map([...seen].map(([id, e]) => [id, { ...e }]));
    const d = machinesWithGrace(
      seen,
      p.live.map(id => m(id)),
      p.at,
      graceMs,
    );
    const label = `grace ${graceMs} ms, pass at ${p.at} with [${p.live.join(',')}]`;
    assert.deepEqual(
      d.machines.map(x => (x.unreachable ? `~${x.id}` : x.id)),
      p.plan,
      `${label}: planned machines`,
    );
    assert.deepEqual(d.events.map(render), p.events ?? [], `${label}: events`);
    assert.equal(d.wakeAt, p.wakeAt, `${label}: wakeAt`);
    assert.deepEqual(new Map([...seen].map(([id, e]) => [id, { ...e }])), before, `${label}: the previous memory is not changed`);
    seen = d.seen;
  }
}

function render(e: GraceEvent): string {
  return e.kind === 'back' ? `back ${e.id} after ${e.missingMs}` : `${e.kind} ${e.id}`;
}

test('a machine missing for less than the grace period stays in the plan, unreachable, then leaves it', () => {
  run(1_000, [
    { at: 0, live: ['a', 'b'], plan: ['a', 'b'] },
    { at: 100, live: ['a'], plan: ['a', '~b'], events: ['missing b'], wakeAt: 1_100 },
    { at: 600, live: ['a'], plan: ['a', '~b'], wakeAt: 1_100 },
    { at: 1_099, live: ['a'], plan: ['a', '~b'], wakeAt: 1_100 },
    { at: 1_100, live: ['a'], plan: ['a'], events: ['expired b'] },
    // Forgotten: back later, it is a machine like any other (no "back" event).
    { at: 5_000, live: ['a', 'b'], plan: ['a', 'b'] },
  ]);
});

test('a machine back within the grace period keeps its place and its grace ends', () => {
  run(1_000, [
    { at: 0, live: ['a', 'b'], plan: ['a', 'b'] },
    { at: 200, live: ['a'], plan: ['a', '~b'], events: ['missing b'], wakeAt: 1_200 },
    { at: 700, live: ['a', 'b'], plan: ['a', 'b'], events: ['back b after 500'] },
    // Missing again: a new grace period from now.
    { at: 900, live: ['a'], plan: ['a', '~b'], events: ['missing b'], wakeAt: 1_900 },
  ]);
});

test('two missing machines: the plan keeps both until each grace ends; wakeAt is the first end', () => {
  run(1_000, [
    { at: 0, live: ['a', 'b', 'c'], plan: ['a', 'b', 'c'] },
    { at: 100, live: ['a', 'c'], plan: ['a', 'c', '~b'], events: ['missing b'], wakeAt: 1_100 },
    { at: 400, live: ['a'], plan: ['a', '~b', '~c'], events: ['missing c'], wakeAt: 1_100 },
    { at: 1_100, live: ['a'], plan: ['a', '~c'], events: ['expired b'], wakeAt: 1_400 },
    { at: 1_400, live: ['a'], plan: ['a'], events: ['expired c'] },
  ]);
});

test('grace 0: a missing machine leaves the plan in the pass that finds it missing (fleet)', () => {
  run(0, [
    { at: 0, live: ['a', 'b'], plan: ['a', 'b'] },
    { at: 1, live: ['a'], plan: ['a'], events: ['missing b', 'expired b'] },
  ]);
});

test('the unreachable entry is the last record seen, and a live machine is planned as it is now', () => {
  const first = machinesWithGrace(new Map(), [m('a', '10.0.0.1'), m('b', '10.0.0.2')], 0, 1_000);
  const second = machinesWithGrace(first.seen, [m('a', '10.0.0.9')], 10, 1_000);
  assert.deepEqual(second.machines, [
    { id: 'a', ip: '10.0.0.9' },
    { id: 'b', ip: '10.0.0.2', unreachable: true },
  ]);
  assert.deepEqual(
    [...second.seen],
    [
      ['a', { record: { id: 'a', ip: '10.0.0.9' } }],
      ['b', { record: { id: 'b', ip: '10.0.0.2' }, missingSince: 10 }],
    ],
  );
});
