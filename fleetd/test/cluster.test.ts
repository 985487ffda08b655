/**
 * Whole clusters from the built CLI (dist/fleetd.js) on a real etcd (Debian's etcd-server on
 * 127.0.0.1), observed only through fleet's v1 API, as fleetctl and the extension see them:
 * the seed's scenario, MachineOf, Global, MachineMetadata, unplaceable reasons, and faults
 * (kill -9 of a machine, of the engine leader, an etcd restart, a crashing unit).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdServer, etcdBinary, assertAvailable, skipUnlessAvailable, waitFor } from '../../test/support';
import { findMarked } from '../src/cli/reaper';
import { Cluster, service } from './clusterHarness';

const LOOP = "/bin/sh -c 'while :; do echo up; sleep 1; done'";

const skip = skipUnlessAvailable(etcdBinary());

describe('a local cluster on real etcd, through the v1 API', { skip }, () => {
  let etcd: EtcdServer;
  let cluster: Cluster;

  before(async () => {
    assertAvailable(etcdBinary());
    etcd = await EtcdServer.start();
    cluster = await Cluster.start([
      '--machines',
      '3',
      '--etcd',
      etcd.url,
      '--metadata',
      'region=east,disk=ssd',
      '--metadata',
      'region=west',
      '--metadata',
      'region=west',
      '--agent-ttl',
      '3s',
      '--engine-reconcile-interval',
      '1',
      '--agent-reconcile-interval',
      '1',
    ]);
  });
  after(async () => {
    await cluster?.stop();
    await etcd?.stop();
    if (cluster) assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId }), [], 'no process of the cluster outlives it');
  });

  test('three machines with their metadata', async () => {
    const machines = await cluster.machines();
    assert.equal(machines.length, 3);
    assert.deepEqual(
      machines.map(m => m.metadata).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [{ region: 'east', disk: 'ssd' }, { region: 'west' }, { region: 'west' }],
    );
  });

  test("the seed's scenario: three units with X-Conflicts land on three machines and become active", async () => {
    for (const i of [1, 2, 3]) await cluster.put(`nginx.${i}.service`, service(LOOP, [['Conflicts', 'nginx.*.service']]));
    const where = await cluster.activeOn(['nginx.1.service', 'nginx.2.service', 'nginx.3.service']);
    const machines = new Set([...where.values()].flat());
    assert.equal(machines.size, 3, `three distinct machines: ${JSON.stringify([...where])}`);
    const units = await cluster.units();
    for (const u of units.filter(u => u.name.startsWith('nginx.'))) assert.equal(u.currentState, 'launched');
  });

  test('a sidekick with MachineOf follows its unit', async () => {
    await cluster.put('nginx-discovery.1.service', service(LOOP, [['MachineOf', 'nginx.1.service']]));
    const where = await cluster.activeOn(['nginx-discovery.1.service', 'nginx.1.service']);
    assert.deepEqual(where.get('nginx-discovery.1.service'), where.get('nginx.1.service'));
  });

  test('a Global unit runs on every machine', async () => {
    await cluster.put('monitor.service', service(LOOP, [['Global', 'true']]));
    await waitFor(
      'monitor.service active on 3 machines',
      async () => {
        const states = (await cluster.states()).filter(s => s.name === 'monitor.service' && s.systemdActiveState === 'active');
        return states.length === 3 ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
  });

  test('MachineMetadata places on a matching machine only', async () => {
    const machines = await cluster.machines();
    const east = machines.find(m => m.metadata?.region === 'east')!;
    await cluster.put('db.service', service(LOOP, [['MachineMetadata', 'disk=ssd']]));
    const where = await cluster.activeOn(['db.service']);
    assert.deepEqual(where.get('db.service'), [east.id]);
  });

  test('an unplaceable unit reports why it waits', async () => {
    await cluster.put('nowhere.service', service(LOOP, [['MachineMetadata', 'region=north']]));
    const reason = await waitFor('a reason for nowhere.service', async () => (await cluster.units()).find(u => u.name === 'nowhere.service')?.reason, {
      timeoutMs: 15_000,
    });
    assert.match(reason, /region=north/);
    const unit = (await cluster.units()).find(u => u.name === 'nowhere.service')!;
    assert.equal(unit.machineID, undefined);
  });

  test('a crashing unit is restarted per Restart=', async () => {
    const marker = path.join(cluster.stateDir, 'crash-count');
    await cluster.put(
      'crashy.service',
      service(
        `/bin/sh -c 'echo x >> ${marker}; sleep 0.3; exit 3'`,
        [],
        [
          ['Restart', 'on-failure'],
          ['RestartSec', '200ms'],
        ],
      ),
    );
    await waitFor(
      'crashy.service to have started three times',
      () => (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').split('\n').length > 3 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    );
  });

  test('kill -9 of a machine: its units move within the TTL plus a reconcile', async () => {
    const before = await cluster.activeOn(['nginx.1.service']);
    // nginx.1 conflicts with nginx.2 and .3, which hold the other machines: stop one so there is room.
    await cluster.put('nginx.3.service', service(LOOP, [['Conflicts', 'nginx.*.service']]), 'inactive');
    const victim = before.get('nginx.1.service')![0]!;
    const pid = cluster.agentPid(victim);
    assert.ok(pid, `found the process of machine ${victim}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const moved = await waitFor(
      'nginx.1.service active on another machine',
      async () => {
        const s = (await cluster.states()).find(x => x.name === 'nginx.1.service' && x.systemdActiveState === 'active' && x.machineID !== victim);
        return s?.machineID;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const seconds = (Date.now() - killedAt) / 1000;
    assert.notEqual(moved, victim);
    assert.ok(seconds < 3 + 1 + 5, `moved in ${seconds.toFixed(1)} s (TTL 3 s + reconcile)`);
    assert.equal((await cluster.machines()).length, 2);
    // Its unit processes did not outlive it (they run in their own process groups).
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId, FLEETD_MACHINE_ID: victim }), []);
  });

  test('kill -9 of the engine leader: another engine takes over', async () => {
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      const kvs = await client.getAll().prefix('/_coreos.com/fleet/').strings();
      const leaderKey = Object.keys(kvs).find(k => /leader|lease\/engine/.test(k));
      assert.ok(leaderKey, `a leader key among ${Object.keys(kvs).join(', ')}`);
      const leader = /[0-9a-f]{32}/.exec(kvs[leaderKey]!)?.[0];
      assert.ok(leader, `a machine ID in ${kvs[leaderKey]!}`);
      const pid = cluster.agentPid(leader);
      assert.ok(pid, `the leader ${leader} is a live machine process`);
      process.kill(pid, 'SIGKILL');
      await cluster.put('after-leader.service', service(LOOP));
      const where = await cluster.activeOn(['after-leader.service'], 30_000);
      assert.notDeepEqual(where.get('after-leader.service'), [leader]);
    } finally {
      client.close();
    }
  });

  test('an etcd restart loses nothing', async () => {
    const before = (await cluster.units()).map(u => `${u.name}:${u.desiredState}`).sort();
    await etcd.restart();
    await cluster.put('after-restart.service', service(LOOP));
    await cluster.activeOn(['after-restart.service'], 30_000);
    const after = (await cluster.units()).map(u => `${u.name}:${u.desiredState}`).sort();
    assert.deepEqual(
      after.filter(x => !x.startsWith('after-restart')),
      before,
    );
  });
});
