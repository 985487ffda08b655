/** The Registry contract against MemoryRegistry on a fake clock, plus what only the fake has. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { registryContract } from '../../registry/test/registry.contract';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

registryContract('MemoryRegistry', async () => {
  let now = 1_000_000;
  const registry = new MemoryRegistry({ now: () => now, timers: false });
  return {
    registry,
    peer: async () => registry,
    advance: async ms => {
      now += ms;
      registry.expire();
    },
    crash: async (r, machineId) => (r as MemoryRegistry).simulateCrash(machineId),
    ttlMs: 1_000,
    expiryWaitMs: 1_001,
    dispose: () => registry.close(),
  };
});

test('MemoryRegistry: eager expiry on real timers fires watchers without any read', async () => {
  const registry = new MemoryRegistry();
  try {
    await saveUnitState(
      registry,
      { name: 'a.service', machineId: 'm1', hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
      30,
    );
    const fired = await new Promise<boolean>(resolve => {
      const t = setTimeout(() => resolve(false), 2_000);
      registry.watch('states', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    assert.equal(fired, true);
    assert.deepEqual(await registry.listUnitStates(), []);
  } finally {
    await registry.close();
  }
});

test('MemoryRegistry: a heartbeat refreshed before its TTL stays', async () => {
  let now = 0;
  const registry = new MemoryRegistry({ now: () => now, timers: false });
  await scheduleUnit(registry, 'a.service', 'm1');
  for (let i = 0; i < 5; i++) {
    await setLaunched(registry, 'a.service', 'm1', 100);
    now += 90;
    registry.expire();
    assert.equal((await registry.getSchedule()).get('a.service')?.launchedOn, 'm1');
  }
  now += 20;
  assert.equal((await registry.getSchedule()).get('a.service')?.launchedOn, undefined);
});

test('MemoryRegistry: a renewed leader that crashes is lost after the TTL measured from the crash', async () => {
  let now = 0;
  const registry = new MemoryRegistry({ now: () => now, timers: false });
  const l = await registry.tryAcquireLeadership('m1', 100);
  now += 10_000;
  assert.equal(l?.held, true, 'kept alive while the holder lives');
  registry.simulateCrash('m1');
  now += 99;
  assert.equal(l?.held, true);
  now += 1;
  assert.equal(l?.held, false);
  assert.ok(await registry.tryAcquireLeadership('m2', 100));
});

test('MemoryRegistry: a crashed presence that expired cannot overwrite the process that took its ID', async () => {
  let now = 0;
  const registry = new MemoryRegistry({ now: () => now, timers: false });
  const old = await registry.registerMachine({ id: 'm1', publicIP: '10.0.0.1', metadata: {}, version: 'old' }, 100);
  registry.simulateCrash('m1');
  now += 100;
  const successor = await registry.registerMachine({ id: 'm1', publicIP: '10.0.0.2', metadata: {}, version: 'new' }, 100);
  await assert.rejects(old.update({ id: 'm1', publicIP: '10.0.0.9', metadata: {}, version: 'old' }), /machine m1 is already registered and alive/);
  assert.deepEqual(
    (await registry.listMachines()).map(m => m.publicIP),
    ['10.0.0.2'],
  );
  await old.release();
  assert.deepEqual(
    (await registry.listMachines()).map(m => m.version),
    ['new'],
    'a stale release does not remove the successor',
  );
  await successor.release();
  assert.deepEqual(await registry.listMachines(), []);
});

test('MemoryRegistry: a throwing watcher does not stop the others; close() silences everything', async () => {
  const registry = new MemoryRegistry({ timers: false });
  const seen: string[] = [];
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.join(' '));
  try {
    registry.watch('units', () => {
      throw new Error('listener bug');
    });
    registry.watch('units', () => seen.push('second'));
    await registry.putUnit({ name: 'a.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'inactive' });
    // Watchers are told in a microtask: one turn of the event loop has run every one queued.
    await new Promise(r => setImmediate(r));
    assert.deepEqual(seen, ['second']);
    assert.match(String(errors[0]), /registry watcher failed: Error: listener bug/);
    await registry.close();
    await registry.setDesiredState('a.service', 'launched');
    await new Promise(r => setImmediate(r));
    assert.deepEqual(seen, ['second']);
  } finally {
    console.error = original;
  }
});
