/**
 * Parts of bench/explorer.bench.ts: a `fleetd local --etcd-binary` cluster with a TCP API, bulk
 * submits through the API, CPU seconds from /proc, and a counting proxy in front of the API (every
 * request, its status and bytes, and the TCP connections clients opened).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { statFields } from '../../fleetd/src/agent/processes';

export const ROOT = path.resolve(__dirname, '..', '..');

/** CPU seconds in a process's /proc/<pid>/stat fields (as statFields returns them): user + system, and system alone. */
export function cpuOfStat(f: readonly string[]): { total: number; system: number } {
  return { total: (Number(f[11]) + Number(f[12])) / 100, system: Number(f[12]) / 100 };
}

/** CPU seconds (user + system) of a process; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  const f = pid ? statFields(pid) : undefined;
  return f ? cpuOfStat(f).total : 0;
}

/** PIDs whose command line satisfies `test` (Linux /proc). */
export function pidsWhere(test: (cmdline: string, pid: number) => boolean): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (test(cmd, Number(e))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface BenchCluster {
  url: string;
  stateDir: string;
  pid: number;
  /** etcd's pid (under fleetd's guard shell). */
  etcdPid: number | undefined;
  /** The machine processes (children of `fleetd local`). */
  machinePids: number[];
  stop(): Promise<void>;
}

/** `fleetd local --machines N --etcd-binary /usr/bin/etcd --api 127.0.0.1:0` in its own process group. */
export async function startCluster(machines: number, etcdBinary: string, bundle = path.join(ROOT, 'dist', 'fleetd.js')): Promise<BenchCluster> {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` first');
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-explorer-bench-'));
  const logFile = path.join(stateDir, '..', `${path.basename(stateDir)}.log`);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      bundle,
      'local',
      '--machines',
      String(machines),
      '--etcd-binary',
      etcdBinary,
      '--api',
      '127.0.0.1:0',
      '--state-dir',
      stateDir,
    ],
    // Its own runtime dir: a cluster published in the default one is adopted by every editor and test on this machine.
    { stdio: ['pipe', 'pipe', fs.openSync(logFile, 'w')], detached: true, env: { ...process.env, FLEETD_RUNTIME_DIR: path.join(stateDir, 'run') } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fleetd not ready in 90 s:\n${out}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /fleetd: API ready at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace(/\/+$/, ''));
      }
    });
    child.once('exit', code => reject(new Error(`fleetd exited (${code}) before ready:\n${out}\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`)));
  });
  const pid = child.pid!;
  const etcdPid = pidsWhere(cmd => cmd.startsWith(etcdBinary) && cmd.includes(stateDir))[0];
  const machinePids = pidsWhere((cmd, p) => p !== pid && cmd.includes(bundle) && / agent /.test(` ${cmd} `) && cmd.includes(stateDir));
  const stop = async () => {
    const exited = new Promise<void>(r => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // gone
    }
    await Promise.race([exited, new Promise(r => setTimeout(r, 60_000))]);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(logFile, { force: true });
  };
  return { url, stateDir, pid, etcdPid, machinePids, stop };
}

/** Submits units `prefix<i>.service` for i in [from, to) through the API, `clients` requests in flight. */
export async function submitUnits(url: string, prefix: string, from: number, to: number, desiredState: string, clients = 8): Promise<number> {
  const start = performance.now();
  let next = from;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < to; i = next++) {
        const body = JSON.stringify({
          desiredState,
          options: [
            { section: 'Unit', name: 'Description', value: `bench unit ${i}` },
            { section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' },
          ],
        });
        const { status } = await httpRequest(agent, `${url}/fleet/v1/units/${prefix}${i}.service`, 'PUT', body);
        if (status !== 201 && status !== 204) throw new Error(`PUT ${prefix}${i}.service: ${status}`);
      }
    }),
  );
  agent.destroy();
  return (performance.now() - start) / 1000;
}

/**
 * One request on `agent` (keep-alive when the agent is; node:http, not fetch: undici cost a bench
 * ~1 ms of CPU per request, on the CPUs the cluster it measures runs on): the status, the body and
 * the local port of the connection it went over.
 */
export function httpRequest(
  agent: http.Agent,
  url: string,
  method = 'GET',
  body?: string,
): Promise<{ status: number; text: string; localPort: number | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), localPort: res.socket?.localPort }));
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${url}: no answer in 60 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** GET a JSON document (a fresh connection each time, as a poller without keep-alive would). */
export async function getJson<T>(url: string): Promise<{ status: number; body: T | undefined; bytes: number }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as T) : undefined, bytes: text.length };
}

export interface ProxyCounts {
  requests: number;
  bytes: number;
  connections: number;
  statuses: Record<string, number>;
  /** Requests by path without the query's tokens (e.g. `GET /fleet/v1/machines?wait`). */
  paths: Record<string, number>;
}

/** A logging, counting HTTP proxy on 127.0.0.1 in front of fleetd's TCP API. */
export class CountingProxy {
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private closedBytes = 0;
  private counts: Omit<ProxyCounts, 'bytes'> = { requests: 0, connections: 0, statuses: {}, paths: {} };
  private readonly upstream: URL;
  readonly log: string[] = [];
  /** Every request's start and end (performance.now()), for timelines such as the cold open's. */
  readonly timeline: { key: string; start: number; end?: number }[] = [];

  private constructor(target: string, server: http.Server) {
    this.upstream = new URL(target);
    this.server = server;
  }

  static async start(target: string): Promise<CountingProxy> {
    const server = http.createServer();
    const proxy = new CountingProxy(target, server);
    server.on('connection', socket => {
      proxy.counts.connections++;
      proxy.sockets.add(socket);
      socket.once('close', () => {
        proxy.sockets.delete(socket);
        proxy.closedBytes += socket.bytesRead + socket.bytesWritten;
      });
    });
    server.on('request', (req, res) => proxy.forward(req, res));
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    return proxy;
  }

  get url(): string {
    const a = this.server.address() as net.AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  /** Counts so far (bytes: both directions on the client side, headers included). */
  snapshot(): ProxyCounts {
    let bytes = this.closedBytes;
    for (const s of this.sockets) bytes += s.bytesRead + s.bytesWritten;
    return { ...this.counts, statuses: { ...this.counts.statuses }, paths: { ...this.counts.paths }, bytes };
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = performance.now();
    this.counts.requests++;
    const u = new URL(req.url ?? '/', this.upstream);
    const key = `${req.method} ${u.pathname}${u.searchParams.has('wait') ? '?wait' : ''}${u.searchParams.has('nextPageToken') ? '?page' : ''}`;
    this.counts.paths[key] = (this.counts.paths[key] ?? 0) + 1;
    const entry: { key: string; start: number; end?: number } = { key, start: started };
    this.timeline.push(entry);
    const up = http.request(
      { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      upRes => {
        const status = String(upRes.statusCode ?? 0);
        this.counts.statuses[status] = (this.counts.statuses[status] ?? 0) + 1;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('end', () => (entry.end = performance.now()));
        upRes.on('end', () => this.log.push(`${new Date().toISOString()} ${req.method} ${req.url} ${status} ${(performance.now() - started).toFixed(0)} ms`));
      },
    );
    up.on('error', err => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>(r => this.server.close(() => r()));
  }
}
