/**
 * A private etcd owned by `fleetd local --etcd-binary PATH`: one member on 127.0.0.1 with free
 * ports and its data under the state dir, so a restarted local cluster keeps its registry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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

export async function startEtcd(binary: string, dataRoot: string, log: (line: string) => void): Promise<EtcdProcess> {
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
    fs.writeFileSync(portsFile, JSON.stringify(ports));
  }
  const url = `http://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  const args = [
    '--name', 'fleetd-local', '--data-dir', dataDir,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `fleetd-local=${peer}`, '--initial-cluster-state', 'new', '--enable-v2=true',
    '--heartbeat-interval', '50', '--election-timeout', '500',
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
  ];
  // etcd runs under a small shell that holds our stdin: if fleetd dies, even by SIGKILL, the
  // pipe closes and the shell stops etcd, so no etcd outlives the cluster that started it.
  const guard = 'exec 3<&0; "$0" "$@" </dev/null & p=$!; trap \'kill $p 2>/dev/null\' TERM INT; read -r _ <&3; kill $p 2>/dev/null; wait $p';
  const child: ChildProcess = spawn('/bin/sh', ['-c', guard, binary, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    for (const line of chunk.toString().split('\n')) if (line.trim()) log(`etcd: ${line}`);
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 20_000;
  while (!(await healthy(url))) {
    if (exited) throw new Error(`etcd (${binary}) exited at start:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`etcd (${binary}) did not become healthy on ${url} within 20 s:\n${stderr}`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid!,
    stop: () => stopChild(child, 10_000),
  };
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
