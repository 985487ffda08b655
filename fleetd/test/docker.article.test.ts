/**
 * The article's Docker units (samples/docker/) on real Docker and a `fleetd local --etcd-binary`
 * cluster (as the extension's Start Local Cluster runs it), through fleet's v1 API: three web containers on three machines answering HTTP, the
 * sidekick's etcd key with its TTL, stop of nginx.1 → its sidekick stops and the key goes, kill -9
 * of a machine → its container is stopped by ExecStop= (docker stop) and the unit runs elsewhere,
 * cluster stop → no container left running.
 *
 * Docker is made usable by scripts/lib/docker-image.sh (starts dockerd when it is not running,
 * imports the local busybox image). Where that fails the suite is skipped loudly; under CI=true it
 * runs and fails. The samples publish port 80 on each machine's address; the suite uses a free
 * port instead (the only rewrite), as tests listen on ports from freePorts.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseUnitFile } from '../../unitfile/src/parse';
import { toOptions } from '../../unitfile/src/serialize';
import { assertAvailable, binary, etcdBinary, findBinary, freePorts, skipUnlessAvailable, waitFor, type Requirement } from '../../test/support';
import { findMarked } from '../src/cli/reaper';
import { Cluster } from './clusterHarness';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLES = path.join(ROOT, 'samples', 'docker');
const CONTAINERS = ['nginx-01', 'nginx-02', 'nginx-03'];

/** Docker usable: the image script succeeds (it starts dockerd if needed). Run once, only when the suite runs. */
function dockerUsable(): Requirement {
  if (!findBinary('docker') || !findBinary('busybox')) {
    return { name: 'docker', missing: 'Docker cannot run here: docker or busybox is not installed (as root: apt-get install docker.io busybox-static)' };
  }
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'lib', 'docker-image.sh')], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return { name: 'docker', missing: undefined };
  return {
    name: 'docker',
    missing: `Docker cannot run here: scripts/lib/docker-image.sh failed (${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`,
  };
}

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', timeout: 30_000 }).trim();
/** Running containers of the samples: name → { id, ports }. */
function running(): Map<string, { id: string; ports: string }> {
  const out = new Map<string, { id: string; ports: string }>();
  for (const line of docker('ps', '--no-trunc', '--format', '{{.Names}}\t{{.ID}}\t{{.Ports}}').split('\n').filter(Boolean)) {
    const [name, id, ports] = line.split('\t');
    if (CONTAINERS.includes(name!)) out.set(name!, { id: id!, ports: ports ?? '' });
  }
  return out;
}
/** Removes the samples' containers made from the local image (by an earlier, interrupted run). */
function removeOurContainers(): void {
  for (const name of CONTAINERS) {
    try {
      if (docker('inspect', '-f', '{{.Config.Image}}', name) === 'fleet-busybox') docker('rm', '-f', name);
    } catch {
      // no such container
    }
  }
}

const etcdctl = () => binary('etcdctl', 'etcd-client');
const requirements = [etcdBinary(), etcdctl()];
const quickSkip = skipUnlessAvailable(...requirements);
const docked = quickSkip ? undefined : dockerUsable();
const skip = quickSkip || skipUnlessAvailable(docked!);

describe("the article's Docker units on a local etcd cluster with real Docker", { skip }, () => {
  let cluster: Cluster;
  let port: number;
  // The local cluster as the extension's Start Local Cluster runs it (fleetd's v3 keyspace): the
  // units reach the private etcd through its gate on loopback TCP (etcdctl's v2 client cannot use
  // a unix socket path), which fleetd prints; fleet's own v2 keyspace is cluster.stop.test.ts's.
  const etcdUrl = () => {
    const url = /fleetd: etcd at (http:\/\/\S+)/.exec(cluster.output())?.[1];
    assert.ok(url, `fleetd names its etcd's TCP URL:\n${cluster.output().slice(-2000)}`);
    return url;
  };
  const key = () => `${etcdUrl()}/v2/keys/announce/services/nginx1`;
  const sample = (name: string) => {
    const text = fs.readFileSync(path.join(SAMPLES, name), 'utf8');
    const rewritten = text.replace('}:80:80 ', `}:${port}:80 `).replace('}:80 --ttl', `}:${port} --ttl`);
    assert.notEqual(rewritten, text, `${name}: the port was rewritten`);
    return toOptions(parseUnitFile(rewritten));
  };
  const put = async (name: string, desiredState: string) => {
    const res = await fetch(`${cluster.api}/fleet/v1/units/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ desiredState, options: sample(name) }),
    });
    assert.ok(res.status === 201 || res.status === 204, `PUT ${name}: ${res.status} ${await res.text()}`);
  };
  const ipOf = async (machineId: string) => (await cluster.machines()).find(m => m.id === machineId)!.primaryIP!;
  const answers = async (ip: string) => {
    const res = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(3_000) });
    return res.status === 200 && (await res.text()).includes('Welcome');
  };

  before(async () => {
    assertAvailable(...requirements, docked ?? dockerUsable());
    removeOurContainers();
    port = (await freePorts(1))[0]!;
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
  });
  after(async () => {
    if (cluster) await cluster.stop();
    if (!skip) removeOurContainers();
  });

  test('three web containers on three machines answer HTTP; the sidekick announces ${COREOS_PUBLIC_IPV4}:port with a TTL', async () => {
    for (const n of ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-discovery.1.service']) await put(n, 'launched');
    const where = await cluster.activeOn(['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-discovery.1.service'], 60_000);
    const machines = [1, 2, 3].map(n => where.get(`nginx.${n}.service`)![0]!);
    assert.equal(new Set(machines).size, 3, `three machines: ${machines.join(', ')}`);
    assert.deepEqual(where.get('nginx-discovery.1.service'), where.get('nginx.1.service'));
    for (const [i, m] of machines.entries()) {
      const ip = await ipOf(m);
      await waitFor(
        `nginx.${i + 1} to answer on ${ip}:${port}`,
        () =>
          answers(ip)
            .catch(() => false)
            .then(ok => ok || undefined),
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.match(running().get(CONTAINERS[i]!)?.ports ?? '', new RegExp(`${ip.replace(/\./g, '\\.')}:${port}->80/tcp`));
    }
    const node = await waitFor(
      'the announced key',
      async () => {
        const res = await fetch(key());
        return res.status === 200 ? ((await res.json()) as { node: { value: string; ttl: number } }).node : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.equal(node.value, `${await ipOf(machines[0]!)}:${port}`);
    assert.ok(node.ttl > 0 && node.ttl <= 60, `ttl ${node.ttl}`);
  });

  test('stop nginx.1: its container stops, the sidekick stops (BindsTo=) and removes the key; nginx.1 ends failed (docker run exited 143) or inactive (the stop signal ended it), as under systemd', async () => {
    await put('nginx.1.service', 'loaded');
    const side = await waitFor(
      'the sidekick to stop',
      async () => {
        const s = (await cluster.states()).find(x => x.name === 'nginx-discovery.1.service');
        return s && s.systemdActiveState !== 'active' && s.systemdActiveState !== 'deactivating' ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    if (side.systemdActiveState !== 'inactive') {
      const journal = await (await fetch(`${cluster.api}/fleet/v1/journal/nginx-discovery.1.service?lines=30`)).text();
      assert.fail(`the sidekick ended ${JSON.stringify(side)}; its journal:\n${journal}`);
    }
    await waitFor('the key to be removed', async () => (await fetch(key())).status === 404 || undefined, { timeoutMs: 10_000, intervalMs: 200 });
    await waitFor('nginx-01 to stop', () => !running().has('nginx-01') || undefined, { timeoutMs: 20_000, intervalMs: 200 });
    const web = await waitFor(
      'nginx.1 to settle',
      async () => {
        const s = (await cluster.states()).find(x => x.name === 'nginx.1.service');
        return s && (s.systemdActiveState === 'failed' || s.systemdActiveState === 'inactive') ? s : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    // A race that systemd has too: `docker stop` (ExecStop=) returns when the container has
    // stopped, and `docker run` exits 143 a moment later, or is still there and gets the stop
    // signal (a clean end). processStop.test.ts proves each outcome deterministically.
    assert.ok(
      web.systemdActiveState === 'failed' ? web.systemdSubState === 'failed' : web.systemdSubState === 'dead',
      `nginx.1 ended ${web.systemdActiveState}/${web.systemdSubState}`,
    );
  });

  test('kill -9 of a machine: ExecStop= (docker stop) stops its container within the stop timeout, and the unit runs elsewhere', async () => {
    await put('nginx.1.service', 'inactive'); // frees its machine for nginx.2 to move to
    const where = await cluster.activeOn(['nginx.2.service']);
    const victim = where.get('nginx.2.service')![0]!;
    const oldIp = await ipOf(victim);
    const before = running().get('nginx-02');
    assert.ok(before, 'nginx-02 runs');
    const since = Math.floor(Date.now() / 1000) - 1;
    const pid = cluster.agentPid(victim);
    assert.ok(pid, `the process of machine ${victim}`);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(
      "fleetd to report the dead machine's units stopped",
      () => cluster.output().includes(`stopped 1 unit(s) left running by machine ${victim}`) || undefined,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const stoppedIn = Date.now() - killedAt;
    // docker stop waits up to 10 s for the container; TimeoutStopSec= is systemd's default 90 s.
    assert.ok(stoppedIn < 15_000, `stopped in ${stoppedIn} ms`);
    const events = docker(
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.ceil(Date.now() / 1000) + 1),
      '--filter',
      `container=${before.id}`,
      '--format',
      '{{.Action}}',
    );
    assert.ok(events.split('\n').includes('stop'), `docker stop ran for the old container: ${events.replace(/\n/g, ', ')}`);
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId, FLEETD_MACHINE_ID: victim }), []);
    const moved = await waitFor(
      'nginx.2 to run elsewhere',
      async () => (await cluster.states()).find(s => s.name === 'nginx.2.service' && s.systemdActiveState === 'active' && s.machineID !== victim),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const newIp = await ipOf(moved.machineID!);
    assert.notEqual(newIp, oldIp);
    await waitFor(
      `nginx.2 to answer on ${newIp}`,
      () =>
        answers(newIp)
          .catch(() => false)
          .then(ok => ok || undefined),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });

  test('cluster stop: no container of the samples is left running, no process of the cluster either', async () => {
    assert.ok(running().size >= 1, 'containers run before the stop');
    const id = cluster.clusterId;
    await cluster.stop();
    assert.deepEqual([...running().keys()], []);
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: id }), []);
  });
});
