/**
 * What one list costs fleetd's API on etcd v3 (issue 16 item 1: lists from the watch-fed
 * mirror), by hand, not in npm test:
 *
 *   node esbuild.mjs && node --import tsx bench/lists.bench.ts
 *   node --import tsx bench/lists.bench.ts --before /tmp/before/dist/fleetd.js --rounds 2   # alternated with an older bundle
 *
 * A `--machines` (10) machine `fleetd local --etcd-binary /usr/bin/etcd` cluster with `--units`
 * (1,000) units (ExecStart=/bin/sleep 3600, `--desired` launched), once every unit reports a
 * state: `--runs` (15) timed requests each of `GET /units?pageSize=5000`, `/state?pageSize=5000`
 * and `/machines` (first pages, no If-None-Match: each one a registry read), and of fleetctl's walk
 * of `/units` in pages of 100, on one keep-alive connection (the bench checks that every answer
 * came on the same socket). With `--before <bundle>`, the rounds alternate: the branch's
 * dist/fleetd.js, then the other bundle, `--rounds` (1) times each. Prints the medians per round
 * and the load average at each round's start.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { httpRequest, ROOT, startCluster, submitUnits } from './lib/benchCluster';
import { benchNumber, benchOption } from './lib/args';

const UNITS = benchNumber('units', 1000);
const MACHINES = benchNumber('machines', 10);
const DESIRED = benchOption('desired', 'launched');
const RUNS = benchNumber('runs', 15);
const ROUNDS = benchNumber('rounds', 1);
const ETCD = benchOption('etcd-binary', '/usr/bin/etcd');
const BEFORE = benchOption('before', '');
const AFTER = path.join(ROOT, 'dist', 'fleetd.js');

let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const sockets = new Set<string>();

async function get(url: string): Promise<{ status: number; body: string }> {
  const { status, text, localPort } = await httpRequest(agent, url);
  sockets.add(`${localPort}`);
  return { status, body: text };
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function list(url: string, path: string, field: string, expect: number): Promise<void> {
  const { status, body } = await get(`${url}${path}`);
  if (status !== 200) throw new Error(`GET ${path}: ${status}`);
  const n = ((JSON.parse(body) as Record<string, unknown[]>)[field] ?? []).length;
  if (n !== expect) throw new Error(`GET ${path}: ${n} ${field}, expected ${expect}`);
}

async function walk(url: string): Promise<void> {
  let token: string | undefined;
  let n = 0;
  do {
    const { status, body } = await get(`${url}/fleet/v1/units${token ? `?nextPageToken=${encodeURIComponent(token)}` : ''}`);
    if (status !== 200) throw new Error(`walk: ${status}`);
    const page = JSON.parse(body) as { units?: unknown[]; nextPageToken?: string };
    n += page.units?.length ?? 0;
    token = page.nextPageToken;
  } while (token);
  if (n !== UNITS) throw new Error(`walk: ${n} units, expected ${UNITS}`);
}

async function round(label: string, bundle: string): Promise<Record<string, number>> {
  const load = os
    .loadavg()
    .map(l => l.toFixed(2))
    .join(' ');
  const cluster = await startCluster(MACHINES, ETCD, bundle);
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const submitted = await submitUnits(cluster.url, 'list-', 0, UNITS, DESIRED, 8);
    const states = DESIRED === 'inactive' ? 0 : UNITS;
    // Settled: every unit reports a state (active, when launched), twice in a row.
    for (let quiet = 0; quiet < 2;) {
      await new Promise(r => setTimeout(r, 500));
      const { body } = await get(`${cluster.url}/fleet/v1/state?pageSize=5000`);
      const reported = (JSON.parse(body) as { states?: { systemdActiveState?: string }[] }).states ?? [];
      const active = reported.filter(s => s.systemdActiveState === 'active').length;
      quiet = reported.length < states || (DESIRED === 'launched' && active < UNITS) ? 0 : quiet + 1;
    }
    sockets.clear();
    const times: Record<string, number[]> = { units: [], state: [], machines: [], walk: [] };
    await list(cluster.url, '/fleet/v1/units?pageSize=5000', 'units', UNITS); // warm-up
    for (let r = 0; r < RUNS; r++) {
      times.units!.push(await timed(() => list(cluster.url, '/fleet/v1/units?pageSize=5000', 'units', UNITS)));
      times.state!.push(await timed(() => list(cluster.url, '/fleet/v1/state?pageSize=5000', 'states', states)));
      times.machines!.push(await timed(() => list(cluster.url, '/fleet/v1/machines', 'machines', MACHINES)));
      times.walk!.push(await timed(() => walk(cluster.url)));
    }
    const out = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    console.log(
      `${label.padEnd(6)} load ${load}: ${UNITS} units submitted in ${submitted.toFixed(1)} s; medians of ${RUNS}: ` +
        `/units?pageSize=5000 ${out.units!.toFixed(1)} ms, /state?pageSize=5000 ${out.state!.toFixed(1)} ms, /machines ${out.machines!.toFixed(1)} ms, ` +
        `walk of /units in pages of 100 ${out.walk!.toFixed(1)} ms; ${sockets.size} connection(s) for ${RUNS * (3 + Math.ceil((UNITS + 1) / 100))} requests`,
    );
    return out;
  } finally {
    agent.destroy();
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  console.log(`lists: ${UNITS} units (${DESIRED}) on ${MACHINES} machines, etcd ${ETCD}; ${os.cpus().length} CPUs`);
  for (let i = 0; i < ROUNDS; i++) {
    await round('after', AFTER);
    if (BEFORE) await round('before', BEFORE);
  }
}

main().catch(err => {
  console.error(err);
  process.exit(2);
});
