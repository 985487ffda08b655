/**
 * A private etcd owned by `fleetd local --etcd-binary PATH`: one member on 127.0.0.1 with free
 * ports and its data under the state dir, so a restarted local cluster keeps its registry;
 * supervised: when it dies it is logged and restarted on the same data, with backoff.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EtcdProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

export type EtcdLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface EtcdSupervision {
  /** Delays before the restarts after a death, the last one repeated; reset once etcd stayed up RESET_AFTER_MS. */
  restartDelaysMs?: readonly number[];
}

/** Default backoff: 0.5 s doubling to 30 s. */
const RESTART_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000];
/** A run this long counts as healthy: the next death starts the backoff over. */
const RESET_AFTER_MS = 60_000;
const HEALTHY_WITHIN_MS = 20_000;

/**
 * etcd runs under a small shell that holds our stdin: if fleetd dies, even by SIGKILL, the pipe
 * closes and the shell stops etcd, so no etcd outlives the cluster that started it. The shell
 * also exits when etcd does (with etcd's status), which is how fleetd learns that etcd died.
 */
const GUARD = [
  'exec 3<&0',
  '"$0" "$@" </dev/null 3<&- & p=$!',
  '( read -r _ <&3; kill $p 2>/dev/null ) & w=$!',
  'exec 3<&-',
  "trap 'kill $p 2>/dev/null' TERM INT",
  'wait $p; s=$?',
  'while kill -0 $p 2>/dev/null; do wait $p; s=$?; done',
  'kill $w 2>/dev/null',
  'exit $s',
].join('\n');

/**
 * Start the private etcd and supervise it: when it dies, fleetd logs it and restarts it on the
 * same data dir and ports, with backoff, until stop(). fleetd's registry client reconnects by
 * itself, so the cluster recovers without anyone's help.
 */
export async function startEtcd(binary: string, dataRoot: string, log: EtcdLog, supervision: EtcdSupervision = {}): Promise<EtcdProcess> {
  if (!fs.existsSync(binary)) throw new Error(`--etcd-binary: ${binary} does not exist (install Debian's etcd-server, or use --embedded)`);
  const dataDir = path.join(dataRoot, 'etcd');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  // A member's peer URL is stored in its data: reuse the ports of the last run when they are
  // free, so a restarted local cluster keeps its registry; otherwise start a fresh member.
  const portsFile = path.join(dataRoot, 'etcd-ports.json');
  let ports: { client: number; peer: number } | undefined;
  try {
    const saved = JSON.parse(fs.readFileSync(portsFile, 'utf8')) as { client: number; peer: number };
    if ((await portFree(saved.client)) && (await portFree(saved.peer))) ports = saved;
  } catch {
    // first run
  }
  if (!ports) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    ports = { client: await freePort(), peer: await freePort() };
    fs.writeFileSync(portsFile, JSON.stringify(ports), { mode: 0o600 });
  }
  const url = `http://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const args = [
    '--name', 'fleetd-local', '--data-dir', dataDir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `fleetd-local=${peer}`, '--initial-cluster-state', 'new',
    '--heartbeat-interval', '50', '--election-timeout', '500',
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
  ];

  /** Spawn etcd under its guard and wait until it is healthy. */
  const launch = async (): Promise<ChildProcess> => {
    const child: ChildProcess = spawn('/bin/sh', ['-c', GUARD, binary, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
      for (const line of chunk.toString().split('\n')) if (line.trim()) log('debug', `etcd: ${line}`);
    });
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + HEALTHY_WITHIN_MS;
    while (!(await healthy(url))) {
      if (exited) throw new Error(`etcd (${binary}) exited at start:\n${stderr}`);
      if (Date.now() > deadline) {
        await stopChild(child, 1_000);
        throw new Error(`etcd (${binary}) did not become healthy on ${url} within ${HEALTHY_WITHIN_MS / 1000} s:\n${stderr}`);
      }
      await new Promise(r => setTimeout(r, 100));
    }
    return child;
  };

  const delays = supervision.restartDelaysMs ?? RESTART_DELAYS_MS;
  let current = await launch();
  let startedAt = Date.now();
  let attempt = 0;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;

  const supervise = (child: ChildProcess): void => {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt >= RESET_AFTER_MS) attempt = 0;
      const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1_000;
      attempt++;
      log('error', `etcd (pid ${child.pid}) exited (${describeExit(code, signal)}); restarting it on ${dataDir} in ${delay} ms ` +
        '(the API answers 503 until it is back)');
      scheduleRestart(delay);
    });
  };
  const scheduleRestart = (delay: number): void => {
    restartTimer = setTimeout(() => {
      restarting = (async () => {
        if (stopping) return;
        try {
          const child = await launch();
          if (stopping) {
            await stopChild(child, 10_000);
            return;
          }
          current = child;
          startedAt = Date.now();
          log('info', `etcd restarted (pid ${child.pid}) at ${url} on ${dataDir}`);
          supervise(child);
        } catch (err) {
          const next = delays[Math.min(attempt, delays.length - 1)] ?? 1_000;
          attempt++;
          log('error', `etcd could not be restarted (${(err as Error).message.split('\n')[0]}); trying again in ${next} ms`);
          scheduleRestart(next);
        }
      })();
    }, delay);
  };
  supervise(current);

  return {
    url,
    get pid() {
      return current.pid!;
    },
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      await restarting;
      await stopChild(current, 10_000);
    },
  };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`;
  // The guard shell reports a signal as 128+N.
  if (code !== null && code > 128) {
    const name = Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name) return `killed by ${name}`;
  }
  return `exit status ${code}`;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
