/**
 * Requests bounded by what the registry can take (issue 12, item 5): units larger than etcd takes
 * in one request get a 413 naming the limit and PATCH batches over 128 operations a 400 (not
 * fleet's 503 "unable to communicate with etcd"); requests with bodies are processed a few at a
 * time without holding back body-less ones; a body that does not arrive in time gets a 408; JSON
 * nested deeper than the decoder goes gets a 400.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createApiServer } from '../src/api';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import type { Registry } from '../../registry/src/registry';
import { etcdBinary, skipUnlessAvailable, useEtcd } from '../../test/support';
import { ApiClient, HELLO_OPTIONS } from './apiHarness';

/** A unit of about `bytes` bytes in options of 2000 bytes (fleet refuses lines over 2048). */
const bigUnit = (bytes: number) =>
  JSON.stringify({
    desiredState: 'inactive',
    options: [
      ...HELLO_OPTIONS,
      ...Array.from({ length: Math.ceil(bytes / 2000) }, (_, i) => ({ section: 'Service', name: 'Environment', value: `B${i}=${'x'.repeat(1990)}` })),
    ],
  });

test(
  'on etcd: units too large for one etcd request get 413 naming the limit; PATCH over 128 operations gets 400; neither is a 503',
  { skip: skipUnlessAvailable(etcdBinary()) },
  async () => {
    const etcd = await useEtcd('api-limits');
    const registry = await EtcdRegistry.connect({ endpoints: [etcd.endpoint], prefix: etcd.prefix, callTimeoutMs: 5_000 });
    const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
    const api = new ApiClient(server.urls[0]!);
    try {
      for (const size of [1_000_000, 1_600_000, 3_700_000]) {
        const r = await api.put('/fleet/v1/units/big.service', bigUnit(size));
        assert.equal(r.status, 413, `${size}: ${r.text.slice(0, 300)}`);
        assert.match((r.json as { error: { message: string } }).error.message, /etcd.*--max-request-bytes/, r.text);
      }
      // A unit that fits is stored (the API still works after the refusals).
      assert.equal((await api.put('/fleet/v1/units/small.service', bigUnit(100_000))).status, 201);

      const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ op: 'add', path: `/m1/metadata/k${i}`, value: { value: 'v' } }));
      const r = await api.patch('/fleet/v1/machines', ops(129));
      assert.equal(r.status, 400, r.text);
      assert.match((r.json as { error: { message: string } }).error.message, /129 operations.*at most 128/);
      assert.equal((await api.patch('/fleet/v1/machines', ops(128))).status, 204);
    } finally {
      await server.close();
      await registry.close();
      await etcd.stop();
    }
  },
);

test('deeply nested JSON is a 400 with a message, in PUT and PATCH bodies', async () => {
  const registry = new MemoryRegistry();
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
  const api = new ApiClient(server.urls[0]!);
  try {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const put = await api.put('/fleet/v1/units/a.service', `{"options":${deep}}`);
    assert.equal(put.status, 400, put.text);
    assert.match((put.json as { error: { message: string } }).error.message, /^unable to decode body: exceeded max depth/);
    const patch = await api.patch('/fleet/v1/machines', deep);
    assert.equal(patch.status, 400, patch.text);
    assert.match((patch.json as { error: { message: string } }).error.message, /^exceeded max depth/);
    // Brackets inside strings do not count.
    const ok = await api.put(
      '/fleet/v1/units/a.service',
      JSON.stringify({ desiredState: 'inactive', options: [{ section: 'Service', name: 'ExecStart', value: `/bin/echo ${'['.repeat(1500)}` }] }),
    );
    assert.equal(ok.status, 201, ok.text);
  } finally {
    await server.close();
  }
});

test('a body that does not arrive in time gets a 408 and the connection is closed', async () => {
  const registry = new MemoryRegistry();
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }], bodyTimeoutMs: 500 });
  const url = new URL(server.urls[0]!);
  try {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let answer = '';
    socket.on('data', c => (answer += c.toString()));
    const closed = new Promise<void>(resolve => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write('PUT /fleet/v1/units/a.service HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"desiredState":');
    const t0 = Date.now();
    const timer = setTimeout(() => socket.destroy(), 5_000);
    await closed;
    clearTimeout(timer);
    assert.ok(Date.now() - t0 < 4_000, `closed after ${Date.now() - t0} ms`);
    assert.match(answer, /^HTTP\/1\.1 408/, answer);
    assert.match(answer, /request body not received within 0\.5 s/);
  } finally {
    await server.close();
  }
});

test('requests with bodies are processed a few at a time; requests without one are never held back by them', async () => {
  const inner = new MemoryRegistry();
  let release!: () => void;
  const gate = new Promise<void>(resolve => (release = resolve));
  let puts = 0;
  const registry = new Proxy(inner, {
    get(target, prop) {
      // A new unit is written by createUnit (one write, no read first); a replace by putUnit.
      if (prop === 'putUnit' || prop === 'createUnit') {
        return async (...args: Parameters<Registry['putUnit']>) => {
          puts++;
          await gate;
          return prop === 'putUnit' ? target.putUnit(...args) : target.createUnit(...args);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }], maxConcurrentBodies: 2 });
  const api = new ApiClient(server.urls[0]!);
  try {
    const pending = Array.from({ length: 5 }, (_, i) => api.put(`/fleet/v1/units/u${i}.service`, bigUnit(200_000)));
    // Two are being processed (stuck in the registry), three wait; GETs still answer at once.
    for (let i = 0; i < 100 && puts < 2; i++) await new Promise(r => setTimeout(r, 20));
    assert.equal(puts, 2);
    const t0 = Date.now();
    const list = await api.get('/fleet/v1/units');
    assert.equal(list.status, 200);
    assert.ok(Date.now() - t0 < 1_000);
    // All five are in: two being processed, three waiting for a slot, and no third one processed.
    for (let i = 0; i < 250 && server.load().bodiesWaiting < 3; i++) await new Promise(r => setTimeout(r, 20));
    assert.deepEqual(server.load(), { bodiesProcessing: 2, bodiesWaiting: 3, longPolls: 0 });
    assert.equal(puts, 2, 'no third request with a body was processed while two were');
    release();
    const replies = await Promise.all(pending);
    assert.deepEqual(
      replies.map(r => r.status),
      [201, 201, 201, 201, 201],
    );
    assert.equal(puts, 5);
  } finally {
    release();
    await server.close();
  }
});

test("small unit bodies are not queued behind each other's registry writes: 8 submits reach the registry together (large ones still one at a time)", async () => {
  const inner = new MemoryRegistry();
  let release!: () => void;
  const gate = new Promise<void>(resolve => (release = resolve));
  let writes = 0;
  const registry = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'createUnit' || prop === 'putUnit') {
        return async (...args: unknown[]) => {
          writes++;
          await gate;
          return (Reflect.get(target, prop, target) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] }); // maxConcurrentBodies: 1
  const api = new ApiClient(server.urls[0]!);
  try {
    const small = Array.from({ length: 8 }, (_, i) =>
      api.put(`/fleet/v1/units/s${i}.service`, JSON.stringify({ desiredState: 'launched', options: HELLO_OPTIONS })),
    );
    for (let i = 0; i < 100 && writes < 8; i++) await new Promise(r => setTimeout(r, 20));
    assert.equal(writes, 8, 'all eight small bodies are at the registry at once');
    const large = [api.put('/fleet/v1/units/l0.service', bigUnit(200_000))];
    release();
    assert.deepEqual(
      (await Promise.all([...small, ...large])).map(r => r.status),
      Array(9).fill(201),
    );
    assert.equal((await api.get('/fleet/v1/units')).status, 200);
  } finally {
    release();
    await server.close();
  }
});

test('a unit body under the registry limit whose options cannot fit once written (twice) is refused before it is decoded', async () => {
  const inner = new MemoryRegistry();
  let puts = 0;
  const limit = 1_000_000;
  const registry = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'maxRequestBytes') return limit;
      if (prop === 'putUnit' || prop === 'createUnit') {
        return (...a: Parameters<Registry['putUnit']>) => {
          puts++;
          return prop === 'putUnit' ? target.putUnit(...a) : target.createUnit(...a);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
  const api = new ApiClient(server.urls[0]!);
  try {
    const body = bigUnit(600_000); // ~0.6 MB of option values: under the limit as a body, over it written twice
    assert.ok(Buffer.byteLength(body) < limit);
    const r = await api.put('/fleet/v1/units/big.service', body);
    assert.equal(r.status, 413, r.text);
    assert.match((r.json as { error: { message: string } }).error.message, /too large for etcd: .*--max-request-bytes \(1000000 bytes\)/);
    assert.equal(puts, 0);
    // A unit that fits is stored.
    assert.equal((await api.put('/fleet/v1/units/small.service', bigUnit(100_000))).status, 201);
    assert.equal(puts, 1);
  } finally {
    await server.close();
  }
});
