/**
 * The Registry contract against Etcd2Registry on fleet's own etcd v2 keyspace (Debian's etcd 3.4
 * with --enable-v2=true on 127.0.0.1, random ports), each test under its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
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
