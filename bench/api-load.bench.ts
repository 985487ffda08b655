/**
 * fleetd's API under large requests (issue 12, item 5): RSS and the latency of other requests.
 *
 *   node --import tsx bench/api-load.bench.ts [--puts 10] [--mb 3.7] [--etcd /usr/bin/etcd]
 *
 * Starts the built daemon (`dist/fleetd.js local --etcd-binary …`, one machine), measures a GET
 * /units round trip at rest (the baseline), then sends `--puts` PUTs of `--mb` MB each in parallel
 * (units too large for etcd: the API must refuse them with 413, not 503) while a probe keeps
 * sending GET /units one after another. Prints the statuses, the probe's median and worst round
 * trip under load against the baseline, and fleetd's RSS (VmRSS after, VmHWM the peak) from /proc.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { benchNumber, benchOption } from './lib/args';

const PUTS = benchNumber('puts', 10);
const MB = benchNumber('mb', 3.7);
const ETCD = benchOption('etcd', '/usr/bin/etcd');
const root = path.resolve(__dirname, '..');
/** --bundle PATH: another build (e.g. a checkout without the limits) to compare with. */
const bundle = path.resolve(benchOption('bundle', path.join(root, 'dist', 'fleetd.js')));

function request(base: string, method: string, p: string, body?: string): Promise<{ status: number; ms: number; text: string }> {
  const url = new URL(p, base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        agent: false,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      res => {
        let text = '';
        res.on('data', c => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, text }));
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${p}: no answer in 120 s`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function memory(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` first');
  if (!fs.existsSync(ETCD)) throw new Error(`${ETCD} does not exist: install etcd-server or pass --etcd PATH`);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-api-load-'));
  const child = spawn(
    process.execPath,
    [bundle, 'local', '--machines', '1', '--etcd-binary', ETCD, '--state-dir', stateDir, '--api', '127.0.0.1:0', '--verbosity', '0'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    let out = '';
    child.stdout!.on('data', c => (out += c.toString()));
    const deadline = Date.now() + 60_000;
    let base: string | undefined;
    while (!(base = /API ready at (\S+)/.exec(out)?.[1])) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fleetd did not start:\n${out}`);
      await new Promise(r => setTimeout(r, 100));
    }
    const pid = child.pid!;
    const rest: number[] = [];
    for (let i = 0; i < 50; i++) rest.push((await request(base, 'GET', '/fleet/v1/units')).ms);
    const before = memory(pid);

    // One option line of ~2000 bytes each (fleet refuses lines over 2048).
    const lines = Math.ceil((MB * 1e6) / 2000);
    const body = JSON.stringify({
      desiredState: 'launched',
      options: [
        { section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' },
        ...Array.from({ length: lines }, (_, i) => ({ section: 'Service', name: 'Environment', value: `B${i}=${'x'.repeat(1990)}` })),
      ],
    });
    let loading = true;
    const probe: number[] = [];
    const probing = (async () => {
      while (loading) probe.push((await request(base, 'GET', '/fleet/v1/units')).ms);
    })().catch((err: Error) => {
      throw new Error(`GET /units under load failed (${err.message}); fleetd's output:\n${out.slice(-3000)}`);
    });
    const t0 = performance.now();
    const replies = await Promise.all(
      Array.from({ length: PUTS }, (_, i) =>
        request(base!, 'PUT', `/fleet/v1/units/big${i}.service`, body).catch((err: Error) => ({
          status: 0,
          ms: 0,
          text: JSON.stringify({ error: { message: `no answer: ${err.message}` } }),
        })),
      ),
    );
    const wall = performance.now() - t0;
    loading = false;
    await probing;
    const after = memory(pid);

    const statuses = new Map<string, number>();
    for (const r of replies) statuses.set(`${r.status}`, (statuses.get(`${r.status}`) ?? 0) + 1);
    const message = (JSON.parse(replies[0]!.text || '{}') as { error?: { message?: string } }).error?.message ?? '';
    const base0 = median(rest);
    console.log(`fleetd API under ${PUTS} parallel PUTs of ${(body.length / 1e6).toFixed(2)} MB (node ${process.version}, ${os.cpus().length} CPUs)`);
    console.log(`  statuses: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}${message ? ` — "${message.slice(0, 120)}…"` : ''}`);
    console.log(`  all PUTs answered in ${wall.toFixed(0)} ms`);
    console.log(`  GET /units at rest (baseline): median ${base0.toFixed(1)} ms`);
    console.log(
      `  GET /units under load: ${probe.length} requests, median ${median(probe).toFixed(1)} ms (${(median(probe) / base0).toFixed(1)}×), worst ${Math.max(...probe).toFixed(0)} ms (${(Math.max(...probe) / base0).toFixed(0)}×)`,
    );
    console.log(`  fleetd RSS: ${before.rss.toFixed(0)} MB before, ${after.rss.toFixed(0)} MB after; peak (VmHWM) ${after.hwm.toFixed(0)} MB`);
  } finally {
    const exited = new Promise(r => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
