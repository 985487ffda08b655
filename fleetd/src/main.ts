/**
 * fleetd's composition root: parse flags and FLEET_* once into a frozen Config, start the roles
 * (registry, engine, agents, API), print one ready line, and stop everything on SIGINT/SIGTERM.
 *
 *   fleetd local …   a whole cluster: with the embedded registry everything runs in this process;
 *                    with etcd every machine is its own `fleetd agent` child process.
 *   fleetd agent …   one machine (agent + engine candidate) joined to an existing etcd.
 */
import { FLEET_VERSION } from '../../protocol/src/version';
import { errorMessage, errorStack, type Log, type LogLevel } from '../../protocol/src/log';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentArgs, ConfigError, parseConfig, type Config } from './config';
import { helpText } from './configFlags';
import { startEtcd, stopChild, type EtcdProcess } from './cli/etcdProcess';
import { closeInheritedDescriptors } from './cli/fds';
import { watchdogMain } from './cli/watchdog';
import { describeMachine, machineIdIn } from './cli/identity';
import { CLUSTER_MARKER, MACHINE_MARKER, reap } from './cli/reaper';
import { publishLocalCluster } from './cli/discovery';
import { LocalMachines } from './cli/localMachines';
import { machineNodeArgs } from './cli/machineNodeArgs';
import { Lifetime, onSignals, type Stoppable } from './cli/lifetime';
import { createHash, randomBytes } from 'node:crypto';
import { createApiServer } from './api';
import type { ApiListen, ApiTls } from './api/server';
import { machineEnvironment, startAgent } from './agent';
import { stopOrphanedUnits } from './agent/orphans';
import { startEngine } from './engine';
import { EtcdRegistry } from './registry/etcdRegistry';
import { MemoryRegistry } from './registry/memoryRegistry';
import { Etcd2Registry } from '../../registry/src/etcd2/etcd2Registry';
import { EtcdUnreachableError } from '../../registry/src/etcd2/client';
import type { Registry } from '../../registry/src/registry';

const VERSION = FLEET_VERSION;

function makeLog(config: Config, tag: string): Log {
  const min = config.verbosity >= 2 ? 0 : config.verbosity === 1 ? 1 : 2;
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  return (level, message) => {
    if (rank[level] >= min) process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${tag}: ${message}\n`);
  };
}

function stateDirOf(config: Config): string {
  if (config.stateDir) {
    // fleetd's alone, with everything in it (unit files hold Environment= secrets).
    fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(config.stateDir, 0o700);
    return path.resolve(config.stateDir);
  }
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-'));
}

async function openRegistry(config: Config, endpoints: string[] | undefined, log: Log): Promise<Registry> {
  if (!endpoints) return new MemoryRegistry();
  // The registry's own warnings (a lost lease re-granted, a failed watch) belong in fleetd's log.
  if (config.etcdApi === 'v2') {
    const registry = new Etcd2Registry({ endpoints, prefix: config.prefix, log });
    try {
      await registry.client.version();
      await registry.ping();
    } catch (err) {
      // A missing v2 API or a wrong endpoint will not fix itself: say so now. An etcd that is
      // down is retried (the API answers 503 meanwhile).
      if (err instanceof EtcdUnreachableError && err.reason !== 'network' && err.reason !== 'timeout') {
        await registry.close();
        throw new ConfigError(err.message);
      }
      log('warn', `etcd at ${endpoints.join(',')} is not reachable yet: ${errorMessage(err)}`);
    }
    return registry;
  }
  return EtcdRegistry.connect({ endpoints, prefix: config.prefix, log });
}

/** Longest path a unix socket address holds (sun_path less its NUL). */
const SOCKET_PATH_MAX = 107;

function readTls(files: { caFile: string; certFile: string; keyFile: string }): ApiTls {
  const read = (flag: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${flag}: cannot read ${file}: ${errorMessage(err)}`);
    }
  };
  return { ca: read('--api-ca-file', files.caFile), cert: read('--api-cert-file', files.certFile), key: read('--api-key-file', files.keyFile) };
}

/** The journal endpoint: TCP when asked (--journal), else a socket only this user can read. */
function journalListen(config: Config, machineStateDir: string, log: Log): { host: string; port: number } | { socketPath: string } {
  if (config.journal) return { host: config.journal.host, port: config.journal.port };
  const socketPath = path.resolve(machineStateDir, 'journal.sock');
  if (Buffer.byteLength(socketPath) <= SOCKET_PATH_MAX) return { socketPath };
  log(
    'warn',
    `the state dir ${machineStateDir} is too deep for a unix socket path: the journal is served on loopback TCP, where other local users can read it; give a shorter --state-dir`,
  );
  return { host: '127.0.0.1', port: 0 };
}

/**
 * `<stateDir>/fleet.sock`; when that path is too long for a socket, `fleet.sock` in a directory
 * of this user's alone under the temp dir (named after the state dir, checked to be ours and 0700).
 */
function defaultSocket(stateDir: string): string {
  const inState = path.join(stateDir, 'fleet.sock');
  if (Buffer.byteLength(inState) <= SOCKET_PATH_MAX) return inState;
  const uid = process.getuid?.() ?? 0;
  const dir = path.join(os.tmpdir(), `fleetd-${uid}-${createHash('sha1').update(stateDir).digest('hex').slice(0, 12)}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `${dir} (for the API socket, as ${inState} is too long for a socket path) is not a directory of this user's alone; remove it, or give --socket PATH`,
    );
  }
  return path.join(dir, 'fleet.sock');
}

async function serveApi(
  config: Config,
  registry: Registry,
  lifetime: Lifetime,
  log: Log,
  local?: { stateDir: string; machines: LocalMachines },
): Promise<string | undefined> {
  const stateDir = local?.stateDir;
  const listen: ApiListen[] = [];
  if (config.api) listen.push(config.apiTls ? { ...config.api, tls: readTls(config.apiTls) } : config.api);
  // The local cluster's default: a socket only its owner can use (0600, in the 0700 state dir).
  // Whoever reaches the API runs processes as fleetd's user (as root, any user).
  const socket = config.socket ?? (config.command === 'local' && !config.api && stateDir ? defaultSocket(stateDir) : undefined);
  if (socket) {
    if (Buffer.byteLength(socket) > SOCKET_PATH_MAX) {
      throw new ConfigError(
        `the API socket path ${socket} is longer than a unix socket path may be (${SOCKET_PATH_MAX} bytes); give a shorter --state-dir, or --socket PATH`,
      );
    }
    fs.rmSync(socket, { force: true });
    listen.push({ socketPath: socket });
  }
  if (listen.length === 0) return undefined;
  // Every 5xx, and the cause of every 503, goes to fleetd's log with its request line.
  const api = await createApiServer({
    registry,
    listen,
    log: tagged(log, 'api'),
    ...(local ? { removeMachine: (id: string) => local.machines.remove(id) } : {}),
  });
  lifetime.add('API', { stop: () => api.close() });
  for (const url of api.urls.filter(u => u.startsWith('https:'))) {
    log('info', `the API on ${url} requires a client certificate signed by ${config.apiTls?.caFile}`);
  }
  for (const url of api.urls.filter(u => u.startsWith('http:'))) {
    const who = process.getuid?.() === 0 ? 'as root, with any User=' : `as ${os.userInfo().username} (uid ${process.getuid?.()})`;
    log(
      'warn',
      `the API on TCP ${url.replace(/^http:\/\//, '')} is open to every local user: anyone who connects can run processes ${who}; ` +
        'leave out --api to serve it on a unix socket only you can use',
    );
  }
  return api.urls.find(u => u.startsWith('http')) ?? api.urls[0];
}

async function waitForMachines(registry: Registry, count: number, timeoutMs: number, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const machines = await registry.listMachines().catch(() => []);
    if (machines.length >= count) return;
    const dead = children.find(c => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`a machine process (pid ${dead.pid}) exited during start (exit ${dead.exitCode ?? dead.signalCode}); see the log above`);
    if (Date.now() > deadline) throw new Error(`only ${machines.length} of ${count} machines registered within ${timeoutMs / 1000} s`);
    await new Promise(r => setTimeout(r, 100));
  }
}

async function runLocal(config: Config, log: Log, lifetime: Lifetime): Promise<void> {
  const stateDir = stateDirOf(config);
  // Every unit process carries this marker: whatever happens to an agent, nothing outlives the cluster.
  const clusterId = process.env[CLUSTER_MARKER] || randomBytes(8).toString('hex');
  // Units a machine process left running when it died are stopped systemd's way (ExecStop=, stop
  // signal, SIGKILL after TimeoutStopSec=, ExecStopPost=), once per machine; the marker sweep
  // after it SIGKILLs whatever is left.
  const orphanStops = new Map<string, Promise<void>>();
  let stopUnitsOf: (m: { id: string; publicIp: string; stateDir: string }) => Promise<void> = async () => undefined;
  let everyMachine: { id: string; publicIp: string; stateDir: string }[] = [];
  lifetime.add('orphan sweep', {
    stop: async () => {
      await Promise.all(everyMachine.map(m => stopUnitsOf(m)));
      const n = reap({ [CLUSTER_MARKER]: clusterId });
      if (n > 0) log('warn', `stopped ${n} unit process(es) left behind by machines that did not stop cleanly`);
    },
  });
  let endpoints: string[] | undefined;
  /** The etcd URL fleet's tools and the units' etcdctl use (TCP), when it differs from fleetd's own. */
  let toolsEtcd: string | undefined;
  if (config.registry.kind === 'etcd-binary') {
    // On fleet's v2 keyspace the point is that fleet's tools share it: serve them TCP as well.
    // Otherwise units reach it (etcdctl v2 needs TCP) through a gate open to fleetd's user only.
    const v2 = config.etcdApi === 'v2';
    const etcd: EtcdProcess = await startEtcd(config.registry.path, stateDir, tagged(log, 'etcd supervisor'), {}, { tcpClient: v2, gate: !v2 });
    toolsEtcd = etcd.tcpUrl;
    lifetime.add('etcd', etcd);
    endpoints = [etcd.url];
    log('info', `private etcd at ${etcd.url} (pid ${etcd.pid})`);
  } else if (config.registry.kind === 'etcd') {
    endpoints = config.registry.endpoints;
  }
  const registry = await openRegistry(config, endpoints, log);
  lifetime.add('registry', { stop: () => registry.close() });

  const machines = Array.from({ length: config.machines }, (_, i) => {
    const dir = path.join(stateDir, `machine-${i + 1}`);
    return { index: i, id: machineIdIn(dir), publicIp: config.publicIp ?? `127.0.0.${i + 2}`, stateDir: dir, metadata: config.metadata[i] ?? {} };
  });

  everyMachine = machines;
  stopUnitsOf = m => {
    let stopping = orphanStops.get(m.id);
    if (!stopping) {
      stopping = stopOrphanedUnits({
        stateDir: m.stateDir,
        machineId: m.id,
        env: { [CLUSTER_MARKER]: clusterId, [MACHINE_MARKER]: m.id, ...machineEnvironment(m.publicIp, toolsEtcd ? [toolsEtcd] : endpoints) },
        log: tagged(log, `machine ${m.id.slice(0, 8)}`),
      }).then(
        n => void (n > 0 && log('info', `stopped ${n} unit(s) left running by machine ${m.id}`)),
        err => log('warn', `stopping the units of machine ${m.id}: ${errorMessage(err)}`),
      );
      orphanStops.set(m.id, stopping);
    }
    return stopping;
  };
  const children: ChildProcess[] = [];
  const localMachines = new LocalMachines();
  if (!endpoints) {
    const engine = await startEngine({ registry, machineId: machines[0]!.id, intervalMs: config.engineIntervalMs, log });
    const agents: Stoppable[] = [];
    // Stopped in reverse: the engine first (so it does not move units between machines that are
    // all going away), then every agent at once.
    lifetime.add('agents', { stop: async () => void (await Promise.all(agents.map(a => a.stop()))) });
    lifetime.add('engine', engine);
    for (const m of machines) {
      const agent = await startAgent({
        registry,
        machine: { id: m.id, publicIP: m.publicIp, metadata: m.metadata },
        stateDir: m.stateDir,
        ttlMs: config.agentTtlMs,
        intervalMs: config.agentIntervalMs,
        journal: journalListen(config, m.stateDir, log),
        // The embedded registry is no etcd: units get the machine's address, no ETCDCTL_*.
        unitEnv: { [CLUSTER_MARKER]: clusterId, [MACHINE_MARKER]: m.id },
        log: tagged(log, `agent ${m.id.slice(0, 8)}`),
      });
      agents.push(agent);
      localMachines.add({ id: m.id, stop: () => agent.stop() });
    }
  } else {
    // Every machine is its own process, as on a real cluster: kill -9 one and its units move.
    const script = process.argv[1]!;
    for (const m of machines) {
      const args = [...machineNodeArgs(process.execArgv, process.env.NODE_OPTIONS), script, ...agentArgs(config, m.index, m, endpoints, toolsEtcd)];
      const child = spawn(process.execPath, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, FLEETD_PARENT_PIPE: '1', [CLUSTER_MARKER]: clusterId },
      });
      children.push(child);
      localMachines.add({ id: m.id, stop: () => stopChild(child, 45_000) });
      child.once('exit', (code, signal) => {
        if (lifetime.isStopping) return;
        localMachines.gone(m.id);
        if (localMachines.wasRemoved(m.id)) log('info', `machine ${m.index + 1} (${m.id}) was removed; its units move to other machines`);
        else log('warn', `machine ${m.index + 1} (${m.id}) exited (${signal ?? code}); its units will move to other machines`);
        void stopUnitsOf(m).then(() => {
          const n = reap({ [CLUSTER_MARKER]: clusterId, [MACHINE_MARKER]: m.id });
          if (n > 0) log('info', `killed ${n} process(es) of the dead machine ${m.id} left after its units stopped`);
        });
      });
      forwardLines(child, `machine ${m.index + 1}`);
    }
    lifetime.add('machines', { stop: async () => void (await Promise.all(children.map(c => stopChild(c, 45_000)))) });
  }
  await waitForMachines(registry, config.machines, 60_000, children);
  const url = await serveApi(config, registry, lifetime, log, { stateDir, machines: localMachines });
  for (const m of await registry.listMachines()) process.stdout.write(`${describeMachine(m)}\n`);
  if (config.socket) process.stdout.write(`fleetd: API socket at unix://${config.socket}\n`);
  const etcdForTools = toolsEtcd ?? endpoints?.[0];
  if (endpoints)
    process.stdout.write(
      `fleetd: etcd at ${etcdForTools} (${config.etcdApi === 'v2' ? `fleet's v2 keyspace under ${config.prefix}: fleetctl --driver=etcd --endpoint ${etcdForTools}` : `v3 API, keys under ${config.prefix}`})\n`,
    );
  process.stdout.write(`fleetd: API ready at ${url}\n`);
  log('info', `state dir ${stateDir}`);
  if (url) {
    const unpublish = publishLocalCluster({ url, ...(etcdForTools ? { etcd: etcdForTools } : {}), machines: config.machines, stateDir }, log);
    // Stopped first (the parts stop in reverse): an editor no longer adopts a cluster that is going away.
    lifetime.add('local cluster record', { stop: async () => unpublish() });
  }
}

function forwardLines(child: ChildProcess, tag: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) process.stderr.write(`[${tag}] ${line}\n`);
    });
  }
}

function tagged(log: Log, tag: string): Log {
  return (level, message) => log(level, `${tag}: ${message}`);
}

async function runAgent(config: Config, log: Log, lifetime: Lifetime): Promise<void> {
  if (config.registry.kind !== 'etcd') throw new ConfigError('`fleetd agent` needs --etcd URL');
  const stateDir = stateDirOf(config);
  const id = config.machineId ?? machineIdIn(stateDir);
  const registry = await openRegistry(config, config.registry.endpoints, log);
  lifetime.add('registry', { stop: () => registry.close() });
  if (!config.disableEngine) {
    const engine = await startEngine({ registry, machineId: id, intervalMs: config.engineIntervalMs, log });
    lifetime.add('engine', engine);
  }
  // A standalone agent's units must not outlive it (under `fleetd local` the supervisor reaps them).
  const standalone = process.env.FLEETD_PARENT_PIPE !== '1';
  if (standalone) lifetime.add('watchdog', startWatchdog(stateDir, config.agentTtlMs, log));
  const agent = await startAgent({
    ...(standalone ? { stopRecipes: true } : {}),
    registry,
    machine: { id, publicIP: config.publicIp ?? '127.0.0.1', metadata: config.metadata[0] ?? {} },
    stateDir,
    ttlMs: config.agentTtlMs,
    intervalMs: config.agentIntervalMs,
    journal: journalListen(config, stateDir, log),
    ...(process.env[CLUSTER_MARKER] ? { unitEnv: { [CLUSTER_MARKER]: process.env[CLUSTER_MARKER], [MACHINE_MARKER]: id } } : {}),
    etcdEndpoints: config.unitEtcd ? [config.unitEtcd] : config.registry.endpoints,
    log: tagged(log, `agent ${id.slice(0, 8)}`),
  });
  lifetime.add('agent', agent);
  const url = await serveApi(config, registry, lifetime, log);
  process.stdout.write(`${describeMachine({ id, publicIP: config.publicIp ?? '127.0.0.1', metadata: config.metadata[0] ?? {} })}\n`);
  if (url) process.stdout.write(`fleetd: API ready at ${url}\n`);
}

/**
 * The watchdog (its own process group, so a kill of the agent's group spares it) holds a pipe to
 * this process: when the pipe closes it stops the units left running, within half the TTL.
 */
function startWatchdog(stateDir: string, ttlMs: number, log: Log): Stoppable {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1]!, '__watchdog', path.resolve(stateDir), String(Math.max(1_000, Math.floor(ttlMs / 2)))],
    {
      stdio: ['pipe', 'ignore', 'inherit'],
      detached: true,
    },
  );
  child.on('error', err => log('warn', `the unit watchdog could not start (${err.message}); if fleetd is killed, its units keep running`));
  return {
    // After a clean stop the agent has stopped every unit: closing the pipe lets the watchdog see that and exit.
    stop: async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function main(): Promise<number> {
  // Internal: the per-machine watchdog a standalone agent starts (cli/watchdog.ts).
  if (process.argv[2] === '__watchdog') return watchdogMain(process.argv.slice(3));
  let config: Readonly<Config>;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fleetd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.command === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (config.command === 'version') {
    process.stdout.write(`fleetd ${VERSION}\n`);
    return 0;
  }
  const log = makeLog(config, 'fleetd');
  // Before anything is spawned: what fleetd inherited must not reach machine or unit processes.
  const closed = closeInheritedDescriptors();
  if (closed.length > 0) log('debug', `closed inherited file descriptor(s) ${closed.join(', ')} (units get only 0-2)`);
  const lifetime = new Lifetime();
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>(resolve => (finish = resolve));
  const shutdown = (why: string, code: number) => {
    log('info', `${why}: stopping`);
    void lifetime.stop(log).then(() => finish(code));
  };
  onSignals(signal => shutdown(signal, 0));
  // A parent that died leaves our stdout/stderr pipes without a reader: keep going (and shut
  // down cleanly below) instead of dying on EPIPE with unit processes still running.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  if (process.env.FLEETD_PARENT_PIPE === '1') {
    // Started by `fleetd local`: when the parent dies (even by SIGKILL) our stdin closes.
    process.stdin.on('end', () => shutdown('parent exited', 0));
    process.stdin.on('error', () => shutdown('parent exited', 0));
    process.stdin.resume();
  }
  try {
    if (config.command === 'local') await runLocal(config, log, lifetime);
    else await runAgent(config, log, lifetime);
  } catch (err) {
    process.stderr.write(`fleetd: ${errorMessage(err)}\n`);
    await lifetime.stop(log);
    return err instanceof ConfigError ? 2 : 1;
  }
  return finished;
}

main().then(
  code => process.exit(code),
  err => {
    process.stderr.write(`fleetd: unexpected error: ${errorStack(err)}\n`);
    process.exit(1);
  },
);
