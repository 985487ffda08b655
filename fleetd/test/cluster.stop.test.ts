/**
 * The article's pattern on `fleetd local --etcd-binary` without Docker: a service with an ExecStop=
 * and a sidekick (BindsTo=/After=/MachineOf=) announcing the service in the private etcd through
 * its v2 API with `etcdctl set … ${COREOS_PUBLIC_IPV4}:80 --ttl 60`. Stopping the service stops the
 * sidekick (whose ExecStop= removes the key); kill -9 of a machine process and the stop of the
 * cluster stop the units systemd's way: ExecStop=, the stop signal, ExecStopPost=.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertAvailable, binary, etcdBinary, findBinary, skipUnlessAvailable, waitFor } from '../../test/support';
import { findMarked } from '../src/cli/reaper';
import { Cluster } from './clusterHarness';

const etcdctl = () => binary('etcdctl', 'etcd-client');
const skip = skipUnlessAvailable(etcdBinary(), etcdctl());

type Lines = Record<string, [string, string][]>;

describe("units stop systemd's way on a local etcd cluster: sidekicks, kill -9 of a machine, cluster stop", { skip }, () => {
  let cluster: Cluster;
  let marks: string;
  // The article's cluster keeps fleet's own (v2) keyspace, whose private etcd also serves loopback
  // TCP for fleet's tools (etcdctl's v2 client cannot use a unix socket path): fleetd prints it.
  const etcdUrl = () => {
    const url = /fleetd: etcd at (http:\/\/\S+)/.exec(cluster.output())?.[1];
    assert.ok(url, `fleetd names its etcd's TCP URL:\n${cluster.output().slice(-2000)}`);
    return url;
  };
  const web = (i: number): Lines => ({
    Unit: [['Description', `web ${i}`]],
    Service: [
      ['ExecStart', '/bin/sleep 600'],
      ['ExecStop', `/bin/sh -c 'echo $COREOS_PUBLIC_IPV4 >> ${marks}/web${i}.stop'`],
      ['ExecStopPost', `/bin/sh -c 'echo $SERVICE_RESULT >> ${marks}/web${i}.stoppost'`],
      ['TimeoutStopSec', '5s'],
    ],
    'X-Fleet': [['Conflicts', 'web.*.service']],
  });
  const sidekick: Lines = {
    Unit: [
      ['Description', 'Announce web 1'],
      ['BindsTo', 'web.1.service'],
      ['After', 'web.1.service'],
    ],
    Service: [
      ['Environment', 'ETCDCTL_API=2'],
      ['ExecStart', '/bin/sh -c "while true; do etcdctl set /announce/services/web1 ${COREOS_PUBLIC_IPV4}:80 --ttl 60; sleep 45; done"'],
      ['ExecStop', '/usr/bin/etcdctl rm /announce/services/web1'],
    ],
    'X-Fleet': [['MachineOf', 'web.1.service']],
  };

  before(async () => {
    assertAvailable(etcdBinary(), etcdctl());
    cluster = await Cluster.start([
      '--machines',
      '3',
      '--etcd-binary',
      findBinary('etcd')!,
      '--etcd-api',
      'v2',
      '--agent-ttl',
      '3s',
      '--engine-reconcile-interval',
      '1',
      '--agent-reconcile-interval',
      '1',
    ]);
    marks = path.join(cluster.stateDir, 'marks');
    fs.mkdirSync(marks);
  });
  after(async () => {
    if (!cluster) return;
    const id = cluster.clusterId;
    await cluster.stop();
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: id }), [], 'no process of the cluster outlives it');
  });

  test('the sidekick starts after its service on its machine and announces ${COREOS_PUBLIC_IPV4}:80 in the private etcd (v2) with a TTL', async () => {
    for (const i of [1, 2, 3]) await cluster.put(`web.${i}.service`, web(i));
    await cluster.put('web-discovery.1.service', sidekick);
    const where = await cluster.activeOn(['web.1.service', 'web.2.service', 'web.3.service', 'web-discovery.1.service']);
    assert.deepEqual(where.get('web-discovery.1.service'), where.get('web.1.service'));
    const machine = (await cluster.machines()).find(m => m.id === where.get('web.1.service')![0]);
    const node = await waitFor(
      'the announced key',
      async () => {
        const res = await fetch(`${etcdUrl()}/v2/keys/announce/services/web1`);
        return res.status === 200 ? ((await res.json()) as { node: { value: string; ttl: number } }).node : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.equal(node.value, `${machine!.primaryIP}:80`);
    assert.ok(node.ttl > 0 && node.ttl <= 60, `ttl ${node.ttl}`);
  });

  test('stopping the service stops its BindsTo= sidekick, whose ExecStop= removes the key', async () => {
    await cluster.put('web.1.service', web(1), 'loaded');
    await waitFor(
      'the sidekick to be inactive',
      async () => {
        const s = (await cluster.states()).find(x => x.name === 'web-discovery.1.service');
        return s && s.systemdActiveState !== 'active' ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await waitFor('the key to be removed', async () => (await fetch(`${etcdUrl()}/v2/keys/announce/services/web1`)).status === 404, {
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    assert.equal(fs.readFileSync(`${marks}/web1.stop`, 'utf8').trim().split('\n').length, 1, 'ExecStop= of web.1 ran once');
  });

  test("kill -9 of a machine: its units are stopped systemd's way (ExecStop=, then the group, then ExecStopPost=) within TimeoutStopSec=", async () => {
    // web.1 (stopped) still holds its machine under Conflicts=: unschedule it so web.2 has somewhere to go.
    await cluster.put('web.1.service', web(1), 'inactive');
    const where = await cluster.activeOn(['web.2.service']);
    const victim = where.get('web.2.service')![0]!;
    const ip = (await cluster.machines()).find(m => m.id === victim)!.primaryIP;
    const pid = cluster.agentPid(victim);
    assert.ok(pid, `the process of machine ${victim}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('ExecStopPost= of web.2 to have run', () => fs.existsSync(`${marks}/web2.stoppost`) || undefined, { timeoutMs: 10_000, intervalMs: 100 });
    assert.ok(Date.now() - killedAt < 5_000 + 2_000, `stopped in ${Date.now() - killedAt} ms (TimeoutStopSec=5s)`);
    assert.equal(fs.readFileSync(`${marks}/web2.stop`, 'utf8').trim(), ip, "ExecStop= ran with the machine's environment");
    assert.equal(fs.readFileSync(`${marks}/web2.stoppost`, 'utf8').trim(), 'success');
    await waitFor(
      'no process of the dead machine',
      () => findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId, FLEETD_MACHINE_ID: victim }).length === 0 || undefined,
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    const moved = await waitFor(
      'web.2 to run elsewhere',
      async () => (await cluster.states()).find(s => s.name === 'web.2.service' && s.systemdActiveState === 'active' && s.machineID !== victim),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.notEqual(moved.machineID, victim);
  });

  test('cluster stop: every unit still running gets its ExecStop= and ExecStopPost=', async () => {
    const running = (await cluster.states()).filter(s => s.systemdActiveState === 'active' && /^web\.\d\.service$/.test(s.name)).map(s => s.name);
    assert.ok(running.length >= 1, `some web units run: ${running.join(', ')}`);
    const id = cluster.clusterId;
    const before = new Map(running.map(n => [n, count(`${marks}/${n.replace(/^web\.(\d)\.service$/, 'web$1')}.stoppost`)]));
    const dir = marks;
    await cluster.stop(false);
    for (const [n, c] of before) assert.equal(count(`${dir}/${n.replace(/^web\.(\d)\.service$/, 'web$1')}.stoppost`), c + 1, `${n} stopped once more`);
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: id }), []);
  });
});

function count(file: string): number {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}
