/**
 * The engine against MemoryRegistry: placement and published reasons, rescheduling when a machine
 * expires, leadership handover between two engines (clean stop and crash), quiescence, registry
 * failures, and the single pass (stale writes, leadership lost mid-pass, failed writes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { MAX_BATCH_OPS, RegistryUnavailableError, type Registry } from '../../registry/src/registry';
import { startEngine, reconcileOnce, ActionsFailedError, type Engine } from '../src/engine';
import type { UnitOption } from '../../unitfile/src/serialize';
import type { JobState } from '../../protocol/src/api';
import type { Log } from '../../protocol/src/log';
import { waitForEqual } from '../../test/support/wait';

const TTL = 1_000;

function cluster() {
  let now = 1_000_000;
  const registry = new MemoryRegistry({ now: () => now, timers: false });
  return {
    registry,
    clock: () => now,
    /** Advance the fake clock and apply expiries (fires watchers and onLost). */
    advance(ms: number) {
      now += ms;
      registry.expire();
    },
    machine: (id: string, metadata: Record<string, string> = {}) => registry.registerMachine({ id, publicIP: '10.0.0.1', metadata, version: '1.0.0' }, TTL),
    unit: (name: string, xfleet: string[] = [], desiredState: JobState = 'launched') => registry.putUnit({ name, options: options(xfleet), desiredState }),
    async targets(): Promise<Record<string, string>> {
      return Object.fromEntries([...(await registry.getSchedule())].map(([name, e]) => [name, e.machineId]));
    },
  };
}

function options(xfleet: string[]): UnitOption[] {
  return [
    { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' },
    ...xfleet.map(line => ({ section: 'X-Fleet', name: line.slice(0, line.indexOf('=')), value: line.slice(line.indexOf('=') + 1) })),
  ];
}

/** Poll an async read every 5 ms until it equals `expected` (test/support/wait.ts), at most `timeoutMs`. */
function eventually<T>(read: () => Promise<T>, expected: T, what: string, timeoutMs = 10_000): Promise<void> {
  return waitForEqual(what, read, expected, { timeoutMs, intervalMs: 5 });
}

/**
 * Counts an engine's finished passes (its onPass hook). `more(n)` waits until n more have
 * finished: with n ≥ 2 at least one whole pass ran on the registry as it was at the call, so a
 * test that asserts something did not happen knows the engine looked.
 */
function passCounter() {
  let count = 0;
  return {
    onPass: () => {
      count++;
    },
    get count() {
      return count;
    },
    async more(n: number, what: string): Promise<void> {
      const target = count + n;
      await eventually(async () => count >= target, true, `${n} more engine passes (${what})`);
    },
  };
}

interface Logged {
  level: string;
  message: string;
}
function logger(): { lines: Logged[]; log: Log } {
  const lines: Logged[] = [];
  return { lines, log: (level, message) => lines.push({ level, message }) };
}

const WRITES = new Set(['applySchedule', 'setUnitReasons']);

/** A view of `registry` that reports every engine write to `onWrite` (which may throw to fail it). */
function watched(registry: Registry, onWrite: (method: string, args: unknown[]) => void, overrides: Partial<Registry> = {}): Registry {
  return new Proxy(registry, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in overrides) return (overrides as Record<string, unknown>)[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && WRITES.has(prop)) {
        return async (...args: unknown[]) => {
          onWrite(prop, args);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

async function withEngines(fn: (start: (o: Parameters<typeof startEngine>[0]) => Promise<Engine>) => Promise<void>): Promise<void> {
  const engines: Engine[] = [];
  try {
    await fn(async o => {
      const e = await startEngine(o);
      engines.push(e);
      return e;
    });
  } finally {
    await Promise.all(engines.map(e => e.stop()));
  }
}

test('engine: places units, publishes reasons, and reacts to registry hints alone', async () => {
  const c = cluster();
  await c.machine('m1', { region: 'east' });
  await c.machine('m2', { region: 'west' });
  await c.unit('a.service');
  await c.unit('b.service', ['MachineMetadata=region=west']);
  await c.unit('c.service', ['MachineMetadata=region=north']);
  await c.unit('d.service', [], 'inactive');
  await c.unit('g.service', ['Global=true']);
  const { lines, log } = logger();
  await withEngines(async start => {
    // A long interval: after the first pass, only watch hints can drive the engine.
    await start({ registry: c.registry, machineId: 'm1', intervalMs: 60_000, log });
    await eventually(() => c.targets(), { 'a.service': 'm1', 'b.service': 'm2' }, 'placement');
    await eventually(
      async () => Object.fromEntries(await c.registry.getUnitReasons()),
      { 'c.service': 'no machine has metadata region=north' },
      'the reason for c',
    );
    assert.ok(
      lines.some(l => l.level === 'info' && l.message === 'engine: scheduled a.service to m1 (least-loaded machine that can run it (1 unit))'),
      JSON.stringify(lines),
    );
    assert.ok(lines.some(l => l.message === 'engine: c.service not scheduled: no machine has metadata region=north'));

    await c.machine('m3', { region: 'north' });
    await eventually(() => c.targets(), { 'a.service': 'm1', 'b.service': 'm2', 'c.service': 'm3' }, 'c placed on the new machine');
    await eventually(async () => (await c.registry.getUnitReasons()).size, 0, 'reasons cleared');

    await c.registry.setDesiredState('a.service', 'inactive');
    await eventually(() => c.targets(), { 'b.service': 'm2', 'c.service': 'm3' }, 'inactive unit unscheduled');
    await c.registry.patchMachineMetadata([{ machineId: 'm2', key: 'region', value: 'north' }]);
    await eventually(
      async () => Object.fromEntries(await c.registry.getUnitReasons()),
      { 'b.service': 'no machine has metadata region=west' },
      'metadata change unschedules b',
    );
    assert.deepEqual(await c.targets(), { 'c.service': 'm3' });
  });
});

test('engine: new unit content is planned from its new requirements (the requirements cache follows the hash)', async () => {
  const c = cluster();
  await c.machine('m1', { region: 'east' });
  await c.machine('m2', { region: 'west' });
  await c.unit('a.service');
  await withEngines(async start => {
    await start({ registry: c.registry, machineId: 'm1', intervalMs: 20 });
    await eventually(() => c.targets(), { 'a.service': 'm1' }, 'placement');
    await c.unit('a.service', ['MachineMetadata=region=west']);
    await eventually(() => c.targets(), { 'a.service': 'm2' }, 'moved after its content changed');
    await c.unit('a.service', ['MachineMetadata=region=north']);
    await eventually(
      async () => Object.fromEntries(await c.registry.getUnitReasons()),
      { 'a.service': 'no machine has metadata region=north' },
      'unscheduled with a reason',
    );
    assert.deepEqual(await c.targets(), {});
  });
});

test('engine: units on an expired machine are rescheduled', async () => {
  const c = cluster();
  await c.machine('m1');
  await c.machine('m2');
  await c.unit('a.service');
  await c.unit('b.service');
  await c.unit('p.service', ['MachineOf=a.service']);
  await withEngines(async start => {
    // fleet's behaviour, without the grace period (tested below).
    await start({ registry: c.registry, machineId: 'm2', intervalMs: 60_000, machineGraceMs: 0 });
    await eventually(() => c.targets(), { 'a.service': 'm1', 'b.service': 'm2', 'p.service': 'm1' }, 'initial placement');
    c.registry.simulateCrash('m1');
    c.advance(TTL + 1);
    await eventually(() => c.targets(), { 'a.service': 'm2', 'b.service': 'm2', 'p.service': 'm2' }, 'everything on the survivor');
  });
});

test('engine: a machine missing for less than the grace period keeps its units and gets no new ones; after it they move', async () => {
  const c = cluster();
  await c.machine('m1');
  await c.machine('m2');
  await c.unit('a.service');
  await c.unit('b.service');
  const { lines, log } = logger();
  const missing = () => lines.filter(l => l.message.startsWith('engine: machine m1 is missing')).length;
  const passes = passCounter();
  await withEngines(async start => {
    await start({ registry: c.registry, machineId: 'm2', intervalMs: 20, machineGraceMs: 5_000, now: c.clock, log, onPass: passes.onPass });
    await eventually(() => c.targets(), { 'a.service': 'm1', 'b.service': 'm2' }, 'initial placement');
    // m1's presence expires (as when etcd expires a lease under load).
    c.registry.simulateCrash('m1');
    c.advance(TTL + 1);
    await eventually(async () => missing(), 1, 'the engine notices');
    await c.unit('n.service');
    await eventually(() => c.targets(), { 'a.service': 'm1', 'b.service': 'm2', 'n.service': 'm2' }, 'new units avoid the missing machine');
    c.advance(4_000);
    await passes.more(3, 'within the grace period');
    assert.deepEqual(await c.targets(), { 'a.service': 'm1', 'b.service': 'm2', 'n.service': 'm2' }, 'nothing moved within the grace period');
    // Back (the lease re-granted): its units stay.
    await c.machine('m1');
    await eventually(async () => lines.some(l => l.message.startsWith('engine: machine m1 is back after')), true, 'the engine sees it back');
    // Missing again, now for longer than the grace period: its units move.
    c.registry.simulateCrash('m1');
    c.advance(TTL + 1);
    await eventually(async () => missing(), 2, 'the engine notices again');
    await passes.more(2, 'still within the grace period');
    assert.equal((await c.targets())['a.service'], 'm1', 'still within the grace period');
    c.advance(5_000);
    await eventually(() => c.targets(), { 'a.service': 'm2', 'b.service': 'm2', 'n.service': 'm2' }, 'moved after the grace period');
  });
});

test('engine: leadership passes to the other engine on a clean stop', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.unit('a.service');
  const first = logger();
  const second = logger();
  await withEngines(async start => {
    const e1 = await start({ registry: c.registry, machineId: 'e1', intervalMs: 20, log: first.log });
    await eventually(() => c.targets(), { 'a.service': 'w1' }, 'e1 schedules');
    await start({ registry: c.registry, machineId: 'e2', intervalMs: 20, log: second.log });
    await eventually(async () => second.lines.some(l => l.message.includes('another engine holds the lease')), true, 'e2 following');
    await e1.stop();
    assert.ok(first.lines.some(l => l.message === 'engine: e1 released the engine lease'));
    await eventually(async () => second.lines.some(l => l.message === 'engine: e2 acquired the engine lease; scheduling'), true, 'e2 leading');
    await c.unit('n.service');
    await eventually(() => c.targets(), { 'a.service': 'w1', 'n.service': 'w1' }, 'e2 schedules');
  });
});

test('engine: a crashed leader stops writing once its lease is lost, and the other engine takes over', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.machine('w2');
  await c.unit('a.service');
  let lost = false;
  let writesAfterLoss = 0;
  let attemptsAfterLoss = 0;
  // After the crash, e1 can still read and write but never wins the lease again (as if e2 always
  // got there first): if it ignored onLost, it would keep scheduling.
  const e1Registry = watched(
    c.registry,
    () => {
      if (lost) writesAfterLoss++;
    },
    {
      tryAcquireLeadership: (machineId: string, ttlMs: number) => {
        if (lost) attemptsAfterLoss++;
        return lost ? Promise.resolve(undefined) : c.registry.tryAcquireLeadership(machineId, ttlMs);
      },
    },
  );
  const first = logger();
  await withEngines(async start => {
    await start({ registry: e1Registry, machineId: 'e1', intervalMs: 20, leaseTtlMs: TTL, log: first.log });
    await eventually(() => c.targets(), { 'a.service': 'w1' }, 'e1 schedules');
    await start({ registry: c.registry, machineId: 'e2', intervalMs: 20, leaseTtlMs: TTL });
    lost = true;
    c.registry.simulateCrash('e1');
    c.advance(TTL + 1);
    await eventually(async () => first.lines.some(l => l.level === 'warn' && l.message.startsWith('engine: e1 lost the engine lease')), true, 'e1 notices');
    await c.unit('n.service');
    await eventually(() => c.targets(), { 'a.service': 'w1', 'n.service': 'w2' }, 'e2 schedules');
    // e1's loop goes on (it asks for the lease on every run) and never writes.
    const attempts = attemptsAfterLoss;
    await eventually(async () => attemptsAfterLoss >= attempts + 2, true, 'two more runs of e1 after e2 scheduled');
    assert.equal(writesAfterLoss, 0, 'the old leader wrote after losing its lease');
  });
});

test('engine: a settled cluster is quiet (no writes pass after pass)', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.unit('a.service');
  await c.unit('x.service', ['MachineID=nowhere1']);
  const writes: string[] = [];
  const passes = passCounter();
  await withEngines(async start => {
    await start({ registry: watched(c.registry, m => writes.push(m)), machineId: 'e1', intervalMs: 10, onPass: passes.onPass });
    await eventually(() => c.targets(), { 'a.service': 'w1' }, 'placement');
    await eventually(async () => writes.includes('setUnitReasons'), true, 'reasons published');
    // The pass in progress may still write what it planned before; from the next one on, nothing.
    await passes.more(1, 'the pass in progress');
    const settled = writes.length;
    await passes.more(5, 'a settled cluster');
    assert.deepEqual(writes.slice(settled), [], 'writes while nothing changed');
  });
});

test('engine: survives an unavailable registry and catches up when it returns', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.unit('a.service');
  let down = true;
  const flaky = watched(c.registry, () => {}, {
    snapshot: async () => {
      if (down) throw new RegistryUnavailableError();
      return c.registry.snapshot();
    },
  });
  const { lines, log } = logger();
  await withEngines(async start => {
    await start({ registry: flaky, machineId: 'e1', intervalMs: 10, log });
    await eventually(async () => lines.filter(l => l.level === 'error').length >= 2, true, 'failures logged');
    assert.equal(lines.find(l => l.level === 'error')?.message, 'engine: pass failed: fleet server unable to communicate with etcd; retrying with backoff');
    assert.deepEqual(await c.targets(), {});
    down = false;
    await eventually(() => c.targets(), { 'a.service': 'w1' }, 'recovery');
  });
});

test('engine: stop is idempotent, releases the lease and ends all writes', async () => {
  const c = cluster();
  await c.machine('w1');
  const calls: string[] = [];
  let stopped = false;
  const seen = new Proxy(c.registry, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (stopped) calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const passes = passCounter();
  const e = await startEngine({ registry: seen, machineId: 'e1', intervalMs: 10, onPass: passes.onPass });
  await passes.more(1, 'a first pass');
  await Promise.all([e.stop(), e.stop()]);
  await e.stop();
  stopped = true;
  const other = await c.registry.tryAcquireLeadership('e2', TTL);
  assert.ok(other, 'the lease was released');
  await other.release();
  await c.unit('late.service');
  // A second engine with the same interval schedules the late unit: while it ran its passes, the
  // stopped one (which would ask for the lease on every run) made no call at all.
  const second = passCounter();
  const e2 = await startEngine({ registry: c.registry, machineId: 'e2', intervalMs: 10, onPass: second.onPass });
  try {
    await eventually(() => c.targets(), { 'late.service': 'w1' }, 'the second engine schedules');
    await second.more(3, 'the second engine');
  } finally {
    await e2.stop();
  }
  assert.deepEqual(calls, [], 'registry calls of the stopped engine');
  assert.ok(passes.count >= 1);
});

test('engine: stop does not hang on a registry call that never answers', async () => {
  const c = cluster();
  await c.machine('w1');
  const { lines, log } = logger();
  let snapshots = 0;
  const hanging = watched(c.registry, () => {}, {
    snapshot: () => {
      snapshots++;
      return new Promise(() => {});
    },
  });
  const e = await startEngine({ registry: hanging, machineId: 'e1', intervalMs: 20, leaseTtlMs: 200, log });
  await eventually(async () => snapshots, 1, 'a pass waiting on the registry');
  const t0 = Date.now();
  await e.stop();
  assert.ok(Date.now() - t0 < 5_000, `stop took ${Date.now() - t0} ms`);
  assert.ok(lines.some(l => l.message === 'engine: the pass in progress did not finish within 200 ms; stopping without it (it makes no more writes)'));
  assert.ok(await c.registry.tryAcquireLeadership('e2', TTL), 'the lease was released');
});

test('engine: bad options are refused with clear errors', async () => {
  const registry = new MemoryRegistry({ timers: false });
  await assert.rejects(startEngine({ registry, machineId: '' }), /a machine ID is required/);
  await assert.rejects(
    startEngine({ registry, machineId: 'm', intervalMs: 100, leaseTtlMs: 100 }),
    /leaseTtlMs \(100\) must be longer than intervalMs \(100\)/,
  );
});

test('reconcileOnce: a stale write is skipped, not an error', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.unit('a.service');
  const registry = watched(c.registry, () => {}, { applySchedule: async changes => changes.map(() => false) });
  const { lines, log } = logger();
  const result = await reconcileOnce({ registry, stillLeader: () => true, log, lastReasons: undefined });
  assert.deepEqual(
    { planned: result.planned, applied: result.applied, stale: result.stale, failed: result.failed },
    { planned: 1, applied: 0, stale: 1, failed: 0 },
  );
  assert.ok(lines.some(l => l.level === 'debug' && l.message.startsWith('engine: schedule a.service to w1 skipped')));
});

test('reconcileOnce: losing leadership mid-pass stops the writes (checked before every batch)', async () => {
  const c = cluster();
  await c.machine('w1');
  // One batch more than a registry write carries.
  const names = Array.from({ length: MAX_BATCH_OPS + 2 }, (_, i) => `u${String(i).padStart(3, '0')}.service`);
  for (const n of names) await c.unit(n);
  let writes = 0;
  const registry = watched(c.registry, () => void writes++);
  const result = await reconcileOnce({ registry, stillLeader: () => writes < 1, log: () => {}, lastReasons: undefined });
  assert.equal(result.aborted, true);
  assert.equal(writes, 1);
  assert.deepEqual(Object.keys(await c.targets()).sort(), names.slice(0, MAX_BATCH_OPS));
});

test('reconcileOnce: schedule changes go out in batches of at most MAX_BATCH_OPS', async () => {
  const c = cluster();
  await c.machine('w1');
  await c.machine('w2');
  const names = Array.from({ length: 2 * MAX_BATCH_OPS + 5 }, (_, i) => `u${String(i).padStart(3, '0')}.service`);
  for (const n of names) await c.unit(n);
  const batches: number[] = [];
  const registry = watched(c.registry, (method, args) => {
    if (method === 'applySchedule') batches.push((args[0] as unknown[]).length);
    else if (method !== 'setUnitReasons') throw new Error(`unexpected write ${method}`);
  });
  const result = await reconcileOnce({ registry, stillLeader: () => true, log: () => {}, lastReasons: undefined });
  assert.deepEqual(batches, [MAX_BATCH_OPS, MAX_BATCH_OPS, 5]);
  assert.equal(result.applied, names.length);
  assert.equal(Object.keys(await c.targets()).length, names.length);
});

test('reconcileOnce: a failed batch is reported after the other batches are applied', async () => {
  const c = cluster();
  await c.machine('w1');
  const names = Array.from({ length: MAX_BATCH_OPS + 1 }, (_, i) => `u${String(i).padStart(3, '0')}.service`);
  for (const n of names) await c.unit(n);
  const registry = watched(c.registry, (method, args) => {
    if (method === 'applySchedule' && (args[0] as { unit: string }[]).some(ch => ch.unit === 'u000.service')) throw new Error('etcd request timed out');
  });
  await assert.rejects(
    reconcileOnce({ registry, stillLeader: () => true, log: () => {}, lastReasons: undefined }),
    (e: unknown) =>
      e instanceof ActionsFailedError &&
      e.failures.length === MAX_BATCH_OPS &&
      e.message.startsWith(
        `engine: ${MAX_BATCH_OPS} scheduling write(s) failed; retrying on the next pass: schedule u000.service to w1: etcd request timed out; `,
      ),
  );
  assert.deepEqual(await c.targets(), { [names[MAX_BATCH_OPS]!]: 'w1' });
});
