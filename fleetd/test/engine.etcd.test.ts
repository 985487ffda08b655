/**
 * The engine against EtcdRegistry on a private etcd (Debian's etcd-server on 127.0.0.1, random
 * ports): two engines in two "processes" (separate etcd connections) — placement, handover on a
 * clean stop, and takeover after the leader's process dies (its lease keepalives stop).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import type { Registry } from '../../registry/src/registry';
import { startEngine, type Engine } from '../src/engine';
import { EtcdServer, etcdBinary, skipUnlessAvailable } from '../../test/support';
import { waitForEqual } from '../../test/support/wait';

const skip = skipUnlessAvailable(etcdBinary());
let server: Promise<EtcdServer> | undefined;
const etcd = () => (server ??= EtcdServer.start());
after(async () => {
  if (server) await (await server).stop();
});

const TTL = 1_000;

async function connect(endpoint: string, prefix: string, opened: Registry[]): Promise<Registry> {
  const r = await EtcdRegistry.connect({ endpoints: [endpoint], prefix, callTimeoutMs: 2_000 });
  opened.push(r);
  return r;
}

const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];

describe('engine on etcd', { skip }, () => {
  test('two engines: placement, handover on stop, takeover after the leader dies', async () => {
    const { endpoint } = await etcd();
    const prefix = `/fleet-test/engine-${process.pid}-${randomBytes(4).toString('hex')}/`;
    const opened: Registry[] = [];
    const engines: Engine[] = [];
    const logs: string[] = [];
    try {
      const admin = await connect(endpoint, prefix, opened);
      await admin.registerMachine({ id: 'w1', publicIP: '', metadata: { region: 'east' }, version: '1.0.0' }, 10_000);
      await admin.registerMachine({ id: 'w2', publicIP: '', metadata: { region: 'west' }, version: '1.0.0' }, 10_000);
      const targets = async () => Object.fromEntries([...(await admin.getSchedule())].map(([n, e]) => [n, e.machineId]));

      const r1 = await connect(endpoint, prefix, opened);
      const r2 = await connect(endpoint, prefix, opened);
      const r3 = await connect(endpoint, prefix, opened);
      const log = (id: string) => (level: string, message: string) => logs.push(`${id} ${level} ${message}`);
      const e1 = await startEngine({ registry: r1, machineId: 'e1', intervalMs: 100, leaseTtlMs: TTL, log: log('e1') });
      engines.push(e1);
      await admin.putUnit({ name: 'a.service', options, desiredState: 'launched' });
      await admin.putUnit({
        name: 'b.service',
        options: [...options, { section: 'X-Fleet', name: 'MachineMetadata', value: 'region=west' }],
        desiredState: 'launched',
      });
      await admin.putUnit({
        name: 'c.service',
        options: [...options, { section: 'X-Fleet', name: 'MachineMetadata', value: 'region=north' }],
        desiredState: 'launched',
      });
      await waitForEqual('placement by e1', targets, { 'a.service': 'w1', 'b.service': 'w2' }, { timeoutMs: 15_000, intervalMs: 25 });
      await waitForEqual(
        'reasons',
        async () => Object.fromEntries(await admin.getUnitReasons()),
        { 'c.service': 'no machine has metadata region=north' },
        { timeoutMs: 15_000, intervalMs: 25 },
      );

      const e2 = await startEngine({ registry: r2, machineId: 'e2', intervalMs: 100, leaseTtlMs: TTL, log: log('e2') });
      engines.push(e2);
      await waitForEqual('e2 following', async () => logs.includes('e2 info engine: another engine holds the lease; e2 will retry every 100 ms'), true, {
        timeoutMs: 15_000,
        intervalMs: 25,
      });
      await e1.stop();
      await admin.putUnit({ name: 'd.service', options, desiredState: 'launched' });
      await waitForEqual(
        'e2 takes over at once after a clean stop',
        targets,
        { 'a.service': 'w1', 'b.service': 'w2', 'd.service': 'w1' },
        { timeoutMs: 15_000, intervalMs: 25 },
      );
      assert.ok(logs.includes('e2 info engine: e2 acquired the engine lease; scheduling'));

      const e3 = await startEngine({ registry: r3, machineId: 'e3', intervalMs: 100, leaseTtlMs: TTL, log: log('e3') });
      engines.push(e3);
      await waitForEqual('e3 following', async () => logs.includes('e3 info engine: another engine holds the lease; e3 will retry every 100 ms'), true, {
        timeoutMs: 15_000,
        intervalMs: 25,
      });
      // e2's process dies: its connection goes, and with it the lease keepalive.
      await e2.stop().catch(() => {});
      await r2.close();
      await admin.putUnit({ name: 'e.service', options, desiredState: 'launched' });
      await waitForEqual(
        'e3 takes over',
        targets,
        { 'a.service': 'w1', 'b.service': 'w2', 'd.service': 'w1', 'e.service': 'w2' },
        { timeoutMs: 15_000, intervalMs: 25 },
      );
      assert.ok(logs.includes('e3 info engine: e3 acquired the engine lease; scheduling'), logs.join('\n'));
    } finally {
      await Promise.all(engines.map(e => e.stop().catch(() => {})));
      for (const r of opened) await r.close().catch(() => {});
    }
  });

  test('a leader whose registry connection dies stops scheduling; the survivor takes over', async () => {
    const { endpoint } = await etcd();
    const prefix = `/fleet-test/engine-${process.pid}-${randomBytes(4).toString('hex')}/`;
    const opened: Registry[] = [];
    const engines: Engine[] = [];
    try {
      const admin = await connect(endpoint, prefix, opened);
      await admin.registerMachine({ id: 'w1', publicIP: '', metadata: {}, version: '1.0.0' }, 10_000);
      const targets = async () => Object.fromEntries([...(await admin.getSchedule())].map(([n, e]) => [n, e.machineId]));
      const r1 = await connect(endpoint, prefix, opened);
      const r2 = await connect(endpoint, prefix, opened);
      const errors: string[] = [];
      engines.push(await startEngine({ registry: r1, machineId: 'e1', intervalMs: 100, leaseTtlMs: TTL, log: (l, m) => l === 'error' && errors.push(m) }));
      await admin.putUnit({ name: 'a.service', options, desiredState: 'launched' });
      await waitForEqual('e1 schedules', targets, { 'a.service': 'w1' }, { timeoutMs: 15_000, intervalMs: 25 });
      engines.push(await startEngine({ registry: r2, machineId: 'e2', intervalMs: 100, leaseTtlMs: TTL }));
      // The leader's etcd connection is cut while its engine keeps running.
      await r1.close();
      await admin.putUnit({ name: 'b.service', options, desiredState: 'launched' });
      await waitForEqual('e2 schedules after the lease expires', targets, { 'a.service': 'w1', 'b.service': 'w1' }, { timeoutMs: 15_000, intervalMs: 25 });
      await waitForEqual('e1 reports its failing passes', async () => errors.length > 0, true, { timeoutMs: 15_000, intervalMs: 25 });
    } finally {
      await Promise.all(engines.map(e => e.stop().catch(() => {})));
      for (const r of opened) await r.close().catch(() => {});
    }
  });
});
