/**
 * The explorer's first read of a big cluster (issue 16, the cold open): against fleetd, one
 * request per list (fleetd's `pageSize`) instead of a walk of pages of 100 one after the other;
 * against a fleet API that ignores `pageSize` (fleet's pages of 100), every page is still followed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { HttpFleetApi } from '../src/api/fleetApi';
import { ClusterSnapshot } from '../src/cluster/snapshot';
import { createApiServer, type ApiServer } from '../../fleetd/src/api';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import { saveUnitState } from '../../registry/test/registryOps';
import { FakeFleetServer } from './fleetApiServer.test';

const UNITS = 1000;
const HELLO = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];
const name = (i: number) => `u${String(i).padStart(4, '0')}.service`;

/** fleetd's API over a MemoryRegistry with UNITS units and their states, behind a proxy that counts requests. */
async function fleetdWithUnits(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
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
