/**
 * fleetd on a real etcd, against the physical limit measured in the same run.
 *
 *   node --import tsx bench/cluster.bench.ts [--units 1000] [--machines 10]
 *
 * 1. The raw etcd transaction rate of this machine: compare-and-put transactions, one at a time
 *    and 32 in flight (the better one is the limit).
 * 2. `fleetd local --etcd-binary`-style cluster with 10 machine processes on that etcd: submit
 *    1,000 units with desiredState=launched through the v1 API and time until every one reports
 *    active/running. Units per second as a fraction of the raw rate, and etcd operations per
 *    unit (from etcd's own /metrics, before and after).
 * Target: 1,000 units converge in under 30 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdServer } from '../test/support/etcd';

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const UNITS = flag('units', 1000);
const MACHINES = flag('machines', 10);
const RAW_TXNS = 3000;
const root = path.resolve(__dirname, '..');

async function rawRate(client: Etcd3, inFlight: number): Promise<number> {
  const prefix = `/bench/raw-${inFlight}/`;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < RAW_TXNS; i = next++) {
        const key = `${prefix}${i}`;
        await client.if(key, 'Create', '==', 0).then(client.put(key).value('x')).commit();
      }
    }),
  );
  return RAW_TXNS / ((performance.now() - start) / 1000);
}

async function etcdOps(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const metric of ['etcd_mvcc_put_total', 'etcd_mvcc_delete_total', 'etcd_mvcc_txn_total', 'etcd_mvcc_range_total']) {
    const m = new RegExp(`^${metric} (\\S+)$`, 'm').exec(text);
    if (m) total += Number(m[1]);
  }
  return total;
}

async function main(): Promise<void> {
  const bundle = path.join(root, 'dist', 'fleetd.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` first');
  const etcd = await EtcdServer.start({ heartbeatMs: 50, electionMs: 500 });
  const client = new Etcd3({ hosts: etcd.endpoint });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-bench-'));
  let cluster: ReturnType<typeof spawn> | undefined;
  // Our own cluster marker: the cleanup check finds exactly this run's unit processes.
  const clusterId = `bench-${process.pid}-${Date.now()}`;
  // Ctrl-C or `timeout`: stop the cluster before exiting (the finally below does not run then).
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`bench: ${sig}: stopping the cluster`);
    void (async () => {
      if (cluster?.pid) await stopGroup(cluster, cluster.pid);
      for (const pid of leftoverUnits(clusterId)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await etcd.stop().catch(() => undefined);
      fs.rmSync(stateDir, { recursive: true, force: true });
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const sequential = await rawRate(client, 1);
    const parallel = await rawRate(client, 32);
    const limit = Math.max(sequential, parallel);
    console.log(`raw etcd txn rate: ${sequential.toFixed(0)}/s one at a time, ${parallel.toFixed(0)}/s with 32 in flight`);

    cluster = spawn(
      process.execPath,
      [bundle, 'local', '--machines', String(MACHINES), '--etcd', etcd.url, '--api', '127.0.0.1:0', '--state-dir', stateDir,
        '--verbosity', '0'],
      { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: { ...process.env, FLEETD_CLUSTER_ID: clusterId } },
    );
    const apiUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`fleetd not ready in 60 s:\n${out}`)), 60_000);
      cluster!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /fleetd: API ready at (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      cluster!.once('exit', code => reject(new Error(`fleetd exited (${code}) before ready:\n${out}`)));
    });

    const opsBefore = await etcdOps(etcd.url);
    const start = performance.now();
    let nextUnit = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = nextUnit++; i < UNITS; i = nextUnit++) {
          const res = await fetch(`${apiUrl}/fleet/v1/units/bench-${i}.service`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              desiredState: 'launched',
              options: [
                { section: 'Unit', name: 'Description', value: `bench unit ${i}` },
                { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
              ],
            }),
          });
          if (res.status !== 201 && res.status !== 204) throw new Error(`PUT bench-${i}: ${res.status} ${await res.text()}`);
        }
      }),
    );
    const submitted = performance.now() - start;
    let active = 0;
    let failedPolls = 0;
    const deadline = Date.now() + Math.max(120_000, UNITS * 120);
    while (Date.now() < deadline) {
      // A poll the API answers with an error (etcd overloaded: 503) keeps the last good count, and says so.
      const getPage = async (token?: string) => {
        const res = await fetch(`${apiUrl}/fleet/v1/state${token ? `?nextPageToken=${token}` : ''}`);
        if (!res.ok) throw new Error(`GET /fleet/v1/state: ${res.status} ${(await res.text()).trim()}`);
        return (await res.json()) as { states?: { name?: string; systemdActiveState?: string }[]; nextPageToken?: string };
      };
      const states: { name?: string; systemdActiveState?: string }[] = [];
      try {
        let page = await getPage();
        states.push(...(page.states ?? []));
        while (page.nextPageToken) {
          page = await getPage(page.nextPageToken);
          states.push(...(page.states ?? []));
        }
      } catch (err) {
        failedPolls++;
        if (failedPolls === 1 || failedPolls % 20 === 0) console.error(`poll ${failedPolls} failed: ${err instanceof Error ? err.message : String(err)}`);
        await new Promise(r => setTimeout(r, 500));
        continue;
      }
      // Distinct units: while a unit moves between machines it may briefly report from two.
      active = new Set(states.filter(s => s.systemdActiveState === 'active').map(s => s.name)).size;
      if (active >= UNITS) break;
      await new Promise(r => setTimeout(r, 500));
    }
    const elapsed = (performance.now() - start) / 1000;
    const ops = (await etcdOps(etcd.url)) - opsBefore;
    const rate = UNITS / elapsed;
    console.log(`submitted ${UNITS} units in ${(submitted / 1000).toFixed(2)} s; ${active}/${UNITS} active on ${MACHINES} machines after ${elapsed.toFixed(2)} s`);
    console.log(`convergence: ${rate.toFixed(1)} units/s = ${((rate / limit) * 100).toFixed(2)}% of the raw txn rate; ${(ops / UNITS).toFixed(1)} etcd ops per unit (during convergence)`);
    if (failedPolls > 0) console.log(`${failedPolls} state poll(s) failed (the count is from the last good one)`);
    console.log(`target: ${UNITS} units active in < 30 s: ${active >= UNITS && elapsed < 30 ? 'PASS' : 'MISS'}`);
  } finally {
    if (cluster?.pid) await stopGroup(cluster, cluster.pid);
    const leftover = leftoverUnits(clusterId);
    if (leftover.length > 0) {
      console.error(`WARNING: ${leftover.length} 'sleep 3600' process(es) left behind (pids ${leftover.join(' ')}); killing them`);
      for (const pid of leftover) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    } else {
      console.log('cleanup: cluster stopped, no unit process left behind');
    }
    client.close();
    await etcd.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

/** SIGTERM to the cluster's process group, up to 60 s for a clean stop (fleetd reaps its units), then SIGKILL. */
async function stopGroup(child: ReturnType<typeof spawn>, pid: number): Promise<void> {
  const exited = (ms: number) =>
    new Promise<boolean>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  if (!(await exited(60_000))) {
    console.error('WARNING: fleetd did not stop within 60 s of SIGTERM; sending SIGKILL to its process group');
  }
  // Whatever is left of the group (a machine process that hung) goes now.
  signal('SIGKILL');
  await exited(5_000);
}

/** Unit processes of this run still alive: `sleep 3600` carrying this run's cluster marker. */
function leftoverUnits(clusterId: string): number[] {
  const out = spawnSync('pgrep', ['-f', '^/bin/sleep 3600$'], { encoding: 'utf8' });
  const pids = (out.stdout ?? '').split('\n').map(Number).filter(n => n > 0);
  return pids.filter(pid => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FLEETD_CLUSTER_ID=${clusterId}`);
    } catch {
      return false;
    }
  });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
