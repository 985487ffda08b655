/**
 * The Registry contract against EtcdRegistry on a private etcd (Debian's etcd-server on 127.0.0.1,
 * random ports, temp data dir), plus what only etcd has: fleet's key layout, unavailability and
 * recovery across an etcd restart.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { unitHash } from '../../unitfile/src';
import { Agent } from '../src/agent/agent';
import { FakeUnitManager } from '../src/agent/unitManager';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { RegistryUnavailableError, type Registry } from '../../registry/src/registry';
import { EtcdServer, etcdAvailable, etcdBinary, skipUnlessAvailable, useEtcd, waitFor, type EtcdFixture } from '../../test/support';
import { registryContract } from '../../registry/test/registry.contract';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

// The contract runs on the runner's shared etcd (FLEET_TEST_ETCD) when there is one, each test
// under its own prefix; the restart test always starts its own.
const skip = skipUnlessAvailable(etcdAvailable());
const skipOwn = skipUnlessAvailable(etcdBinary());
let fixture: Promise<EtcdFixture> | undefined;
const etcd = () => (fixture ??= useEtcd('registry'));
after(async () => {
  if (fixture) await (await fixture).stop();
});

const base = () => etcd().then(f => f.prefix);
const freshPrefix = async () => `${await base()}${randomBytes(4).toString('hex')}/`;

if (!skip) {
  registryContract('EtcdRegistry', async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const opened: Registry[] = [];
    const open = async () => {
      const r = await EtcdRegistry.connect({ endpoints: [endpoint], prefix, callTimeoutMs: 2_000 });
      opened.push(r);
      return r;
    };
    const registry = await open();
    return {
      registry,
      peer: open,
      advance: ms => new Promise(r => setTimeout(r, ms)),
      // A process that dies stops its keepalives: its leases expire after their TTL.
      crash: async r => r.close(),
      ttlMs: 1_000,
      expiryWaitMs: 3_000,
      dispose: async () => {
        for (const r of opened) await r.close();
      },
    };
  });
}

describe('EtcdRegistry on etcd', { skip }, () => {
  test("fleet's key layout under the prefix", async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const registry = await EtcdRegistry.connect({ endpoints: [`http://${endpoint}`], prefix });
    const raw = new Etcd3({ hosts: endpoint });
    try {
      const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 100' }];
      await registry.putUnit({ name: 'hello.service', options, desiredState: 'loaded' });
      await scheduleUnit(registry, 'hello.service', 'm1');
      await registry.patchMachineMetadata([{ machineId: 'm1', key: 'role', value: 'db' }]);
      const leadership = await registry.tryAcquireLeadership('m1', 5_000);
      const keys = await raw.getAll().prefix(prefix).strings();
      const rel = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k.slice(prefix.length), v]));
      assert.equal(rel['job/hello.service/target-state'], 'loaded');
      assert.equal(rel['job/hello.service/target'], 'm1');
      assert.equal(rel['machines/m1/metadata/role'], 'db');
      assert.deepEqual(JSON.parse(rel['lease/engine-leader']!), { MachineID: 'm1', Version: 1 });
      const object = JSON.parse(rel['job/hello.service/object']!) as { Name: string; UnitHash: number[] };
      assert.equal(object.Name, 'hello.service');
      // Case 23: the hash, stored as fleet does (20 byte values).
      assert.equal(unitHash(options), '1c6fb6f3684bafb0c173d8b8b957ceff031180c1');
      assert.equal(Buffer.from(object.UnitHash).toString('hex'), '1c6fb6f3684bafb0c173d8b8b957ceff031180c1');
      assert.deepEqual(JSON.parse(rel['unit/1c6fb6f3684bafb0c173d8b8b957ceff031180c1']!), { Raw: '[Service]\nExecStart=/bin/sleep 100\n' });
      assert.equal(await registry.leader(), 'm1');
      await leadership?.release();
      assert.equal(await registry.leader(), undefined);
    } finally {
      raw.close();
      await registry.close();
    }
  });

  test('unreachable etcd: RegistryUnavailableError, fast; connect still succeeds', async () => {
    const registry = await EtcdRegistry.connect({ endpoints: ['127.0.0.1:1'], callTimeoutMs: 1_000 });
    try {
      const started = Date.now();
      await assert.rejects(
        registry.listUnits(),
        (err: unknown) => err instanceof RegistryUnavailableError && err.message === 'fleet server unable to communicate with etcd',
      );
      await assert.rejects(registry.ping(), RegistryUnavailableError);
      await assert.rejects(registry.registerMachine({ id: 'm', publicIP: '', metadata: {}, version: 'x' }, 1_000), RegistryUnavailableError);
      assert.ok(Date.now() - started < 10_000, 'fails within the call deadline');
    } finally {
      await registry.close();
    }
    await assert.rejects(registry.listUnits(), RegistryUnavailableError, 'a closed registry is unavailable');
    await assert.rejects(EtcdRegistry.connect({ endpoints: [] }), /no etcd endpoints given/);
    await assert.rejects(EtcdRegistry.connect({ endpoints: ['https://127.0.0.1:2379'] }), /TLS to etcd is not supported/);
    await assert.rejects(
      EtcdRegistry.connect({ endpoints: ['127.0.0.1'] }),
      /"127.0.0.1" is not an etcd endpoint \(expected host:port or http:\/\/host:port\)/,
    );
  });

  test('a presence lease etcd expired (under load) is re-granted at once, with its states and heartbeats', async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const registry = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const raw = new Etcd3({ hosts: endpoint });
    try {
      await registry.putUnit({ name: 'a.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'launched' });
      await scheduleUnit(registry, 'a.service', 'm1');
      // fleet's 30 s TTL: etcd3's keepalive would notice a lost lease only up to 10 s later.
      const presence = await registry.registerMachine({ id: 'm1', publicIP: '127.0.0.1', metadata: {}, version: 't' }, 30_000);
      const state = { name: 'a.service', machineId: 'm1', hash: 'c'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' };
      await registry.publishUnits('m1', { states: [state], launched: ['a.service'] }, 30_000);
      // The watch is up once it has given its first hint (everyone gets one when it starts).
      let hinted = false;
      registry.watchMachine('m1', () => (hinted = true));
      await waitFor('the watch to start', () => hinted);
      // What etcd does to a lease it considers expired: revoke it, deleting its keys.
      const machineKey = `${prefix}machines/m1/object`;
      const leaseId = (await raw.get(machineKey).exec()).kvs[0]!.lease;
      const revokedAt = Date.now();
      await raw.leaseClient.leaseRevoke({ ID: leaseId });
      await waitFor('the machine to be back', async () => (await registry.listMachines()).some(m => m.id === 'm1'), { timeoutMs: 5_000, intervalMs: 50 });
      await waitFor('its state to be back', async () => (await registry.listUnitStates()).some(st => st.name === 'a.service' && st.machineId === 'm1'), {
        timeoutMs: 5_000,
        intervalMs: 50,
      });
      assert.equal((await registry.getSchedule()).get('a.service')?.launchedOn, 'm1', 'the launched heartbeat is back');
      assert.ok(Date.now() - revokedAt < 5_000, `back in ${Date.now() - revokedAt} ms, long before the next keepalive`);
      const newLease = (await raw.get(machineKey).exec()).kvs[0]!.lease;
      assert.notEqual(newLease, leaseId);
      // Everything is on the new lease: releasing the machine takes its states with it.
      await presence.release();
      assert.deepEqual(await registry.listMachines(), []);
      assert.deepEqual(await registry.listUnitStates(), []);
    } finally {
      raw.close();
      await registry.close();
    }
  });

  test("an agent's clean stop: its units' states and heartbeats go with the machine's presence, in one request, not one per unit", async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const registry = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const reader = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const calls: string[] = [];
    const counted = new Proxy(registry, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const M = 'a'.repeat(32);
    const names = Array.from({ length: 150 }, (_, i) => `u${i}.service`);
    const fake = new FakeUnitManager();
    const agent = new Agent({ registry: counted, machine: { id: M, publicIP: '127.0.0.1', metadata: {} }, unitManager: fake, intervalMs: 60_000 });
    try {
      for (const name of names)
        await registry.putUnit({ name, options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'launched' });
      assert.ok((await registry.applySchedule(names.map(unit => ({ kind: 'schedule' as const, unit, machineId: M })))).every(Boolean));
      await agent.start();
      await agent.reconcile();
      await waitFor(
        '150 states and heartbeats',
        async () => {
          const states = (await reader.listUnitStates()).filter(st => st.machineId === M);
          const launched = [...(await reader.getSchedule()).values()].filter(e => e.launchedOn === M);
          return states.length === 150 && launched.length === 150;
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      calls.length = 0;
      const t0 = performance.now();
      await agent.stop();
      const ms = performance.now() - t0;
      assert.deepEqual(
        calls.filter(c => c === 'clearLaunched' || c === 'removeUnitState'),
        [],
        'no per-unit request',
      );
      assert.equal(fake.calls.filter(c => c.startsWith('unload(')).length, 150, 'every unit unloaded');
      assert.deepEqual(
        (await reader.listUnitStates()).filter(st => st.machineId === M),
        [],
      );
      assert.deepEqual(
        [...(await reader.getSchedule()).values()].filter(e => e.launchedOn === M),
        [],
      );
      assert.deepEqual(
        (await reader.listMachines()).filter(m => m.id === M),
        [],
      );
      assert.ok(ms < 5_000, `stopped in ${Math.round(ms)} ms`);
    } finally {
      await agent.stop();
      await registry.close();
      await reader.close();
    }
  });

  test('new units submitted at once go out together: one revision for several units, not one each', async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const registry = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const raw = new Etcd3({ hosts: endpoint });
    try {
      const names = Array.from({ length: 8 }, (_, i) => `g${i}.service`);
      const results = await Promise.all(
        names.map(name =>
          registry.createUnit({ name, options: [{ section: 'Service', name: 'ExecStart', value: `/bin/sleep ${name.length}` }], desiredState: 'launched' }),
        ),
      );
      assert.deepEqual(
        results,
        names.map(() => true),
      );
      const kvs = await raw.getAll().prefix(`${prefix}job/`).exec();
      const revisions = new Set(kvs.kvs.filter(kv => kv.key.toString().endsWith('/object')).map(kv => kv.mod_revision));
      assert.equal(kvs.kvs.length, 16, 'a job object and a target state each');
      assert.ok(revisions.size <= 2, `8 units written in ${revisions.size} revisions`);
    } finally {
      raw.close();
      await registry.close();
    }
  });

  test("the watch leaves out the unit blobs, and every machine's states until someone watches states", async () => {
    const { endpoint } = await etcd();
    const prefix = await freshPrefix();
    const writer = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const agentSide = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
    const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 100' }];
    const state = (name: string, activeState: string) => ({ name, machineId: 'm2', hash: 'e'.repeat(40), loadState: 'loaded', activeState, subState: 'x' });
    try {
      const sub = agentSide.watchMachine('m1', () => undefined);
      await agentSide.machineView('m1');
      // The watch is live once a write reaches it.
      let n = 0;
      await waitFor(
        'the watch is live',
        async () => {
          await writer.patchMachineMetadata([{ machineId: 'm1', key: 'k', value: String(n++) }]);
          await new Promise(r => setTimeout(r, 50));
          return agentSide.watchReceived.events > 0;
        },
        { timeoutMs: 5_000, intervalMs: 20 },
      );
      await new Promise(r => setTimeout(r, 200));
      const before = agentSide.watchReceived.events;
      // A new unit is three keys (blob, job object, target state): the blob is not watched.
      assert.equal(await writer.createUnit({ name: 'a.service', options, desiredState: 'launched' }), true);
      await scheduleUnit(writer, 'a.service', 'm1');
      // Another machine's state is not watched either, while nobody listens to states.
      await saveUnitState(writer, state('a.service', 'active'), 30_000);
      await setLaunched(writer, 'a.service', 'm2', 30_000);
      await waitFor('the heartbeat arrived', () => agentSide.watchReceived.events - before >= 4, { timeoutMs: 5_000, intervalMs: 20 });
      await new Promise(r => setTimeout(r, 200));
      assert.equal(agentSide.watchReceived.events - before, 4, 'job object, target state, target and heartbeat; no blob, no state');
      // A states listener widens the watch: it hears state changes from then on.
      let stateHints = 0;
      const states = agentSide.watch('states', () => stateHints++);
      await waitFor(
        'a state change reaches the new states listener',
        async () => {
          await saveUnitState(writer, state('a.service', `active-${Date.now()}`), 30_000);
          await new Promise(r => setTimeout(r, 100));
          return stateHints > 0;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      // And the machine view still serves the unit scheduled there.
      assert.deepEqual(
        (await agentSide.machineView('m1')).units.map(u => u.name),
        ['a.service'],
      );
      states.dispose();
      sub.dispose();
    } finally {
      await writer.close();
      await agentSide.close();
    }
  });

  test('etcd restart: unavailable while down, data kept, presence re-published and watches resume', { skip: skipOwn }, async () => {
    const own = await EtcdServer.start();
    const prefix = '/fleet-test/restart/';
    const registry = await EtcdRegistry.connect({ endpoints: [own.endpoint], prefix, callTimeoutMs: 1_000 });
    try {
      await registry.putUnit({ name: 'a.service', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], desiredState: 'launched' });
      await scheduleUnit(registry, 'a.service', 'm1');
      const presence = await registry.registerMachine({ id: 'm1', publicIP: '127.0.0.1', metadata: { a: 'b' }, version: 't' }, 1_000);
      // Written once, on the presence lease (agents rewrite them only on change).
      await saveUnitState(
        registry,
        { name: 'a.service', machineId: 'm1', hash: 'c'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
        1_000,
      );
      await setLaunched(registry, 'a.service', 'm1', 1_000);
      let unitEvents = 0;
      registry.watch('units', () => unitEvents++);
      await waitFor('the watch to start (its first hint)', () => unitEvents > 0);

      await own.halt('SIGKILL');
      await assert.rejects(registry.listUnits(), RegistryUnavailableError);
      await assert.rejects(registry.ping(), RegistryUnavailableError);
      // Down for longer than the presence TTL: etcd will have to forget that lease.
      await new Promise(r => setTimeout(r, 2_500));
      await own.relaunch();

      await waitFor(
        'the registry to answer again',
        async () => {
          try {
            await registry.ping();
            return true;
          } catch {
            return false;
          }
        },
        { timeoutMs: 15_000 },
      );
      assert.deepEqual(
        (await registry.listUnits()).map(u => [u.name, u.desiredState]),
        [['a.service', 'launched']],
      );
      assert.equal((await registry.getSchedule()).get('a.service')?.machineId, 'm1');
      await waitFor('the machine to be re-published', async () => (await registry.listMachines()).some(m => m.id === 'm1'), { timeoutMs: 15_000 });
      assert.deepEqual((await registry.listMachines())[0]?.metadata, { a: 'b' });
      // The lost lease took the state and the heartbeat with it; they are back on the new one.
      await waitFor(
        'the unit state to be re-published',
        async () => (await registry.listUnitStates()).some(st => st.name === 'a.service' && st.machineId === 'm1'),
        { timeoutMs: 15_000 },
      );
      assert.equal((await registry.getSchedule()).get('a.service')?.launchedOn, 'm1');

      // Let the reconnect hint pass, then count only events caused by writes.
      await new Promise(r => setTimeout(r, 2_500));
      unitEvents = 0;
      let flip = 0;
      await waitFor(
        'the watch to deliver after the restart',
        async () => {
          // A real change each time (same-value writes wake nobody).
          await registry.setDesiredState('a.service', flip++ % 2 ? 'launched' : 'loaded');
          await new Promise(r => setTimeout(r, 200));
          return unitEvents > 0;
        },
        { timeoutMs: 15_000 },
      );
      await presence.release();
      assert.deepEqual(await registry.listMachines(), []);
    } finally {
      await registry.close();
      await own.stop();
    }
  });
});
