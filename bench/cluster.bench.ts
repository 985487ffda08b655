/**
 * fleetd on a real etcd, against the physical limit measured in the same run.
 *
 *   node --import tsx bench/cluster.bench.ts [--units 1000] [--machines 10]
 *
 * 1. The raw etcd transaction rate of this machine: compare-and-put transactions, one at a time
 *    and 32 in flight (the better one is the limit).
 * 2. `fleetd local --etcd-binary`-style cluster with 10 machine processes on that etcd: submit
 *    1,000 units with desiredState=launched through the v1 API and time until every one reports
 *    active/running. Units per second as a fraction of the raw rate, for the submits alone and
 *    for the whole convergence, and etcd operations per unit (from etcd's own /metrics, before
 *    and after).
 * 3. The same cluster with `--etcd-api v2` (fleet v1.0's own keyspace on etcd's v2 API) on a fresh
 *    etcd, against the raw v2 rate (create-only PUTs, one at a time and 32 in flight): etcd v2
 *    has no transactions and no leases, so every schedule change, state and heartbeat is its own
 *    request and every TTL key is renewed by a request. Printed beside v3 (`--api v3|v2|both`).
 * Targets: v3: 1,000 units submitted by 8 clients and active in under 5 s; v2: under 60 s.
 *
 * Options: --rounds N (N rounds of --units new units on the same cluster: the first on a cluster just
 * started, as the table reports it, the others warm), --idle S (then S seconds of the converged
 * cluster left alone: its CPU per minute), --submit-only (the units submitted inactive, nothing
 * waited for: the submit path alone against the raw rates), --stragglers-after S (default 10: then
 * the units not active yet are shown once, with their jobs and states), --verbosity N (fleetd's; 2 logs every pass with its timings), --log FILE (fleetd's log
 * goes there instead of this terminal), and BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"
 * (node flags for fleetd and, inherited, every machine process); BENCH_FLEETD=PATH runs another
 * build's fleetd.js (its etcd3-proto/ beside it), to alternate two builds in one session.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdServer } from '../test/support/etcd';
import { Keys } from '../registry/src/keyspace';
import { errorMessage } from '../protocol/src/log';
import { cpuOfStat, cpuSeconds, httpRequest, submitUnits } from './lib/benchCluster';
import { benchFlag, benchNumber, benchOption } from './lib/args';

/** The state polls' connections (the submits have their own, in submitUnits). */
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

const UNITS = benchNumber('units', 1000);
/** Rounds of UNITS new units each on the same cluster: the first cold, the others warm. */
const ROUNDS = benchNumber('rounds', 1);
/** Seconds of idle cluster measured after the rounds (0: none): what the converged cluster costs while nothing changes. */
const IDLE_SECONDS = benchNumber('idle', 0);
const MACHINES = benchNumber('machines', 10);
/**
 * --submit-only: the units are submitted inactive (nothing to schedule or start) and nothing is
 * waited for: the submit path alone (the API, its group commits, etcd, and the machines' watches),
 * against the raw rates.
 */
const SUBMIT_ONLY = benchFlag('submit-only');
/** fleetd's --verbosity (0: warnings only; 1: info, every task and scheduling decision). */
const VERBOSITY = benchNumber('verbosity', 0);
/** Where fleetd's log goes (default: this terminal). */
const LOG_FILE = benchOption('log', '') || undefined;
const RAW_TXNS = 3000;
/** Concurrent API clients submitting the units. */
const CLIENTS = benchNumber('clients', 8);
/** After this long without every unit active, the bench shows which are not and where they stand (once). */
const STRAGGLER_MS = benchNumber('stragglers-after', 10) * 1000;
/** Pause between two polls of the states once every unit is submitted. */
const POLL_MS = benchNumber('poll-ms', 100);
const API = (() => {
  const v = benchOption('api', 'both');
  if (v !== 'v2' && v !== 'v3' && v !== 'both') throw new Error(`--api must be v2, v3 or both, not ${v}`);
  return v as 'v2' | 'v3' | 'both';
})();
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

/** Create-only PUTs on etcd's v2 keys API: what one fleet write costs there. */
async function rawRateV2(url: string, inFlight: number): Promise<number> {
  const prefix = `/bench/raw2-${inFlight}/`;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < RAW_TXNS; i = next++) {
        const res = await fetch(`${url}/v2/keys${prefix}${i}?prevExist=false`, {
          method: 'PUT',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'value=x',
        });
        if (res.status !== 201) throw new Error(`raw v2 PUT: ${res.status} ${await res.text()}`);
      }
    }),
  );
  return RAW_TXNS / ((performance.now() - start) / 1000);
}

/** etcd's v2 store counters: reads and writes served by the v2 API. */
async function v2StoreOps(url: string): Promise<{ reads: number; writes: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  return { reads: sum('etcd_debugging_store_reads_total'), writes: sum('etcd_debugging_store_writes_total') };
}

const OP_KINDS = ['range', 'put', 'delete', 'txn'] as const;
type Ops = Record<(typeof OP_KINDS)[number], number>;

/**
 * The units not active yet (at most ten): each one's job from the API (desired and current
 * state, machine), every state row the API has and (v3) the state keys etcd has, so a slow
 * convergence says where it is stuck.
 */
async function showStragglers(
  tag: string,
  apiUrl: string,
  prefix: string,
  activeNames: ReadonlySet<string | undefined>,
  states: readonly { name?: string; systemdActiveState?: string; systemdSubState?: string; machineID?: string }[],
  client: Etcd3 | undefined,
): Promise<void> {
  const missing: string[] = [];
  for (let i = 0; i < UNITS && missing.length < 10; i++) if (!activeNames.has(`${prefix}${i}.service`)) missing.push(`${prefix}${i}.service`);
  const count = UNITS - activeNames.size;
  console.log(`${tag} after ${STRAGGLER_MS / 1000} s, ${count} unit(s) not active yet; the first ${missing.length}:`);
  for (const name of missing) {
    let job = '';
    try {
      const res = await httpRequest(keepAlive, `${apiUrl}/fleet/v1/units/${name}`);
      const unit = res.status === 200 ? (JSON.parse(res.text) as { desiredState?: string; currentState?: string; machineID?: string }) : undefined;
      job = unit ? `desired ${unit.desiredState}, current ${unit.currentState}, machine ${unit.machineID || '-'}` : `GET ${res.status}`;
    } catch (err) {
      job = errorMessage(err);
    }
    const rows = states.filter(s => s.name === name).map(s => `${s.machineID?.slice(0, 8)} ${s.systemdActiveState}/${s.systemdSubState}`);
    let inEtcd = '';
    if (client) {
      // What etcd itself holds (fleetd's v3 layout), to tell a state never written from one the API did not see.
      const kvs = await client
        .getAll()
        .prefix(new Keys().unitStates(name))
        .strings()
        .catch((err: unknown) => ({ error: errorMessage(err) }));
      inEtcd = `; in etcd now: ${
        'error' in kvs
          ? kvs.error
          : Object.entries(kvs)
              .map(([key, value]) => `${key.split('/').pop()?.slice(0, 8)} ${(JSON.parse(value) as { activeState?: string }).activeState}`)
              .join(', ') || 'none'
      }`;
    }
    console.log(`  ${name}: ${job}; states at the last poll: ${rows.length > 0 ? rows.join(', ') : 'none'}${inEtcd}`);
  }
}

/** etcd's own counters (mvcc): ranges, puts, deletes and transactions served. */
async function etcdOps(url: string): Promise<Ops> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = { range: 0, put: 0, delete: 0, txn: 0 };
  for (const kind of OP_KINDS) {
    const m = new RegExp(`^etcd_mvcc_${kind}_total (\\S+)$`, 'm').exec(text);
    if (m) out[kind] = Number(m[1]);
  }
  return out;
}

/** The resident set of a process in MB, from /proc/<pid>/statm; 0 when it is gone. */
function rssMb(pid: number): number {
  try {
    return (Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of etcd, of the `fleetd local` process (API) and of its machine processes (and
 * their system time alone: forks of a big process cost system time), and the largest machine
 * process's resident set.
 */
function clusterCpu(
  etcdPid: number | undefined,
  fleetdPid: number,
): { etcd: number; api: number; machines: number; machinesSystem: number; machineRssMb: number } {
  let machines = 0;
  let machinesSystem = 0;
  let machineRssMb = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === fleetdPid) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // The machine processes: node children of `fleetd local` (unit processes are not node).
    if (Number(f[1]) !== fleetdPid || !stat.includes('(node)')) continue;
    const cpu = cpuOfStat(f);
    machines += cpu.total;
    machinesSystem += cpu.system;
    machineRssMb = Math.max(machineRssMb, rssMb(Number(e)));
  }
  return { etcd: cpuSeconds(etcdPid), api: cpuSeconds(fleetdPid), machines, machinesSystem, machineRssMb };
}

/** etcd's gRPC requests by method (unary calls started; stream messages received for watches and keepalives). */
async function etcdRequests(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^grpc_server_(started_total|msg_received_total)\{[^}]*grpc_method="(\w+)"[^}]*grpc_type="(\w+)"[^}]*\} (\S+)$/gm)) {
    const [, metric, method, type, value] = m;
    if ((type === 'unary') !== (metric === 'started_total')) continue;
    out.set(method!, (out.get(method!) ?? 0) + Number(value));
  }
  return out;
}

const total = (o: Ops): number => OP_KINDS.reduce((sum, k) => sum + o[k], 0);

interface Result {
  api: 'v2' | 'v3';
  limit: number;
  /** The raw rate one at a time (the issue's 20% reads against it: ~1,000/s then, 200 units/s in 5 s). */
  sequential: number;
  submitted: number;
  elapsed: number;
  active: number;
  stopSeconds: number;
}

/** Live clusters and etcds, for Ctrl-C. */
const live = { cluster: undefined as ReturnType<typeof spawn> | undefined, etcd: undefined as EtcdServer | undefined, stateDir: '' };

async function converge(api: 'v2' | 'v3', bundle: string, clusterId: string): Promise<Result> {
  const etcd = await EtcdServer.start({ heartbeatMs: 50, electionMs: 500 });
  live.etcd = etcd;
  const client = new Etcd3({ hosts: etcd.endpoint });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-bench-'));
  live.stateDir = stateDir;
  let cluster: ReturnType<typeof spawn> | undefined;
  const result: Result = { api, limit: NaN, sequential: NaN, submitted: NaN, elapsed: NaN, active: 0, stopSeconds: NaN };
  try {
    let limit: number;
    let sequential: number;
    if (api === 'v3') {
      sequential = await rawRate(client, 1);
      const parallel = await rawRate(client, 32);
      limit = Math.max(sequential, parallel);
      console.log(`[v3] raw etcd txn rate: ${sequential.toFixed(0)}/s one at a time, ${parallel.toFixed(0)}/s with 32 in flight`);
    } else {
      sequential = await rawRateV2(etcd.url, 1);
      const parallel = await rawRateV2(etcd.url, 32);
      limit = Math.max(sequential, parallel);
      console.log(`[v2] raw etcd v2 create-only PUT rate: ${sequential.toFixed(0)}/s one at a time, ${parallel.toFixed(0)}/s with 32 in flight`);
    }

    cluster = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        bundle,
        'local',
        '--machines',
        String(MACHINES),
        '--etcd',
        etcd.url,
        '--etcd-api',
        api,
        '--api',
        '127.0.0.1:0',
        '--state-dir',
        stateDir,
        '--verbosity',
        String(VERBOSITY),
      ],
      {
        stdio: ['pipe', 'pipe', LOG_FILE ? fs.openSync(`${LOG_FILE}.${api}`, 'w') : 'inherit'],
        detached: true,
        env: { ...process.env, FLEETD_CLUSTER_ID: clusterId },
      },
    );
    live.cluster = cluster;
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

    // Round 1 on the cluster just started; later rounds submit as many new units again on the same,
    // warm cluster (its processes have compiled their hot code; it now runs UNITS more units).
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = ROUNDS > 1 ? `bench-r${round + 1}-` : 'bench-';
      const tag = ROUNDS > 1 ? `[${api}, round ${round + 1}${round === 0 ? ', cold' : ', warm'}]` : `[${api}]`;
      const opsBefore = await etcdOps(etcd.url);
      const storeBefore = await v2StoreOps(etcd.url);
      const cpuBefore = clusterCpu(etcd.pid, cluster.pid!);
      const requestsBefore = await etcdRequests(etcd.url);
      const start = performance.now();
      const benchCpu0 = process.cpuUsage();
      await submitUnits(apiUrl, prefix, 0, UNITS, SUBMIT_ONLY ? 'inactive' : 'launched', CLIENTS);
      const submitted = performance.now() - start;
      const bc = process.cpuUsage(benchCpu0);
      console.log(`bench client CPU during submission: ${((bc.user + bc.system) / 1e6).toFixed(2)} s`);
      let active = 0;
      let failedPolls = 0;
      let stragglersShown = false;
      const deadline = Date.now() + Math.max(120_000, UNITS * 120);
      while (!SUBMIT_ONLY && Date.now() < deadline) {
        // A poll the API answers with an error (etcd overloaded: 503) keeps the last good count, and says so.
        const getPage = async (token?: string) => {
          const res = await httpRequest(keepAlive, `${apiUrl}/fleet/v1/state${token ? `?nextPageToken=${token}` : ''}`);
          if (res.status !== 200) throw new Error(`GET /fleet/v1/state: ${res.status} ${res.text.trim()}`);
          return JSON.parse(res.text) as {
            states?: { name?: string; systemdActiveState?: string; systemdSubState?: string; machineID?: string }[];
            nextPageToken?: string;
          };
        };
        const states: { name?: string; systemdActiveState?: string; systemdSubState?: string; machineID?: string }[] = [];
        try {
          let page = await getPage();
          states.push(...(page.states ?? []));
          while (page.nextPageToken) {
            page = await getPage(page.nextPageToken);
            states.push(...(page.states ?? []));
          }
        } catch (err) {
          failedPolls++;
          if (failedPolls === 1 || failedPolls % 20 === 0) console.error(`poll ${failedPolls} failed: ${errorMessage(err)}`);
          await new Promise(r => setTimeout(r, 500));
          continue;
        }
        // Distinct units: while a unit moves between machines it may briefly report from two.
        const activeNames = new Set(states.filter(s => s.systemdActiveState === 'active' && s.name?.startsWith(prefix)).map(s => s.name));
        active = activeNames.size;
        if (active >= UNITS) break;
        if (!stragglersShown && performance.now() - start > STRAGGLER_MS) {
          stragglersShown = true;
          await showStragglers(tag, apiUrl, prefix, activeNames, states, api === 'v3' ? client : undefined);
        }
        // Polls 100 ms apart: the end is known to within a poll (a walk of the states plus 100 ms),
        // not to within half a second; a walk of 1,000 states costs the API a few ms.
        await new Promise(r => setTimeout(r, POLL_MS));
      }
      const elapsed = (performance.now() - start) / 1000;
      const opsAfter = await etcdOps(etcd.url);
      const storeAfter = await v2StoreOps(etcd.url);
      const cpuAfter = clusterCpu(etcd.pid, cluster.pid!);
      const requestsAfter = await etcdRequests(etcd.url);
      const requests = [...requestsAfter]
        .map(([method, n]) => [method, n - (requestsBefore.get(method) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .sort((a, b) => b[1] - a[1]);
      const requestTotal = requests.reduce((sum, [, n]) => sum + n, 0);
      const ops = total(opsAfter) - total(opsBefore);
      const perUnit = (k: (typeof OP_KINDS)[number]) => ((opsAfter[k] - opsBefore[k]) / UNITS).toFixed(1);
      const rate = UNITS / elapsed;
      console.log(
        `${tag} submitted ${UNITS} units in ${(submitted / 1000).toFixed(2)} s` +
          (SUBMIT_ONLY ? ' (inactive: --submit-only)' : `; ${active}/${UNITS} active on ${MACHINES} machines after ${elapsed.toFixed(2)} s`),
      );
      const againstRaw = (what: string, unitsPerSecond: number) =>
        console.log(
          `${tag} ${what}: ${unitsPerSecond.toFixed(1)} units/s = ${((unitsPerSecond / limit) * 100).toFixed(2)}% of the raw ${api === 'v3' ? 'txn' : 'v2 PUT'} rate (the better of the two), ${((unitsPerSecond / sequential) * 100).toFixed(1)}% of the rate one at a time`,
        );
      if (!SUBMIT_ONLY) againstRaw('convergence', rate);
      // The issue's benchmark line asks for the submission rate against the raw rate too: the
      // submits alone (the 8 clients' PUTs), while the machines already start what is submitted.
      againstRaw('submission', UNITS / (submitted / 1000));
      if (api === 'v3') {
        console.log(
          `${tag} ${(ops / UNITS).toFixed(1)} etcd ops per unit (${OP_KINDS.map(k => `${perUnit(k)} ${k}`).join(', ')}); etcd requests per unit: ${(requestTotal / UNITS).toFixed(1)} (${requests.map(([m, n]) => `${(n / UNITS).toFixed(2)} ${m}`).join(', ')})`,
        );
      } else {
        console.log(
          `${tag} etcd v2 store per unit: ${((storeAfter.writes - storeBefore.writes) / UNITS).toFixed(1)} writes, ${((storeAfter.reads - storeBefore.reads) / UNITS).toFixed(1)} reads`,
        );
      }
      console.log(
        `${tag} CPU during convergence: etcd ${(cpuAfter.etcd - cpuBefore.etcd).toFixed(1)} s, fleetd local + API ${(cpuAfter.api - cpuBefore.api).toFixed(1)} s, ` +
          `${MACHINES} machine processes ${(cpuAfter.machines - cpuBefore.machines).toFixed(1)} s (${(cpuAfter.machinesSystem - cpuBefore.machinesSystem).toFixed(1)} s of it system time; the largest ${cpuAfter.machineRssMb.toFixed(0)} MB resident) (of ${(elapsed * os.cpus().length).toFixed(0)} CPU-s available); ` +
          `${(((cpuAfter.etcd - cpuBefore.etcd + cpuAfter.api - cpuBefore.api + cpuAfter.machines - cpuBefore.machines) / UNITS) * 1000).toFixed(1)} CPU-ms per unit in all; load average ${os
            .loadavg()
            .map(l => l.toFixed(2))
            .join(' ')}`,
      );
      if (failedPolls > 0) console.log(`${tag} ${failedPolls} state poll(s) failed (the count is from the last good one)`);
      // The table reports the first round: a cluster just started, as `fleetd local` gives one.
      if (round === 0) Object.assign(result, { limit, sequential, submitted: submitted / 1000, elapsed, active });
    }
    if (IDLE_SECONDS > 0) {
      // Nothing submitted, nothing polled: the units run, the agents keep their passes and leases.
      const before = clusterCpu(etcd.pid, cluster.pid!);
      await new Promise(r => setTimeout(r, IDLE_SECONDS * 1000));
      const after = clusterCpu(etcd.pid, cluster.pid!);
      const perMinute = (a: number, b: number) => (((a - b) / IDLE_SECONDS) * 60).toFixed(2);
      console.log(
        `[${api}] idle for ${IDLE_SECONDS} s with ${UNITS * ROUNDS} units: CPU-s per minute: etcd ${perMinute(after.etcd, before.etcd)}, ` +
          `fleetd local + API ${perMinute(after.api, before.api)}, ${MACHINES} machine processes ${perMinute(after.machines, before.machines)}`,
      );
    }
    return result;
  } finally {
    if (cluster?.pid) {
      const stopStarted = performance.now();
      await stopGroup(cluster, cluster.pid);
      result.stopSeconds = (performance.now() - stopStarted) / 1000;
      console.log(`[${api}] cluster stopped in ${result.stopSeconds.toFixed(2)} s (every machine purges its units: stop, unload, remove state)`);
    }
    live.cluster = undefined;
    client.close();
    await etcd.stop();
    live.etcd = undefined;
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const bundle = process.env.BENCH_FLEETD ?? path.join(root, 'dist', 'fleetd.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` first');
  // Our own cluster marker: the cleanup check finds exactly this run's unit processes.
  const clusterId = `bench-${process.pid}-${Date.now()}`;
  // Ctrl-C or `timeout`: stop the cluster before exiting (the finally blocks do not run then).
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`bench: ${sig}: stopping the cluster`);
    void (async () => {
      if (live.cluster?.pid) await stopGroup(live.cluster, live.cluster.pid);
      for (const pid of leftoverUnits(clusterId)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await live.etcd?.stop().catch(() => undefined);
      if (live.stateDir) fs.rmSync(live.stateDir, { recursive: true, force: true });
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: Result[] = [];
  try {
    for (const api of API === 'both' ? (['v3', 'v2'] as const) : [API]) results.push(await converge(api, bundle, clusterId));
  } finally {
    keepAlive.destroy();
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
      console.log('cleanup: clusters stopped, no unit process left behind');
    }
  }
  console.log('');
  // Issue 16's "≥ 20% of the raw txn rate", read both ways: against the better raw rate (32 in
  // flight, what the percentages print) and against the rate one at a time; for the convergence.
  const twenty = (r: Result): string => {
    const rate = r.active >= UNITS ? UNITS / r.elapsed : 0;
    return `${rate >= 0.2 * r.limit ? 'PASS' : 'MISS'} (32 in flight), ${rate >= 0.2 * r.sequential ? 'PASS' : 'MISS'} (one at a time)`;
  };
  const share = (rate: number, r: Result) => `${((rate / r.limit) * 100).toFixed(2)}% / ${((rate / r.sequential) * 100).toFixed(1)}%`;
  console.log(
    `| registry | submitted in | submits: share of its raw rate (32 in flight / one at a time) | all active after | units/s | convergence: share of its raw rate (32 in flight / one at a time) | stop | target |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const r of results) {
    const target = r.api === 'v3' ? 5 : 60;
    const ok = r.active >= UNITS && r.elapsed < target;
    const registry = r.api === 'v3' ? 'etcd v3 (fleetd layout)' : "etcd v2 (fleet v1.0's keyspace)";
    if (SUBMIT_ONLY) {
      console.log(`| ${registry} | ${r.submitted.toFixed(2)} s | ${share(UNITS / r.submitted, r)} | — (--submit-only) | | | ${r.stopSeconds.toFixed(2)} s | |`);
      continue;
    }
    console.log(
      `| ${registry} | ${r.submitted.toFixed(2)} s | ${share(UNITS / r.submitted, r)} | ${r.elapsed.toFixed(2)} s | ${(UNITS / r.elapsed).toFixed(1)} | ${share(UNITS / r.elapsed, r)} | ${r.stopSeconds.toFixed(2)} s | < ${target} s: ${ok ? 'PASS' : 'MISS'}${r.api === 'v3' ? `; ≥ 20% of the raw rate: ${twenty(r)}` : ''} |`,
    );
  }
  const v3 = results.find(r => r.api === 'v3');
  const v2 = results.find(r => r.api === 'v2');
  if (v3 && v2) console.log(`v2 / v3 convergence time: ${(v2.elapsed / v3.elapsed).toFixed(2)}×`);
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
  const pids = (out.stdout ?? '')
    .split('\n')
    .map(Number)
    .filter(n => n > 0);
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
