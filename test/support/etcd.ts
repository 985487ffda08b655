/**
 * A private etcd for integration tests: Debian's `etcd` on 127.0.0.1 with free ports, fast raft
 * timeouts (ready in ~0.15 s, restart in ~0.2 s) and its data dir in a temp dir.
 *
 *   const etcd = await useEtcd('registry');         // the runner's shared etcd (FLEET_TEST_ETCD) or a private one
 *   new Etcd3({ hosts: etcd.endpoint }); keys under etcd.prefix;  await etcd.stop();
 *
 *   const own = await EtcdServer.start();           // always private, e.g. to restart it
 *   await own.restart(); await own.halt('SIGKILL'); await own.relaunch(); await own.stop();
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePorts } from './ports';
import { spawnDetached, stopSpawned, tail, waitFor, type Spawned } from './process';
import { binary, requireBinary, type Requirement } from './requirements';

export interface EtcdOptions {
  /** Data directory; default: a fresh temp dir, removed by stop(). */
  dataDir?: string;
  clientPort?: number;
  peerPort?: number;
  name?: string;
  /** Raft timing; default fast (heartbeat 10 ms, election 100 ms), as tests want quick (re)starts. */
  heartbeatMs?: number;
  electionMs?: number;
  /** Serve etcd's v2 API (fleet's registry) too; default true. */
  enableV2?: boolean;
  /** Serve clients over TLS with these PEM files (client certificates required when `clientCa` is given). */
  tls?: { cert: string; key: string; clientCa?: string };
}

/** What a test needs to start its own etcd. */
export const etcdBinary = (): Requirement => binary('etcd', 'etcd-server');

/** What a test needs for useEtcd(): the runner's etcd, or the binary to start one. */
export const etcdAvailable = (): Requirement => (process.env.FLEET_TEST_ETCD ? { name: 'etcd', missing: undefined } : etcdBinary());

export class EtcdServer {
  private process: Spawned | undefined;

  private constructor(
    private readonly bin: string,
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly timing: { heartbeatMs: number; electionMs: number; enableV2: boolean; tls: EtcdOptions['tls'] },
    /** A temp dir this object created and removes on stop(). */
    private readonly ownedDir: string | undefined,
  ) {}

  /** host:port, the form etcd3's `hosts` option and FLEET_TEST_ETCD use. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get url(): string {
    return `${this.timing.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.process && !this.process.hasExited() ? this.process.pid : undefined;
  }

  static async start(options: EtcdOptions = {}): Promise<EtcdServer> {
    const bin = requireBinary('etcd', 'etcd-server');
    const ownedDir = options.dataDir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-etcd-'));
    const dataDir = options.dataDir ?? path.join(ownedDir!, 'data');
    const logFile = `${dataDir}.log`;
    const timing = { heartbeatMs: options.heartbeatMs ?? 10, electionMs: options.electionMs ?? 100, enableV2: options.enableV2 ?? true, tls: options.tls };
    const fixedPorts = options.clientPort !== undefined && options.peerPort !== undefined;
    // Ports picked here can be taken between picking and binding: retry with new ones.
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = fixedPorts ? [options.clientPort!, options.peerPort!] : await freePorts(2);
      const server = new EtcdServer(bin, options.name ?? 'fleet-test', clientPort!, peerPort!, dataDir, logFile, timing, ownedDir);
      try {
        await server.relaunch();
        return server;
      } catch (err) {
        await server.halt('SIGKILL');
        const portClash = /address already in use/.test(tail(logFile, 20));
        if (fixedPorts || !portClash || attempt >= 3) {
          if (ownedDir) fs.rmSync(ownedDir, { recursive: true, force: true });
          throw err;
        }
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    }
  }

  /** Starts etcd (again) on the same ports and data dir and waits until /health says true. */
  async relaunch(): Promise<void> {
    if (this.pid !== undefined) throw new Error(`etcd ${this.endpoint} is already running (pid ${this.pid})`);
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dataDir, 0o700);
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name',
      this.name,
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      this.url,
      '--advertise-client-urls',
      this.url,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${this.name}=${peer}`,
      '--initial-cluster-state',
      'new',
      `--enable-v2=${this.timing.enableV2}`,
      '--heartbeat-interval',
      String(this.timing.heartbeatMs),
      '--election-timeout',
      String(this.timing.electionMs),
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
    ];
    const tls = this.timing.tls;
    if (tls) args.push('--cert-file', tls.cert, '--key-file', tls.key, ...(tls.clientCa ? ['--client-cert-auth', '--trusted-ca-file', tls.clientCa] : []));
    fs.appendFileSync(this.logFile, `--- etcd ${args.join(' ')}\n`);
    const started = spawnDetached(this.bin, args, { logFile: this.logFile });
    this.process = started;
    await waitFor(`etcd on ${this.endpoint} to report healthy`, () => this.healthy(), {
      timeoutMs: 20_000,
      abortIf: () => (started.hasExited() ? `etcd exited early:\n${tail(this.logFile)}` : undefined),
    });
  }

  async healthy(): Promise<boolean> {
    if (this.timing.tls) return this.tlsHealthy();
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  /** /health over TLS: any HTTP answer from the TLS listener means etcd is serving. */
  private tlsHealthy(): Promise<boolean> {
    const tls = this.timing.tls!;
    return new Promise(resolve => {
      const req = https.get(
        `${this.url}/health`,
        { rejectUnauthorized: false, cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key), timeout: 1_000 },
        res => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
  }

  /** Stops the process (SIGTERM, or SIGKILL to simulate a crash) and keeps the data for relaunch(). */
  async halt(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.process;
    this.process = undefined;
    if (p) await stopSpawned(p, { signal, timeoutMs: 10_000 });
  }

  /** halt() then relaunch(): the data survives, the endpoint stays the same. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.halt(signal);
    await this.relaunch();
  }

  /** Stops etcd and removes the temp dir it created. */
  async stop(): Promise<void> {
    await this.halt('SIGTERM');
    if (this.ownedDir) fs.rmSync(this.ownedDir, { recursive: true, force: true });
  }
}

/** An etcd endpoint for one test file, with its own key prefix so tests can share one etcd. */
export interface EtcdFixture {
  /** host:port */
  endpoint: string;
  /** A key prefix unique to this fixture, ending in "/". */
  prefix: string;
  /** The private server, when this fixture started one (undefined when using the runner's). */
  server: EtcdServer | undefined;
  /** Deletes the prefix on a shared etcd, or stops the private one. */
  stop(): Promise<void>;
}

/**
 * The runner's etcd (FLEET_TEST_ETCD=host:port) when there is one, else a private EtcdServer.
 * Keys written under `prefix` are removed on stop() when the etcd is shared.
 */
export async function useEtcd(label = 'test'): Promise<EtcdFixture> {
  const prefix = `/fleet-test/${label}-${process.pid}-${randomBytes(4).toString('hex')}/`;
  const shared = process.env.FLEET_TEST_ETCD;
  if (shared) {
    return { endpoint: shared, prefix, server: undefined, stop: async () => void (await deletePrefix(shared, prefix)) };
  }
  const server = await EtcdServer.start();
  return { endpoint: server.endpoint, prefix, server, stop: () => server.stop() };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** The end of the key range that holds every key starting with `prefix` (etcd's prefix range). */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i]!;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Deletes every key under `prefix` through etcd's JSON gateway (no client library needed). */
export async function deletePrefix(endpoint: string, prefix: string): Promise<number> {
  const res = await fetch(`http://${endpoint}/v3/kv/deleterange`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(prefix), range_end: b64(prefixRangeEnd(prefix)) }),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`etcd deleterange ${prefix} on ${endpoint}: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { deleted?: string };
  return Number(body.deleted ?? 0);
}
