/**
 * fleetd under faults, on real etcd (issue 12): 3 machines, 100 units, then one fault after the
 * other, each followed by the time until every unit runs exactly once again and the counts of
 * units lost and duplicated (both must be 0).
 *
 *   npm run build && node --import tsx bench/faults.bench.ts [--units 100] [--ttl 5]
 *
 * The cluster is `dist/fleetd.js local --machines 3 --etcd …` (one process per machine) on a
 * private etcd from test/support (Debian's etcd). Each unit runs `/bin/sleep <unique number>`, so
 * its processes are counted from /proc (never from what fleetd reports): a unit with no process
 * at the end of a fault's window is lost, a unit with two processes at any moment is duplicated.
 * Faults, in this order: kill -9 of a machine process, kill -9 of the engine leader's machine,
 * kill -9 of etcd and its restart, etcd paused (SIGSTOP) for twice the agent TTL, then resumed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdServer } from '../test/support/etcd';
import { benchNumber } from './lib/args';

const UNITS = benchNumber('units', 100);
const TTL_S = benchNumber('ttl', 5);
/** Longest a fault's recovery is watched. */
const WINDOW_MS = 90_000;
const root = path.resolve(__dirname, '..');
const bundle = path.join(root, 'dist', 'fleetd.js');
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** The number each unit sleeps for: its identity in /proc. */
const base = 7_000_000 + Math.floor(Math.random() * 1_000_000);
const seconds = (i: number) => String(base + i);

/** Processes per unit, counted from /proc (`/bin/sleep <n>` with this run's numbers). */
function processCounts(): number[] {
  const counts = new Array<number>(UNITS).fill(0);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string[];
    try {
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue; // a zombie is not running
    } catch {
      continue;
    }
    if (cmd[0] !== '/bin/sleep') continue;
    const i = Number(cmd[1]) - base;
    if (Number.isInteger(i) && i >= 0 && i < UNITS) counts[i]!++;
  }
  return counts;
}

interface Outcome {
  fault: string;
  recoveredMs: number | undefined;
  lost: number;
  duplicated: number;
}

/**
 * Watch from the fault on (sampling while it is under way too): when, after it, every unit runs
 * exactly once (and stays so for 3 s), and the counts.
 */
async function watch(fault: string, startedAt: number, faultDone: () => boolean = () => true): Promise<Outcome> {
  const everDuplicated = new Set<number>();
  let allOnceSince: number | undefined;
  let recoveredMs: number | undefined;
  let counts = processCounts();
  while (Date.now() - startedAt < WINDOW_MS) {
    counts = processCounts();
    counts.forEach((c, i) => c > 1 && everDuplicated.add(i));
    if (faultDone() && counts.every(c => c === 1)) {
      allOnceSince ??= Date.now();
      recoveredMs ??= Date.now() - startedAt;
      if (Date.now() - allOnceSince >= 3_000) break;
    } else {
      allOnceSince = undefined;
      recoveredMs = undefined;
    }
    await sleep(100);
  }
  return { fault, recoveredMs, lost: counts.filter(c => c === 0).length, duplicated: everDuplicated.size };
}

function machinePid(stateDir: string, machineId: string): number | undefined {
  let dir: string | undefined;
  for (const d of fs.readdirSync(stateDir)) {
    try {
      if (fs.readFileSync(path.join(stateDir, d, 'machine-id'), 'utf8').trim() === machineId) dir = path.join(stateDir, d);
    } catch {
      // not a machine dir
    }
  }
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('agent') && dir && cmd.includes(dir)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

async function main(): Promise<void> {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` first');
  const etcd = await EtcdServer.start();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-faults-'));
  const clusterId = randomBytes(8).toString('hex');
  const child = spawn(
    process.execPath,
    [
      bundle,
      'local',
      '--machines',
      '3',
      '--etcd',
      etcd.url,
      '--api',
      '127.0.0.1:0',
      '--state-dir',
      stateDir,
      '--agent-ttl',
      `${TTL_S}s`,
      '--engine-reconcile-interval',
      '1',
      '--agent-reconcile-interval',
      '1',
      '--verbosity',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, FLEETD_CLUSTER_ID: clusterId } },
  );
  let out = '';
  child.stdout!.on('data', c => (out += c.toString()));
  child.stderr!.on('data', c => (out = (out + c.toString()).slice(-100_000)));
  const client = new Etcd3({ hosts: etcd.endpoint });
  const outcomes: Outcome[] = [];
  try {
    let api: string | undefined;
    for (let i = 0; i < 600 && !(api = /API ready at (\S+)/.exec(out)?.[1]); i++) {
      if (child.exitCode !== null) throw new Error(`fleetd exited:\n${out}`);
      await sleep(100);
    }
    if (!api) throw new Error(`fleetd did not start:\n${out}`);
    const t0 = Date.now();
    for (let i = 0; i < UNITS; i++) {
      const res = await fetch(`${api}/fleet/v1/units/f${i}.service`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: `/bin/sleep ${seconds(i)}` }] }),
      });
      if (res.status !== 201) throw new Error(`PUT f${i}.service: ${res.status} ${await res.text()}`);
    }
    const start = await watch('start', t0);
    console.log(
      `fleetd faults bench: ${UNITS} units on 3 machines, agent TTL ${TTL_S} s, real etcd (${os.cpus().length} CPUs, load ${os
        .loadavg()
        .map(l => l.toFixed(2))
        .join(' ')})`,
    );
    console.log(`start: all ${UNITS} running once after ${start.recoveredMs ?? '∞'} ms (lost ${start.lost}, duplicated ${start.duplicated})`);

    const machines = async () => Object.entries(await client.getAll().prefix('/_coreos.com/fleet/machines/').strings());
    const faults: [string, () => Promise<void>][] = [
      [
        'kill -9 of a machine',
        async () => {
          const leader = await leaderId();
          const ids = [...new Set((await machines()).map(([k]) => /machines\/([0-9a-f]{32})\//.exec(k)?.[1]).filter((x): x is string => !!x))];
          const victim = ids.find(id => id !== leader)!;
          process.kill(machinePid(stateDir, victim)!, 'SIGKILL');
        },
      ],
      [
        'kill -9 of the engine leader',
        async () => {
          process.kill(machinePid(stateDir, (await leaderId())!)!, 'SIGKILL');
        },
      ],
      [
        'kill -9 of etcd, then its restart',
        async () => {
          await etcd.halt('SIGKILL');
          await etcd.relaunch();
        },
      ],
      [
        `etcd paused for ${2 * TTL_S} s (twice the TTL)`,
        async () => {
          process.kill(etcd.pid!, 'SIGSTOP');
          await sleep(2 * TTL_S * 1000);
          process.kill(etcd.pid!, 'SIGCONT');
        },
      ],
    ];
    const leaderId = async () => {
      const kvs = await client.getAll().prefix('/_coreos.com/fleet/').strings();
      const key = Object.keys(kvs).find(k => /leader|lease\/engine/.test(k));
      return key ? /[0-9a-f]{32}/.exec(kvs[key]!)?.[0] : undefined;
    };
    for (const [name, fault] of faults) {
      const at = Date.now();
      let done = false;
      const watching = watch(name, at, () => done);
      await fault();
      done = true;
      const o = await watching;
      outcomes.push(o);
      console.log(
        `${name}: every unit running exactly once after ${o.recoveredMs === undefined ? `more than ${WINDOW_MS / 1000} s` : `${(o.recoveredMs / 1000).toFixed(1)} s`}; lost ${o.lost}, duplicated ${o.duplicated}`,
      );
    }
    const bad = outcomes.filter(o => o.lost > 0 || o.duplicated > 0 || o.recoveredMs === undefined);
    console.log(bad.length === 0 ? 'every fault: 0 lost, 0 duplicated: PASS' : `FAIL: ${bad.map(o => o.fault).join('; ')}`);
    if (bad.length > 0) process.exitCode = 1;
  } finally {
    client.close();
    if (child.exitCode === null) {
      const exited = new Promise(r => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    await etcd.stop();
    const left = processCounts().reduce((a, b) => a + b, 0);
    if (left > 0) console.log(`warning: ${left} unit process(es) left after the cluster stopped`);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
