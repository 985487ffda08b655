/**
 * The API over EtcdRegistry on a private etcd: fleet's 503 until etcd answers (fleetd started
 * before etcd), the normal flow, 503 again while etcd is down, and recovery without a restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiServer } from '../src/api';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { EtcdServer, etcdBinary, freePorts, skipUnlessAvailable, waitFor } from '../../test/support';
import { ApiClient, errorBody, HELLO_OPTIONS } from './apiHarness';

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
