/**
 * EtcdRegistry's list reads from the watch-fed mirror (etcdMirrorReads.ts) on a real etcd:
 * another process's write is in the next list (the read waits for the mirror), the registry's
 * own write is in the list right after it returns, a write outside the watch's range does not
 * make a read wait, a broken or stalled watch falls back to direct reads (never a stale list),
 * and the mirror's lists equal the direct reads' for a mixed cluster.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { after, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { ALL_TOPICS, type Disposable, type UnitStateRecord } from '../../registry/src/registry';
import { etcdAvailable, skipUnlessAvailable, useEtcd, waitFor, type EtcdFixture } from '../../test/support';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

const skip = skipUnlessAvailable(etcdAvailable());
let fixture: Promise<EtcdFixture> | undefined;
const etcd = () => (fixture ??= useEtcd('mirror-reads'));
after(async () => {
  if (fixture) await (await fixture).stop();
});

const OPTIONS = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 100' }];
const GLOBAL_OPTIONS = [...OPTIONS, { section: 'X-Fleet', name: 'Global', value: 'true' }];

function state(name: string, machineId: string, activeState = 'active'): UnitStateRecord {
  return { name, machineId, hash: 'e'.repeat(40), loadState: 'loaded', activeState, subState: 'running' };
}

/** What the API process has: a registry whose change feed listens to every topic (so its mirror holds the states too). */
interface Cluster {
  api: EtcdRegistry;
  /** Another process (an agent, the engine): writes through its own registry, reads etcd directly (no watch). */
  peer: EtcdRegistry;
  prefix: string;
  endpoint: string;
  close(): Promise<void>;
}

/**
 * `watchDelayMs`: the API registry's watch events reach its mirror that much later (in order), as
 * on a loaded machine, so that a read that did not wait for the mirror would miss the last write.
 */
async function cluster(apiOptions: { consistentReadBudgetMs?: number } = {}, watchDelayMs = 0): Promise<Cluster> {
  const { endpoint, prefix: base } = await etcd();
  const prefix = `${base}${randomBytes(4).toString('hex')}/`;
  const api = await EtcdRegistry.connect({ endpoints: [endpoint], prefix, ...apiOptions });
  const peer = await EtcdRegistry.connect({ endpoints: [endpoint], prefix });
  const subscriptions: Disposable[] = ALL_TOPICS.map(t => api.watch(t, () => undefined));
  await servedFromMirror(api, 'lists', () => api.listUnits());
  if (watchDelayMs > 0) {
    const watcher = mirrorOf(api).watcher!;
    for (const event of ['put', 'delete'] as const) {
      for (const listener of watcher.listeners(event) as ((...args: unknown[]) => void)[]) {
        watcher.off(event, listener);
        watcher.on(event, (...args: unknown[]) => setTimeout(() => listener(...args), watchDelayMs));
      }
    }
  }
  return {
    api,
    peer,
    prefix,
    endpoint,
    close: async () => {
      for (const s of subscriptions) s.dispose();
      await api.close();
      await peer.close();
    },
  };
}

/** Every list the API reads, from one registry. */
async function lists(r: EtcdRegistry) {
  const [units, schedule, states, machines, reasons] = await Promise.all([
    r.listUnits(),
    r.getSchedule(),
    r.listUnitStates(),
    r.listMachines(),
    r.getUnitReasons(),
  ]);
  return { units, schedule, states, machines, reasons };
}

/** Waits until `read` of `r` is served from its mirror (the watch is live and caught up). */
async function servedFromMirror(r: EtcdRegistry, what: string, read: () => Promise<unknown>): Promise<void> {
  await waitFor(
    `the mirror serves ${what}`,
    async () => {
      const before = r.listReads.mirror;
      await read();
      return r.listReads.mirror > before;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
}

/** The watch object inside the registry's mirror (to break it the way a lost connection or a stuck stream would). */
function mirrorOf(r: EtcdRegistry): { needsResync: boolean; watcher: EventEmitter | undefined } {
  return (r as unknown as { mirror: { needsResync: boolean; watcher: EventEmitter | undefined } }).mirror;
}

describe('EtcdRegistry list reads from the mirror', { skip }, () => {
  test('lists from the mirror equal direct reads for a mixed cluster (units with options, schedule, states, machines, reasons)', async () => {
    const c = await cluster();
    try {
      const m1 = await c.peer.registerMachine({ id: 'm1', publicIP: '10.0.0.1', metadata: { region: 'eu' }, version: '1.0.0' }, 30_000);
      await c.peer.registerMachine({ id: 'm2', publicIP: '10.0.0.2', metadata: { region: 'us', disk: 'ssd' }, version: '1.0.0' }, 30_000);
      await c.peer.patchMachineMetadata([
        { machineId: 'm1', key: 'role', value: 'db' },
        { machineId: 'm2', key: 'disk', value: '' },
      ]);
      for (let i = 0; i < 30; i++) {
        const name = `web-${String(i).padStart(2, '0')}.service`;
        const options = [...OPTIONS, { section: 'Unit', name: 'Description', value: `web ${i} ✓` }];
        assert.equal(await c.peer.createUnit({ name, options, desiredState: i % 3 === 0 ? 'inactive' : 'launched' }), true);
        if (i % 2 === 0) await scheduleUnit(c.peer, name, i % 4 === 0 ? 'm1' : 'm2');
        if (i % 4 === 0) {
          await saveUnitState(c.peer, state(name, 'm1'), 30_000);
          await setLaunched(c.peer, name, 'm1', 30_000);
        }
      }
      await c.peer.putUnit({ name: 'global.service', options: GLOBAL_OPTIONS, desiredState: 'launched' });
      await c.peer.putUnit({ name: 'web@.service', options: OPTIONS, desiredState: 'inactive' });
      await saveUnitState(c.peer, state('global.service', 'm1'), 30_000);
      await saveUnitState(c.peer, state('global.service', 'm2', 'failed'), 30_000);
      await c.peer.setDesiredState('web-01.service', 'loaded');
      await c.peer.deleteUnit('web-03.service');
      await c.peer.setUnitReasons(new Map([['web-05.service', 'no machine has metadata region=ap']]));
      await m1.update({ id: 'm1', publicIP: '10.0.0.11', metadata: { region: 'eu' }, version: '1.0.0' });

      const before = c.api.listReads;
      const fromMirror = await lists(c.api);
      assert.equal(c.api.listReads.mirror - before.mirror, 5, 'all five lists from the mirror');
      assert.equal(c.api.listReads.direct, before.direct);
      const direct = await lists(c.peer);
      assert.equal(c.peer.listReads.mirror, 0, 'the peer has no watch: its lists are direct reads');
      assert.deepEqual(fromMirror, direct);
      // And what was written is there (the comparison is not of two empty lists).
      assert.equal(direct.units.length, 31);
      assert.equal(direct.units.find(u => u.name === 'web-01.service')?.desiredState, 'loaded');
      assert.deepEqual(direct.units.find(u => u.name === 'global.service')?.options, GLOBAL_OPTIONS);
      assert.equal(direct.schedule.get('web-04.service')?.launchedOn, 'm1');
      assert.equal(direct.states.length, 10);
      assert.deepEqual(
        direct.machines.map(m => [m.id, m.publicIP, m.metadata]),
        [
          ['m1', '10.0.0.11', { region: 'eu', role: 'db' }],
          ['m2', '10.0.0.2', { region: 'us' }],
        ],
      );
      assert.deepEqual([...direct.reasons], [['web-05.service', 'no machine has metadata region=ap']]);

      // The engine's snapshot comes from the mirror too, also in a machine process whose watch
      // leaves out the states: one read, equal to the direct transaction's.
      const engine = await EtcdRegistry.connect({ endpoints: [c.endpoint], prefix: c.prefix });
      const hints = (['units', 'schedule', 'machines'] as const).map(t => engine.watch(t, () => undefined));
      try {
        await servedFromMirror(engine, 'its snapshot', () => engine.snapshot());
        const snapshotBefore = c.api.listReads;
        const [fromEngine, fromApi, fromPeer] = await Promise.all([engine.snapshot(), c.api.snapshot(), c.peer.snapshot()]);
        assert.equal(c.api.listReads.mirror - snapshotBefore.mirror, 1, "the API registry's snapshot is one read from the mirror");
        assert.deepEqual(fromApi, fromPeer);
        assert.deepEqual(fromEngine, fromPeer);
        assert.equal(fromPeer.units.length, 31);
      } finally {
        for (const h of hints) h.dispose();
        await engine.close();
      }
    } finally {
      await c.close();
    }
  });

  test("another process's write is in the API registry's next list read (the read waits for the mirror)", async () => {
    const c = await cluster({}, 40);
    try {
      const before = c.api.listReads;
      for (let i = 0; i < 10; i++) {
        const name = `u${i}.service`;
        await c.peer.putUnit({ name, options: OPTIONS, desiredState: 'launched' });
        assert.ok(
          (await c.api.listUnits()).some(u => u.name === name),
          `${name} in the list read right after it was written`,
        );
        await scheduleUnit(c.peer, name, 'm1');
        assert.equal((await c.api.getSchedule()).get(name)?.machineId, 'm1');
        await saveUnitState(c.peer, state(name, 'm1', `active-${i}`), 30_000);
        assert.equal((await c.api.listUnitStates()).find(s => s.name === name)?.activeState, `active-${i}`);
        await c.peer.patchMachineMetadata([{ machineId: 'm1', key: 'n', value: String(i) }]);
        await c.peer.registerMachine({ id: `m-${i}`, publicIP: '', metadata: {}, version: '' }, 30_000);
        assert.ok((await c.api.listMachines()).some(m => m.id === `m-${i}`));
        await c.peer.setUnitReasons(new Map([[name, `reason ${i}`]]));
        assert.equal((await c.api.getUnitReasons()).get(name), `reason ${i}`);
        await c.peer.deleteUnit(name);
        assert.ok(!(await c.api.listUnits()).some(u => u.name === name), `${name} gone from the list read right after it was deleted`);
      }
      assert.equal(c.api.listReads.direct, before.direct, 'every read served from the mirror');
    } finally {
      await c.close();
    }
  });

  test('a write through the same registry is in the list read right after it returns', async () => {
    const c = await cluster({}, 40);
    try {
      const before = c.api.listReads;
      for (let i = 0; i < 10; i++) {
        const name = `own${i}.service`;
        assert.equal(await c.api.createUnit({ name, options: OPTIONS, desiredState: 'inactive' }), true);
        assert.equal((await c.api.listUnits()).find(u => u.name === name)?.desiredState, 'inactive');
        await c.api.setDesiredState(name, 'launched');
        assert.equal((await c.api.listUnits()).find(u => u.name === name)?.desiredState, 'launched');
        await c.api.patchMachineMetadata([{ machineId: 'm1', key: 'k', value: String(i) }]);
        assert.equal((await c.api.listMachines()).length, 0, 'metadata without a machine object is no machine');
        await c.api.deleteUnit(name);
        assert.ok(!(await c.api.listUnits()).some(u => u.name === name));
      }
      assert.equal(c.api.listReads.direct, before.direct, 'every read served from the mirror');
    } finally {
      await c.close();
    }
  });

  test("a write outside the watch's range does not hold reads back: they check the range and serve the mirror", async () => {
    const c = await cluster();
    const raw = new Etcd3({ hosts: c.endpoint });
    try {
      await c.peer.putUnit({ name: 'a.service', options: OPTIONS, desiredState: 'launched' });
      await c.api.listUnits();
      // The last write is now outside the range (another application's key): etcd's revision
      // moves, the mirror's does not; the read finds nothing changed in the range.
      await raw.put(`${c.prefix}engine/version`).value('1');
      await raw.put(`/elsewhere-${randomBytes(4).toString('hex')}`).value('x');
      const before = c.api.listReads;
      const started = Date.now();
      assert.deepEqual(
        (await c.api.listUnits()).map(u => u.name),
        ['a.service'],
      );
      assert.ok(Date.now() - started < 1_000, `served in ${Date.now() - started} ms, not after the 1.5 s budget`);
      assert.equal(c.api.listReads.checked - before.checked, 1, 'after a range check');
      assert.equal(c.api.listReads.mirror - before.mirror, 1);
    } finally {
      await raw.close();
      await c.close();
    }
  });

  test('a broken watch (reconnecting) reads etcd directly, and the list is right', async () => {
    const c = await cluster();
    try {
      mirrorOf(c.api).needsResync = true;
      await c.peer.putUnit({ name: 'b.service', options: OPTIONS, desiredState: 'launched' });
      const before = c.api.listReads;
      assert.deepEqual(
        (await c.api.listUnits()).map(u => u.name),
        ['b.service'],
      );
      assert.equal(c.api.listReads.direct - before.direct, 1);
      assert.equal(c.api.listReads.mirror, before.mirror);
    } finally {
      await c.close();
    }
  });

  test("a resync keeps a change the watch delivered before the resync's read was answered", async () => {
    const c = await cluster();
    try {
      const mirror = (c.api as unknown as { mirror: { resync(): Promise<void>; contents: { jobs: Map<string, string> }; live: unknown } }).mirror;
      const client = (c.api as unknown as { etcd: { client: Etcd3 } }).etcd.client;
      const getAll = client.getAll.bind(client);
      const hasB = () => [...mirror.contents.jobs.keys()].some(k => k.includes('/b.service/'));
      let held = false;
      // The resync's read is served first; before its answer lands, another process writes a unit
      // and the live watch delivers it to the mirror (as when the big read's answer is slower
      // than the small event). That write is newer than the read's snapshot.
      client.getAll = () => {
        const builder = getAll();
        if (held) return builder;
        held = true;
        const exec = builder.exec.bind(builder);
        builder.exec = async () => {
          const res = await exec();
          await c.peer.putUnit({ name: 'b.service', options: OPTIONS, desiredState: 'launched' });
          await waitFor('the watch delivered b.service to the mirror', hasB, { timeoutMs: 5_000, intervalMs: 10 });
          return res;
        };
        return builder;
      };
      await mirror.resync();
      client.getAll = getAll;
      assert.ok(held, "the resync read etcd through the client's getAll");
      assert.ok(hasB(), "b.service, written after the resync's read, is still in the mirror after the rebuild");
      const before = c.api.listReads;
      assert.deepEqual(
        (await c.api.listUnits()).map(u => u.name),
        ['b.service'],
      );
      assert.equal(c.api.listReads.mirror - before.mirror, 1, 'served from the mirror: it is caught up, not behind etcd');
    } finally {
      await c.close();
    }
  });

  test("an agent's view while a resync's read is under way comes from etcd, not from the mirror that missed the disconnection", async () => {
    const c = await cluster();
    try {
      const mirror = (c.api as unknown as { mirror: { resync(): Promise<void>; watcher: EventEmitter } }).mirror;
      const client = (c.api as unknown as { etcd: { client: Etcd3 } }).etcd.client;
      // Disconnected: what happens next never reaches the mirror as events.
      mirror.watcher.removeAllListeners('put');
      mirror.watcher.removeAllListeners('delete');
      await c.peer.putUnit({ name: 'e.service', options: OPTIONS, desiredState: 'launched' });
      assert.ok(await scheduleUnit(c.peer, 'e.service', 'm1'));
      // Reconnected: the agent's pass runs while the resync's read is still under way.
      const getAll = client.getAll.bind(client);
      let view: string[] | undefined;
      client.getAll = () => {
        const builder = getAll();
        client.getAll = getAll;
        const exec = builder.exec.bind(builder);
        builder.exec = async () => {
          const res = await exec();
          view = (await c.api.machineView('m1')).units.map(u => u.name);
          return res;
        };
        return builder;
      };
      await mirror.resync();
      assert.deepEqual(view, ['e.service'], 'the pass saw the unit scheduled to it while the watch was down');
    } finally {
      await c.close();
    }
  });

  test('a stalled watch (no events arrive) falls back to a direct read after the budget: never a stale list', async () => {
    const c = await cluster({ consistentReadBudgetMs: 300 });
    try {
      await c.peer.putUnit({ name: 'c.service', options: OPTIONS, desiredState: 'launched' });
      assert.deepEqual(
        (await c.api.listUnits()).map(u => u.name),
        ['c.service'],
      );
      // The stream stays up but its events no longer reach the mirror.
      mirrorOf(c.api).watcher!.removeAllListeners('put');
      mirrorOf(c.api).watcher!.removeAllListeners('delete');
      await c.peer.putUnit({ name: 'd.service', options: OPTIONS, desiredState: 'launched' });
      await c.peer.deleteUnit('c.service');
      const before = c.api.listReads;
      const started = Date.now();
      assert.deepEqual(
        (await c.api.listUnits()).map(u => u.name),
        ['d.service'],
      );
      assert.ok(Date.now() - started >= 250, 'waited for the mirror first');
      assert.equal(c.api.listReads.direct - before.direct, 1);
    } finally {
      await c.close();
    }
  });

  test("an agent's view from the mirror parses a job object again only when its text changed", async () => {
    const c = await cluster();
    try {
      for (const name of ['a.service', 'b.service']) {
        await c.peer.putUnit({ name, options: OPTIONS, desiredState: 'launched' });
        await scheduleUnit(c.peer, name, 'm1');
      }
      const optionsOf = async (name: string) => (await c.api.machineView('m1')).units.find(u => u.name === name)?.options;
      const first = await waitFor(
        'both units in the view',
        async () => ((await c.api.machineView('m1')).units.length === 2 ? optionsOf('a.service') : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 20,
        },
      );
      assert.equal(await optionsOf('a.service'), first, 'the same (frozen) options: not parsed again');
      assert.ok(Object.isFrozen(first));
      // Another unit's new content, and a.service's desired state: a.service's object text is unchanged.
      await c.peer.putUnit({ name: 'b.service', options: [...OPTIONS, { section: 'Unit', name: 'Description', value: 'b' }], desiredState: 'launched' });
      await c.peer.setDesiredState('a.service', 'loaded');
      await waitFor(
        'the new desired state in the view',
        async () => (await c.api.machineView('m1')).units.find(u => u.name === 'a.service')?.desiredState === 'loaded',
        {
          timeoutMs: 10_000,
          intervalMs: 20,
        },
      );
      assert.equal(await optionsOf('a.service'), first);
      assert.deepEqual(
        (await optionsOf('b.service'))?.map(o => o.name),
        ['ExecStart', 'Description'],
      );
      // a.service's own new content is parsed.
      await c.peer.putUnit({ name: 'a.service', options: [...OPTIONS, { section: 'Unit', name: 'Description', value: 'a' }], desiredState: 'loaded' });
      const changed = await waitFor(
        'the new content in the view',
        async () => ((await optionsOf('a.service'))?.length === 2 ? optionsOf('a.service') : undefined),
        {
          timeoutMs: 10_000,
          intervalMs: 20,
        },
      );
      assert.notEqual(changed, first);
      assert.deepEqual(
        changed!.map(o => [o.section, o.name, o.value]),
        [
          ['Service', 'ExecStart', '/bin/sleep 100'],
          ['Unit', 'Description', 'a'],
        ],
      );
    } finally {
      await c.close();
    }
  });
});
