/**
 * The Registry contract against Etcd2Registry on fleet's own etcd v2 keyspace (Debian's etcd 3.4
 * with --enable-v2=true on 127.0.0.1, random ports), each test under its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Etcd2Registry } from '../src/etcd2/etcd2Registry';
import type { Registry } from '../src/registry';
import { etcdAvailable, skipUnlessAvailable, useEtcd, type EtcdFixture } from '../../test/support';
import { registryContract } from './registry.contract';

const skip = skipUnlessAvailable(etcdAvailable());
let fixture: Promise<EtcdFixture> | undefined;
const etcd = () => (fixture ??= useEtcd('etcd2'));
after(async () => {
  if (fixture) await (await fixture).stop();
});

if (!skip) {
  registryContract('Etcd2Registry (etcd v2, fleet v1.0 layout)', async () => {
    const { endpoint, prefix: base } = await etcd();
    const prefix = `${base}${randomBytes(4).toString('hex')}/`;
    const opened: Registry[] = [];
    const open = async () => {
      const r = new Etcd2Registry({ endpoints: [`http://${endpoint}`], prefix, requestTimeoutMs: 3_000 });
      opened.push(r);
      return r;
    };
    const registry = await open();
    return {
      registry,
      peer: open,
      advance: ms => new Promise(r => setTimeout(r, ms)),
      // A process that dies stops renewing: its TTL keys expire.
      crash: async r => r.close(),
      ttlMs: 1_000,
      // etcd v2 TTLs are whole seconds and expiry lags by up to about a second.
      expiryWaitMs: 3_000,
      content: 'fleet',
      dispose: async () => {
        for (const r of opened) await r.close();
      },
    };
  });
}

describe("Etcd2Registry: fleet's engine protocol beside fleet v1.0 engines", { skip }, () => {
  const fresh = async () => {
    const { endpoint, prefix: base } = await etcd();
    const prefix = `${base}${randomBytes(4).toString('hex')}/`;
    const url = `http://${endpoint}`;
    const put = async (key: string, value: string, query = '', ttl?: number) => {
      const body = new URLSearchParams(ttl === undefined ? { value } : { ttl: String(ttl), value });
      const res = await fetch(`${url}/v2/keys${prefix}${key}${query ? `?${query}` : ''}`, {
        method: 'PUT',
        body: body.toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      return res.status;
    };
    const get = async (key: string) => {
      const res = await fetch(`${url}/v2/keys${prefix}${key}`);
      return res.status === 200 ? ((await res.json()) as { node: { value: string; ttl?: number } }).node : undefined;
    };
    return { registry: new Etcd2Registry({ endpoints: [url], prefix }), put, get };
  };

  test("a fleet engine's lease (fleet's value) is respected; engine/version is created as fleet does", async () => {
    const { registry, put, get } = await fresh();
    try {
      assert.equal(await put('lease/engine-leader', '{"MachineID":"ceccca69c7bc61d75b5d0d28a563a0be","Version":1}', 'prevExist=false', 10), 201);
      assert.equal(await registry.tryAcquireLeadership('f1ee7d00000000000000000000000001', 5_000), undefined);
      assert.equal((await get('engine/version'))?.value, '1');
    } finally {
      await registry.close();
    }
  });

  test('an older engine (version 0, a bare machine ID) is stolen from with TTL + its remaining time, as fleet does', async () => {
    const { registry, put, get } = await fresh();
    try {
      assert.equal(await put('lease/engine-leader', 'oldengine-machine', 'prevExist=false', 1), 201);
      const lease = await registry.tryAcquireLeadership('f1ee7d00000000000000000000000001', 5_000);
      assert.ok(lease?.held);
      const node = await get('lease/engine-leader');
      assert.deepEqual(JSON.parse(node!.value), { MachineID: 'f1ee7d00000000000000000000000001', Version: 1 });
      await lease!.release();
      assert.equal(await get('lease/engine-leader'), undefined, 'released with DELETE ?prevIndex');
    } finally {
      await registry.close();
    }
  });

  test('a cluster engine version above 1 keeps fleetd out of leadership (as it keeps fleet v1.0 out)', async () => {
    const { registry, put } = await fresh();
    try {
      assert.equal(await put('engine/version', '2'), 201);
      assert.equal(await registry.tryAcquireLeadership('f1ee7d00000000000000000000000001', 5_000), undefined);
    } finally {
      await registry.close();
    }
  });
});
