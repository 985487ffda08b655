/**
 * Units see their machine as on CoreOS: COREOS_PUBLIC_IPV4/COREOS_PRIVATE_IPV4 and, on an etcd
 * cluster, ETCDCTL_ENDPOINTS/ETCDCTL_PEERS. The end-to-end case runs the article's announcing
 * sidekick command (`etcdctl set … ${COREOS_PUBLIC_IPV4}:80 --ttl 60`, Debian's etcdctl under
 * ETCDCTL_API=2) from a unit against a real etcd serving v2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { startAgent, machineEnvironment, type RunningAgent } from '../src/agent';
import type { UnitOption } from '../../unitfile/src/serialize';
import { EtcdServer, assertAvailable, binary, etcdBinary, skipUnlessAvailable, waitFor } from '../../test/support';
import { scheduleUnit } from '../../registry/test/registryOps';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-machine-env-'));
const running: RunningAgent[] = [];
const etcds: EtcdServer[] = [];
after(async () => {
  await Promise.all(running.map(a => a.stop()));
  await Promise.all(etcds.map(e => e.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

const M1 = '33333333333333333333333333333333';
const opts = (...kv: [string, string, string][]): UnitOption[] => kv.map(([section, name, value]) => ({ section, name, value }));

test('machineEnvironment: the machine address in both COREOS_ variables; ETCDCTL_* only on etcd, as URLs', () => {
  assert.deepEqual(machineEnvironment('127.0.0.3', undefined), { COREOS_PUBLIC_IPV4: '127.0.0.3', COREOS_PRIVATE_IPV4: '127.0.0.3' });
  assert.deepEqual(machineEnvironment('10.0.0.5', ['http://127.0.0.1:2379', '127.0.0.1:2381']), {
    COREOS_PUBLIC_IPV4: '10.0.0.5',
    COREOS_PRIVATE_IPV4: '10.0.0.5',
    ETCDCTL_ENDPOINTS: 'http://127.0.0.1:2379,http://127.0.0.1:2381',
    ETCDCTL_PEERS: 'http://127.0.0.1:2379,http://127.0.0.1:2381',
  });
});

const etcdctl = () => binary('etcdctl', 'etcd-client');

test(
  "the article's sidekick command works from a unit: etcdctl set /announce/services/nginx1 ${COREOS_PUBLIC_IPV4}:80 --ttl 60; ExecStop removes the key",
  { skip: skipUnlessAvailable(etcdBinary(), etcdctl()) },
  async () => {
    assertAvailable(etcdBinary(), etcdctl());
    const etcd = await EtcdServer.start();
    etcds.push(etcd);
    const registry = new MemoryRegistry();
    const agent = await startAgent({
      registry,
      machine: { id: M1, publicIP: '127.0.0.9', metadata: {} },
      stateDir: path.join(root, 'announce'),
      intervalMs: 100,
      ttlMs: 2_000,
      etcdEndpoints: [etcd.url],
    });
    running.push(agent);
    const out = path.join(root, 'env.txt');
    // Environment= still wins over what the machine provides; an optional missing EnvironmentFile= changes nothing.
    const options = opts(
      ['Unit', 'Description', 'Announce nginx 1'],
      ['Service', 'Environment', 'ETCDCTL_API=2 COREOS_PRIVATE_IPV4=10.1.2.3'],
      ['Service', 'EnvironmentFile', '-/nonexistent/fleet-env'],
      ['Service', 'ExecStartPre', `/bin/sh -c 'env | grep -E "^(COREOS|ETCDCTL)_" | sort > ${out}'`],
      ['Service', 'ExecStart', '/bin/sh -c "while true; do etcdctl set /announce/services/nginx1 ${COREOS_PUBLIC_IPV4}:80 --ttl 60; sleep 45; done"'],
      ['Service', 'ExecStop', '/usr/bin/etcdctl rm /announce/services/nginx1'],
    );
    await registry.putUnit({ name: 'nginx-discovery.1.service', options, desiredState: 'launched' });
    await scheduleUnit(registry, 'nginx-discovery.1.service', M1);

    const key = `${etcd.url}/v2/keys/announce/services/nginx1`;
    const node = await waitFor(
      'the announced key',
      async () => {
        const res = await fetch(key);
        if (res.status !== 200) return undefined;
        return ((await res.json()) as { node: { value: string; ttl?: number } }).node;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.equal(node.value, '127.0.0.9:80');
    assert.ok(node.ttl !== undefined && node.ttl > 0 && node.ttl <= 60, `ttl ${node.ttl}`);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n'), [
      'COREOS_PRIVATE_IPV4=10.1.2.3',
      'COREOS_PUBLIC_IPV4=127.0.0.9',
      'ETCDCTL_API=2',
      `ETCDCTL_ENDPOINTS=${etcd.url}`,
      `ETCDCTL_PEERS=${etcd.url}`,
    ]);

    await registry.setDesiredState('nginx-discovery.1.service', 'loaded');
    await waitFor('the key to be removed by ExecStop=', async () => (await fetch(key)).status === 404, { timeoutMs: 15_000, intervalMs: 100 });
  },
);
