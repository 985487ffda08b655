/**
 * The API over EtcdRegistry on a private etcd: fleet's 503 until etcd answers (fleetd started
 * before etcd), the normal flow, 503 again while etcd is down, and recovery without a restart;
 * fleetctl's page walks over lists served from the watch-fed mirror, item for item what direct
 * reads serve, with fleet's tokens.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiServer } from '../src/api';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { EtcdServer, etcdAvailable, etcdBinary, freePorts, skipUnlessAvailable, useEtcd, waitFor } from '../../test/support';
import { ApiClient, errorBody, HELLO_OPTIONS } from './apiHarness';
import { encodePageToken } from '../../registry/src/api/pagination';
import { UnitsResource } from '../../registry/src/api/units';
import { StateResource } from '../../registry/src/api/state';
import { MachinesResource } from '../../registry/src/api/machines';
import { saveUnitState, scheduleUnit, setLaunched } from '../../registry/test/registryOps';

const UNAVAILABLE = errorBody(503, 'fleet server unable to communicate with etcd');

test('API on etcd: 503 before etcd starts and while it is down; recovers by itself', { skip: skipUnlessAvailable(etcdBinary()) }, async () => {
  const [clientPort, peerPort] = await freePorts(2);
  const registry = await EtcdRegistry.connect({ endpoints: [`127.0.0.1:${clientPort}`], prefix: '/fleet-api-test/', callTimeoutMs: 1_000 });
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
  const api = new ApiClient(server.urls[0]!);
  let etcd: EtcdServer | undefined;
  try {
    for (const p of ['/fleet/v1/units', '/fleet/v1/discovery', '/fleet/v1/units/a.service']) assert.deepEqual((await api.get(p)).json, UNAVAILABLE, p);

    etcd = await EtcdServer.start({ clientPort: clientPort!, peerPort: peerPort! });
    await waitFor('the API to answer', async () => (await api.get('/fleet/v1/units')).status === 200, { timeoutMs: 15_000 });
    assert.equal((await api.put('/fleet/v1/units/hello.service', { options: HELLO_OPTIONS })).status, 201);
    assert.equal((await api.put('/fleet/v1/units/hello.service', { desiredState: 'loaded' })).status, 204);
    assert.deepEqual((await api.get('/fleet/v1/units/hello.service')).json, {
      name: 'hello.service',
      options: HELLO_OPTIONS,
      desiredState: 'loaded',
      currentState: 'inactive',
    });
    assert.equal((await api.patch('/fleet/v1/machines', [{ op: 'add', path: '/m1/metadata/role', value: { value: 'db' } }])).status, 204);

    await etcd.halt('SIGKILL');
    assert.deepEqual((await api.get('/fleet/v1/units/hello.service')).json, UNAVAILABLE);
    assert.deepEqual((await api.put('/fleet/v1/units/other.service', { options: HELLO_OPTIONS })).json, UNAVAILABLE);
    assert.deepEqual((await api.get('/nope')).json, UNAVAILABLE, 'every path while unreachable, as fleet');

    await etcd.relaunch();
    await waitFor('the API to answer again', async () => (await api.get('/fleet/v1/units/hello.service')).status === 200, { timeoutMs: 15_000 });
    assert.equal(((await api.get('/fleet/v1/units/hello.service')).json as { desiredState: string }).desiredState, 'loaded', 'data kept');
    assert.equal((await api.get('/nope')).status, 404);
    assert.equal((await api.delete('/fleet/v1/units/hello.service')).status, 204);
  } finally {
    await server.close();
    await registry.close();
    await etcd?.stop();
  }
});

/** fleetctl's walk: pages of the server's 100, following nextPageToken until there is none. */
async function walk(api: ApiClient, path: string, field: string): Promise<{ items: unknown[]; tokens: string[]; sizes: number[] }> {
  const out = { items: [] as unknown[], tokens: [] as string[], sizes: [] as number[] };
  let token: string | undefined;
  do {
    const reply = await api.get(token === undefined ? path : `${path}?nextPageToken=${encodeURIComponent(token)}`);
    assert.equal(reply.status, 200, reply.text);
    const page = reply.json as Record<string, unknown> & { nextPageToken?: string };
    const items = (page[field] as unknown[] | undefined) ?? [];
    out.items.push(...items);
    out.sizes.push(items.length);
    token = page.nextPageToken;
    if (token !== undefined) out.tokens.push(token);
  } while (token !== undefined);
  return out;
}

test(
  "fleetctl's page walks (pages of 100, tokens) over lists from the mirror: the same items as direct reads",
  { skip: skipUnlessAvailable(etcdAvailable()) },
  async () => {
    const fixture = await useEtcd('api-pages');
    const registry = await EtcdRegistry.connect({ endpoints: [fixture.endpoint], prefix: fixture.prefix });
    // Another process (the agents, the engine): writes, and reads etcd directly (no watch).
    const peer = await EtcdRegistry.connect({ endpoints: [fixture.endpoint], prefix: fixture.prefix });
    const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
    const api = new ApiClient(server.urls[0]!);
    try {
      for (let m = 0; m < 3; m++) await peer.registerMachine({ id: `m${m}`, publicIP: `10.0.0.${m}`, metadata: { n: String(m) }, version: '1' }, 30_000);
      const names = Array.from({ length: 250 }, (_, i) => `app-${String(i).padStart(3, '0')}.service`);
      await Promise.all(names.map((name, i) => peer.createUnit({ name, options: HELLO_OPTIONS, desiredState: i % 2 ? 'launched' : 'loaded' })));
      for (const [i, name] of names.entries()) {
        if (i % 5 === 4) continue;
        await scheduleUnit(peer, name, `m${i % 3}`);
        await saveUnitState(
          peer,
          { name, machineId: `m${i % 3}`, hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
          30_000,
        );
        if (i % 2) await setLaunched(peer, name, `m${i % 3}`, 30_000);
      }
      await peer.setUnitReasons(new Map([['app-004.service', 'no machine qualifies']]));
      // The mirror serves once its watch is up (the API's change feed started it).
      await waitFor('lists from the mirror', async () => (await api.get('/fleet/v1/units')).status === 200 && registry.listReads.mirror > 0, {
        timeoutMs: 10_000,
      });

      const check = async (label: string) => {
        const before = registry.listReads;
        const units = await walk(api, '/fleet/v1/units', 'units');
        const states = await walk(api, '/fleet/v1/state', 'states');
        const machines = await walk(api, '/fleet/v1/machines', 'machines');
        assert.equal(registry.listReads.direct, before.direct, `${label}: served from the mirror`);
        assert.ok(registry.listReads.mirror > before.mirror, label);
        // Item for item what today's direct reads give (fleet's API semantics over a registry without a watch).
        assert.deepEqual(units.items, await new UnitsResource(peer, 100).all(), `${label}: units`);
        assert.deepEqual(states.items, await new StateResource(peer, 100).all(), `${label}: states`);
        assert.deepEqual(machines.items, await new MachinesResource(peer, 100).all(), `${label}: machines`);
        assert.equal(peer.listReads.mirror, 0, 'the peer reads directly');
        return { units, states };
      };
      const first = await check('before a change');
      // fleet's walk: 100, 100, the rest; a token per following page (its quirk: a last page that is exactly full still gets one).
      assert.deepEqual(first.units.sizes, [100, 100, 50]);
      assert.deepEqual(first.units.tokens, [encodePageToken({ limit: 100, page: 2 }), encodePageToken({ limit: 100, page: 3 })]);
      assert.deepEqual(first.states.sizes, [100, 100, 0]);
      assert.equal(first.units.items.length, 250);
      assert.deepEqual((first.units.items as { name: string; reason?: string }[]).find(u => u.name === 'app-004.service')?.reason, 'no machine qualifies');
      // fleetd's big pages give the same list in one request.
      assert.deepEqual(((await api.get('/fleet/v1/units?pageSize=5000')).json as { units: unknown[] }).units, first.units.items);

      // A change through the API and one through another process: the next walk has both.
      assert.equal((await api.put('/fleet/v1/units/zzz.service', { options: HELLO_OPTIONS, desiredState: 'launched' })).status, 201);
      await peer.deleteUnit('app-000.service');
      const second = await check('after a change');
      const secondNames = (second.units.items as { name: string }[]).map(u => u.name);
      assert.equal(secondNames.length, 250);
      assert.ok(secondNames.includes('zzz.service') && !secondNames.includes('app-000.service'));
    } finally {
      await server.close();
      await registry.close();
      await peer.close();
      await fixture.stop();
    }
  },
);
