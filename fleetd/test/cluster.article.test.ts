/**
 * The article's units on the default local cluster, as the extension's Start Local Cluster runs it
 * (`fleetd local --etcd-binary`, fleetd's v3 keyspace, a private etcd on a unix socket only
 * fleetd's user reaches):
 * - a sidekick announces its service unchanged with Debian's etcdctl under ETCDCTL_API=2
 *   (`etcdctl set … ${COREOS_PUBLIC_IPV4}:80 --ttl 60`) and under v3 (`etcdctl put`), through the
 *   ETCDCTL_ENDPOINTS/ETCDCTL_PEERS the unit gets (the gate: loopback TCP for fleetd's user);
 * - another user (uid 65534) reaches the private etcd neither through that URL nor its socket;
 * - removing a machine stops its units systemd's way (ExecStop=, the group, ExecStopPost=) and
 *   the engine moves them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertAvailable, binary, etcdBinary, findBinary, skipUnlessAvailable, waitFor } from '../../test/support';
import { findMarked } from '../src/cli/reaper';
import { Cluster } from './clusterHarness';

const etcdctl = () => binary('etcdctl', 'etcd-client');
const skip = skipUnlessAvailable(etcdBinary(), etcdctl());
const NOBODY = 65534;

type Lines = Record<string, [string, string][]>;

/** Runs a command as `uid` with `env`; resolves to its exit status and output. */
function run(cmd: string, args: string[], env: Record<string, string>, uid = process.getuid!()): Promise<{ code: number; out: string }> {
  return new Promise(resolve => {
    execFile(
      cmd,
      args,
      { uid, gid: uid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: 15_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe("the article's units on the default local cluster (private etcd, v3 keyspace)", { skip }, () => {
  let cluster: Cluster;
  let marks: string;
  /** The etcd URL fleetd prints and gives its units: the gate. */
  const etcdUrl = () => {
    const url = /fleetd: etcd at (http:\/\/\S+)/.exec(cluster.output())?.[1];
    assert.ok(url, `fleetd names the TCP URL of its etcd for units:\n${cluster.output().slice(-2000)}`);
    return url;
  };
  const web = (i: number): Lines => ({
    Unit: [['Description', `web ${i}`]],
    Service: [
      ['ExecStart', '/bin/sleep 600'],
      ['ExecStop', `/bin/sh -c 'echo $COREOS_PUBLIC_IPV4 >> ${marks}/web${i}.stop'`],
      ['ExecStopPost', `/bin/sh -c 'echo $SERVICE_RESULT >> ${marks}/web${i}.stoppost'`],
    ],
    'X-Fleet': [['Conflicts', 'web.*.service']],
  });
  // The article's sidekick, word for word but for the unit names.
  const announceV2 = (): Lines => ({
    Unit: [
      ['Description', 'Announce web 1'],
      ['BindsTo', 'web.1.service'],
      ['After', 'web.1.service'],
    ],
    Service: [
      ['Environment', 'ETCDCTL_API=2'],
      ['ExecStartPre', `/bin/sh -c 'env | grep -E "^ETCDCTL_(ENDPOINTS|PEERS)=" | sort > ${marks}/env'`],
      ['ExecStart', '/bin/sh -c "while true; do etcdctl set /announce/services/web1 ${COREOS_PUBLIC_IPV4}:80 --ttl 60; sleep 45; done"'],
      ['ExecStop', '/usr/bin/etcdctl rm /announce/services/web1'],
    ],
    'X-Fleet': [['MachineOf', 'web.1.service']],
  });
  const announceV3: Lines = {
    Unit: [
      ['Description', 'Announce web 1 (v3)'],
      ['BindsTo', 'web.1.service'],
      ['After', 'web.1.service'],
    ],
    Service: [
      ['ExecStart', '/bin/sh -c "etcdctl put /announce/v3/web1 ${COREOS_PUBLIC_IPV4}:80 && exec sleep 600"'],
      ['ExecStop', '/usr/bin/etcdctl del /announce/v3/web1'],
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

  test(
    'a sidekick announces ${COREOS_PUBLIC_IPV4}:80 with etcdctl set --ttl 60 (ETCDCTL_API=2) and etcdctl put (v3), unchanged, through the endpoints it gets',
    { timeout: 90_000 },
    async () => {
      const gate = etcdUrl();
      assert.match(gate, /^http:\/\/127\.0\.0\.1:\d+$/);
      for (const i of [1, 2, 3]) await cluster.put(`web.${i}.service`, web(i));
      await cluster.put('web-discovery.1.service', announceV2());
      await cluster.put('web-discovery-v3.1.service', announceV3);
      const where = await cluster.activeOn(['web.1.service', 'web-discovery.1.service', 'web-discovery-v3.1.service'], 45_000);
      assert.deepEqual(where.get('web-discovery.1.service'), where.get('web.1.service'));
      const ip = (await cluster.machines()).find(m => m.id === where.get('web.1.service')![0])!.primaryIP;

      const node = await waitFor(
        'the v2 key',
        async () => {
          const res = await fetch(`${gate}/v2/keys/announce/services/web1`);
          return res.status === 200 ? ((await res.json()) as { node: { value: string; ttl: number } }).node : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.equal(node.value, `${ip}:80`);
      assert.ok(node.ttl > 0 && node.ttl <= 60, `ttl ${node.ttl}`);
      const v3 = await waitFor(
        'the v3 key',
        async () => {
          const r = await run('etcdctl', ['--endpoints', gate, 'get', '--print-value-only', '/announce/v3/web1'], { ETCDCTL_API: '3' });
          return r.code === 0 && r.out.trim() ? r.out.trim() : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 300 },
      );
      assert.equal(v3, `${ip}:80`);
      assert.deepEqual(fs.readFileSync(`${marks}/env`, 'utf8').trim().split('\n'), [`ETCDCTL_ENDPOINTS=${gate}`, `ETCDCTL_PEERS=${gate}`]);
      // etcdctl's v2 client syncs the member list before each command: etcd advertises the gate only.
      const members = (await (await fetch(`${gate}/v2/members`)).json()) as { members: { clientURLs: string[] }[] };
      assert.deepEqual(
        members.members.map(m => m.clientURLs),
        [[gate]],
      );
    },
  );

  test("another local user reaches the private etcd neither through the units' URL nor its socket", { timeout: 60_000 }, async t => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === 'true') assert.fail('the tests run as root under CI: a second uid is needed to prove the isolation');
      t.skip('not root: cannot act as a second user');
      return;
    }
    const gate = etcdUrl();
    const asMe = await run('etcdctl', ['get', '/announce/services/web1'], { ETCDCTL_API: '2', ETCDCTL_ENDPOINTS: gate });
    assert.equal(asMe.code, 0, `fleetd's user reads the key: ${asMe.out}`);
    const v2 = await run('etcdctl', ['get', '/announce/services/web1'], { ETCDCTL_API: '2', ETCDCTL_ENDPOINTS: gate }, NOBODY);
    assert.notEqual(v2.code, 0, `uid 65534 must not read through ${gate}: ${v2.out}`);
    assert.doesNotMatch(v2.out, /127\.0\.0\.\d+:80/);
    const v3 = await run(
      'etcdctl',
      ['--dial-timeout', '2s', '--command-timeout', '3s', 'put', '/intruder', 'x'],
      { ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: gate },
      NOBODY,
    );
    assert.notEqual(v3.code, 0, `uid 65534 must not write through ${gate}: ${v3.out}`);
    const socket = /private etcd at unix:\/\/(\S+) \(pid/.exec(cluster.output())?.[1];
    assert.ok(socket && fs.statSync(socket).isSocket(), `the private etcd's socket: ${socket}`);
    const direct = await run(
      process.execPath,
      [
        '-e',
        `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', e => { console.log(e.code); process.exit(1); })`,
      ],
      {},
      NOBODY,
    );
    assert.equal(direct.out.trim(), 'EACCES', `uid 65534 must not reach etcd's socket: ${direct.out}`);
    assert.match(cluster.output(), /etcd gate: refused a connection from uid 65534/);
    const check = await run('etcdctl', ['get', '/intruder'], { ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: gate });
    assert.equal(check.out.trim(), '', 'nothing was written');
  });
  test(
    "removing a machine (DELETE /fleet/v1/machines/{id}) stops its units systemd's way (ExecStop=, the group, ExecStopPost=) and the engine moves them",
    { timeout: 90_000 },
    async () => {
      // web.2 goes, so web.3 (Conflicts=web.*.service) has a machine to move to.
      assert.equal((await fetch(`${cluster.api}/fleet/v1/units/web.2.service`, { method: 'DELETE' })).status, 204);
      const where = await cluster.activeOn(['web.3.service']);
      const victim = where.get('web.3.service')![0]!;
      const ip = (await cluster.machines()).find(m => m.id === victim)!.primaryIP;
      const pid = cluster.agentPid(victim);
      assert.ok(pid, `the process of machine ${victim}`);
      const res = await fetch(`${cluster.api}/fleet/v1/machines/${victim}`, { method: 'DELETE', signal: AbortSignal.timeout(60_000) });
      assert.equal(res.status, 204, await res.text());
      // Answered once the machine stopped: its units' stop commands have run.
      assert.equal(fs.readFileSync(`${marks}/web3.stop`, 'utf8').trim(), ip, "ExecStop= ran once, with the machine's environment");
      assert.equal(fs.readFileSync(`${marks}/web3.stoppost`, 'utf8').trim(), 'success', 'ExecStopPost= ran once, after a clean stop');
      assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId, FLEETD_MACHINE_ID: victim }), [], 'no process of the removed machine is left');
      assert.ok(!(await cluster.machines()).some(m => m.id === victim), 'the machine left the cluster');
      const moved = await waitFor(
        'web.3 to run elsewhere',
        async () => (await cluster.states()).find(s => s.name === 'web.3.service' && s.systemdActiveState === 'active' && s.machineID !== victim),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.notEqual(moved.machineID, victim);
      assert.match(cluster.output(), new RegExp(`machine \\d \\(${victim}\\) was removed`));

      const again = await fetch(`${cluster.api}/fleet/v1/machines/${victim}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
      assert.match(((await again.json()) as { error: { message: string } }).error.message, /already removed/);
      const unknown = await fetch(`${cluster.api}/fleet/v1/machines/nosuchmachine`, { method: 'DELETE' });
      assert.equal(unknown.status, 404);
      assert.match(
        ((await unknown.json()) as { error: { message: string } }).error.message,
        /not a running machine of this local cluster .*give a full machine ID/,
      );
    },
  );
});
