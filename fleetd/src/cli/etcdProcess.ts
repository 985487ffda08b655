/**
 * A private etcd owned by `fleetd local --etcd-binary PATH`: one member on 127.0.0.1 with free
 * ports and its data under the state dir, so a restarted local cluster keeps its registry;
 * supervised: when it dies it is logged and restarted on the same data, with backoff.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { errorMessage, type Log } from '../../../protocol/src/log';
import { openEtcdGate, type EtcdGate } from './etcdGate';

export interface EtcdProcess {
  /** Where fleetd reaches it: its unix socket (or loopback TCP when the state dir is too deep). */
  readonly url: string;
  /**
   * A loopback TCP URL as well, when asked for, for clients that cannot use the socket (fleetctl
   * --driver=etcd, etcdctl's v2 client): etcd's own TCP listener (`tcpClient`, open to every local
   * user), or the gate that forwards only fleetd's user's connections to the socket (`gate`).
   */
  readonly tcpUrl?: string;
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
  if (url.startsWith('unix://')) {
    return new Promise(resolve => {
      const req = http.get({ socketPath: url.slice('unix://'.length), path: '/health', timeout: 1_000 }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', c => (body += c));
        res.on('end', () => {
          try {
            resolve((JSON.parse(body) as { health?: string }).health === 'true');
          } catch {
            resolve(false);
          }
        });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Longest path a unix socket address holds. */
const SOCKET_PATH_MAX = 107;

/** A socket file nobody answers on is removed; one that answers means another etcd runs there. */
async function clearStaleSocket(file: string): Promise<void> {
  if (!fs.existsSync(file)) return;
  const alive = await new Promise<boolean>(resolve => {
    const probe = net.connect({ path: file });
    probe.setTimeout(1_000, () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another etcd listens on ${file}: is another fleetd running with this state dir? Stop it, or give --state-dir another directory`);
  fs.rmSync(file, { force: true });
}

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
export async function startEtcd(
  binary: string,
  dataRoot: string,
  log: Log,
  supervision: EtcdSupervision = {},
  options: { tcpClient?: boolean; gate?: boolean } = {},
): Promise<EtcdProcess> {
  if (!fs.existsSync(binary)) throw new Error(`--etcd-binary: ${binary} does not exist (install Debian's etcd-server, or use --embedded)`);
  const dataDir = path.join(dataRoot, 'etcd');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  // Unix sockets in the state dir (0700), so no other local user reaches etcd: etcd takes them as
  // `unix://NAME:0`, relative to its working directory (the state dir). A state dir too deep for a
  // socket path falls back to loopback TCP, with a warning.
  const portsFile = path.join(dataRoot, 'etcd-ports.json');
  const clientSocket = path.join(dataRoot, 'etcd.sock:0');
  const peerSocket = path.join(dataRoot, 'etcd-peer.sock:0');
  let url: string;
  let peer: string;
  if (Buffer.byteLength(peerSocket) <= SOCKET_PATH_MAX) {
    if (fs.existsSync(portsFile)) {
      // A member of an older fleetd, on TCP: its peer URL is in its data, so start a fresh one.
      log(
        'warn',
        `the private etcd in ${dataDir} listened on TCP (an older fleetd); starting a fresh one on unix sockets (the units submitted before are gone)`,
      );
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      fs.rmSync(portsFile, { force: true });
    }
    url = `unix://${clientSocket}`;
    peer = 'unix://etcd-peer.sock:0';
  } else {
    log(
      'warn',
      `the state dir ${dataRoot} is too deep for a unix socket path: the private etcd listens on loopback TCP, where other local users can reach it; give a shorter --state-dir`,
    );
    // A member's peer URL is stored in its data: reuse the ports of the last run when they are
    // free, so a restarted local cluster keeps its registry; otherwise start a fresh member.
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
    url = `http://127.0.0.1:${ports.client}`;
    peer = `http://127.0.0.1:${ports.peer}`;
  }
  let listenClient = url.startsWith('unix://') ? 'unix://etcd.sock:0' : url;
  // fleet's own tools reach etcd over TCP only (fleetctl --driver=etcd, etcdctl in a unit): serve
  // loopback TCP too when asked, which every local user can reach — said in the log.
  let tcpUrl: string | undefined;
  if (options.tcpClient) {
    if (url.startsWith('unix://')) {
      tcpUrl = `http://127.0.0.1:${await freePort()}`;
      listenClient = `${listenClient},${tcpUrl}`;
    } else {
      tcpUrl = url;
    }
    log('warn', `the private etcd also listens on ${tcpUrl} for fleet's tools (fleetctl --driver=etcd); any local user can reach it there`);
  }
  // Units' etcdctl (v2's client needs TCP) through the gate: loopback TCP for fleetd's user only.
  let gate: EtcdGate | undefined;
  if (options.gate && !tcpUrl && url.startsWith('unix://')) {
    gate = await openEtcdGate({ socketPath: clientSocket, log });
    tcpUrl = gate.url;
    log('info', `the private etcd is reachable for fleetd's user's processes (units' etcdctl) at ${tcpUrl}; other users' connections are refused`);
  }
  const args = [
    '--name',
    'fleetd-local',
    '--data-dir',
    dataDir,
    // Advertised: what clients that sync the member list (etcdctl's v2 client does, before every
    // command) switch to; with fleet's tools served, only the TCP URL they can use.
    '--listen-client-urls',
    listenClient,
    '--advertise-client-urls',
    tcpUrl ?? listenClient,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `fleetd-local=${peer}`,
    '--initial-cluster-state',
    'new',
    '--enable-v2=true',
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--log-level',
    'warn',
  ];

  /** Spawn etcd under its guard and wait until it is healthy. */
  const launch = async (): Promise<ChildProcess> => {
    if (url.startsWith('unix://')) for (const s of [clientSocket, peerSocket]) await clearStaleSocket(s);
    const child: ChildProcess = spawn('/bin/sh', ['-c', GUARD, binary, ...args], { stdio: ['pipe', 'ignore', 'pipe'], cwd: dataRoot });
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
  let current: ChildProcess;
  try {
    current = await launch();
  } catch (err) {
    await gate?.close();
    throw err;
  }
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
      log(
        'error',
        `etcd (pid ${child.pid}) exited (${describeExit(code, signal)}); restarting it on ${dataDir} in ${delay} ms ` +
          '(the API answers 503 until it is back)',
      );
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
          log('error', `etcd could not be restarted (${errorMessage(err).split('\n')[0]}); trying again in ${next} ms`);
          scheduleRestart(next);
        }
      })();
    }, delay);
  };
  supervise(current);

  return {
    url,
    ...(tcpUrl ? { tcpUrl } : {}),
    get pid() {
      return current.pid!;
    },
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      await restarting;
      await gate?.close();
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
