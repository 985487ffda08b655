/**
 * The explorer's first read of a big cluster (issue 16, the cold open): against fleetd, one
 * request per list (fleetd's `pageSize`) instead of a walk of pages of 100 one after the other,
 * the three at once, and no request for the change feed's token before them (the lists' ETags are
 * the token); against a fleet API that ignores `pageSize` (fleet's pages of 100), every page is
 * still followed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { HttpFleetApi } from '../src/api/fleetApi';
import type { CollectionItems } from '../src/api/types';
import { ClusterModel } from '../src/cluster/clusterModel';
import { ClusterSnapshot } from '../src/cluster/snapshot';
import { createApiServer, type ApiServer } from '../../fleetd/src/api';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import { saveUnitState } from '../../registry/test/registryOps';
import { FakeFleetServer } from './fleetApiServer.test';
import { waitFor } from '../../test/support';

const UNITS = 1000;
const HELLO = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
const name = (i: number) => `u${String(i).padStart(4, '0')}.service`;

/** fleetd's API over a MemoryRegistry with UNITS units and their states, behind a proxy that counts requests. */
async function fleetdWithUnits(): Promise<{ url: string; registry: MemoryRegistry; requests: string[]; close(): Promise<void> }> {
  const registry = new MemoryRegistry();
  for (let i = 0; i < UNITS; i++) {
    await registry.putUnit({ name: name(i), options: HELLO, desiredState: 'launched' });
    await saveUnitState(
      registry,
      { name: name(i), machineId: 'm1', hash: 'e'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
      60_000,
    );
  }
  const server: ApiServer = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
  const target = new URL(server.urls[0]!);
  const requests: string[] = [];
  const proxy = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, r => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>(r => proxy.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    registry,
    requests,
    close: async () => {
      await new Promise(r => proxy.close(r));
      await server.close();
      await registry.close();
    },
  };
}

describe('the first read of 1,000 units', () => {
  let fleetd: Awaited<ReturnType<typeof fleetdWithUnits>>;
  before(async () => (fleetd = await fleetdWithUnits()));
  after(async () => fleetd.close());

  test('on fleetd: one request per list (pageSize), every unit and state read', async () => {
    const api = new HttpFleetApi({ endpoint: fleetd.url });
    try {
      fleetd.requests.length = 0;
      const snapshot = await ClusterSnapshot.fetch(api);
      assert.deepEqual([snapshot.units.length, snapshot.states.length], [UNITS, UNITS]);
      assert.deepEqual(snapshot.units.map(u => u.name).slice(0, 2), [name(0), name(1)]);
      assert.deepEqual([...fleetd.requests].sort(), [
        'GET /fleet/v1/machines?pageSize=5000&alt=json',
        'GET /fleet/v1/state?pageSize=5000&alt=json',
        'GET /fleet/v1/units?pageSize=5000&alt=json',
      ]);
    } finally {
      api.dispose();
    }
  });

  test('pages smaller than the cluster are followed with the same pageSize (fleetd checks the tokens carry it)', async () => {
    const api = new HttpFleetApi({ endpoint: fleetd.url, pageSize: 400 });
    try {
      fleetd.requests.length = 0;
      const snapshot = await ClusterSnapshot.fetch(api);
      assert.deepEqual([snapshot.units.length, snapshot.states.length], [UNITS, UNITS]);
      assert.equal(fleetd.requests.filter(r => r.startsWith('GET /fleet/v1/units')).length, 3);
      assert.ok(
        fleetd.requests.every(r => r.includes('pageSize=400')),
        fleetd.requests.join('\n'),
      );
    } finally {
      api.dispose();
    }
  });

  test('on a fleet API that ignores pageSize: its pages of 100 are all followed', async () => {
    const units = Array.from({ length: UNITS }, (_, i) => ({ name: name(i), desiredState: 'launched' as const, currentState: 'launched' as const }));
    const server = new FakeFleetServer({ limit: 100, units, machines: [{ id: 'm1' }] });
    const api = new HttpFleetApi({ endpoint: await server.listen({ port: 0 }) });
    try {
      assert.equal((await api.listUnits()).length, UNITS);
      // 10 pages and fleet's empty last page (1,000 is a multiple of 100).
      assert.equal(server.requests.length, 11);
    } finally {
      api.dispose();
      await server.close();
    }
  });
});

describe("the model's first read takes the change feed's token from the lists", () => {
  let fleetd: Awaited<ReturnType<typeof fleetdWithUnits>>;
  before(async () => (fleetd = await fleetdWithUnits()));
  after(async () => fleetd.close());

  test('on fleetd: the three lists at once and then the wait on their tag, with no request before them; a change just after the read is shown', async () => {
    // A change that lands right after the three lists were read, before the model waits on the feed.
    let read = 0;
    class ChangeAfterRead extends HttpFleetApi {
      override async listIfChanged<C extends keyof CollectionItems>(collection: C, tag: string | undefined, signal?: AbortSignal) {
        const list = await super.listIfChanged(collection, tag, signal);
        if (++read === 3) await fleetd.registry.putUnit({ name: 'late.service', options: HELLO, desiredState: 'inactive' });
        return list;
      }
    }
    const api = new ChangeAfterRead({ endpoint: fleetd.url });
    const model = new ClusterModel({ intervalMs: 60_000 });
    try {
      fleetd.requests.length = 0;
      model.setApi(api);
      const release = model.watch();
      await waitFor('the late unit in the snapshot', () => model.view.kind === 'connected' && model.view.snapshot.units.some(u => u.name === 'late.service'), {
        timeoutMs: 10_000,
        intervalMs: 10,
      });
      const [first, second, third, wait] = fleetd.requests;
      assert.deepEqual(
        [first, second, third].sort(),
        ['GET /fleet/v1/machines?pageSize=5000&alt=json', 'GET /fleet/v1/state?pageSize=5000&alt=json', 'GET /fleet/v1/units?pageSize=5000&alt=json'],
        fleetd.requests.join('\n'),
      );
      assert.match(wait!, /^GET \/fleet\/v1\/machines\?wait=/, 'then the wait on the tag the lists carried, which the late change answers at once');
      release();
    } finally {
      model.dispose();
      api.dispose();
    }
  });

  test('lists whose tags differ (a change during the read): the token is asked for, and the lists read again at once', async () => {
    // The first units answer carries an older tag than the others: the cluster changed during the read.
    const requests: string[] = [];
    let firstUnits = true;
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.has('wait')) return void setTimeout(() => res.writeHead(304, { ETag: '"new"' }).end(), 20_000).unref();
      const old = url.pathname.endsWith('/units') && firstUnits;
      if (url.pathname.endsWith('/units')) firstUnits = false;
      res.writeHead(200, { 'Content-Type': 'application/json', ETag: old ? '"old"' : '"new"' });
      res.end(url.pathname.endsWith('/units') && !old ? '{"units":[{"name":"a.service","desiredState":"inactive"}]}' : '{}');
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
    const api = new HttpFleetApi({ endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    const model = new ClusterModel({ intervalMs: 60_000 });
    try {
      model.setApi(api);
      const release = model.watch();
      await waitFor('the wait on the feed', () => model.listeningForChanges, { timeoutMs: 10_000, intervalMs: 10 });
      assert.equal(model.view.kind === 'connected' && model.view.snapshot.units.map(u => u.name).join(), 'a.service', 'the second read is shown');
      const lists = (from: number, to: number) => requests.slice(from, to).sort();
      const three = [
        'GET /fleet/v1/machines?pageSize=5000&alt=json',
        'GET /fleet/v1/state?pageSize=5000&alt=json',
        'GET /fleet/v1/units?pageSize=5000&alt=json',
      ];
      assert.deepEqual(lists(0, 3), three, requests.join('\n'));
      assert.equal(requests[3], 'GET /fleet/v1/machines?alt=json', 'the token, before the second read');
      assert.deepEqual(lists(4, 7), three, requests.join('\n'));
      assert.equal(requests[7], 'GET /fleet/v1/machines?wait=%22new%22&alt=json');
      release();
    } finally {
      model.dispose();
      api.dispose();
      server.closeAllConnections();
      await new Promise(r => server.close(r));
    }
  });
});
