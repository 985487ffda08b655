/**
 * Starts and stops the bundled fleetd as a local test cluster: builds its command line, spawns
 * it detached in its own process group, waits for its one ready line, and on stop sends SIGTERM
 * to fleetd, then to what is left of its group, then SIGKILL after a grace period, until no member
 * is left. If the extension host exits first, fleetd gets SIGTERM and finishes the stop on its
 * own. Plain Node; no `vscode` import.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** fleetd's ready line: the API's URL, `unix:///…/fleet.sock` by default (a socket only this user can use). */
export const READY_LINE = /^fleetd: API ready at ((?:https?|unix):\/\/\S+)\s*$/;
export const MACHINE_LINE = /^fleetd: machine (\S+) (\S+)(?: (.*))?$/;

const REGIONS = ['us-east', 'us-west', 'eu-central', 'ap-south', 'sa-east'];

/** Distinct metadata per machine: region=us-east,disk=ssd / region=us-west / region=eu-central / … */
export function defaultMetadata(machines: number): string[] {
  return Array.from({ length: machines }, (_, i) => {
    const region = REGIONS[i % REGIONS.length]!;
    const round = Math.floor(i / REGIONS.length);
    return `region=${region}${round > 0 ? `-${round + 1}` : ''}${i === 0 ? ',disk=ssd' : ''}`;
  });
}

/** Checks one machine's metadata as typed (`k=v,k2=v2`); an error names the bad pair. */
export function validateMetadata(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  for (const pair of text.split(',')) {
    const m = /^\s*([A-Za-z0-9_.-]+)=([^=,]+?)\s*$/.exec(pair);
    if (!m) return `"${pair.trim()}" is not key=value (keys: letters, digits, "_", ".", "-"); separate pairs with commas, e.g. region=us-east,disk=ssd.`;
  }
  return undefined;
}

export type EtcdChoice = { kind: 'binary'; path: string } | { kind: 'url'; url: string } | { kind: 'embedded' };

/** The etcd binary to use: the setting if executable, else `etcd` on PATH, else none (fleetd's embedded registry). */
export function findEtcd(
  setting: string | undefined,
  envPath: string | undefined,
  isExecutable: (file: string) => boolean = defaultIsExecutable,
): { path?: string; warning?: string } {
  if (setting && setting.trim()) {
    const file = setting.trim();
    if (isExecutable(file)) return { path: file };
    return { warning: `fleet.localCluster.etcdPath is set to ${file}, which is not an executable file; using fleetd's embedded registry instead.` };
  }
  for (const dir of (envPath ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'etcd');
    if (isExecutable(candidate)) return { path: candidate };
  }
  return {};
}

function defaultIsExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export interface FleetdArgs {
  script: string;
  machines: number;
  metadata: readonly string[];
  etcd: EtcdChoice;
  stateDir: string;
  /**
   * A TCP address (`127.0.0.1:0`: fleetd picks the port), which every local user could use.
   * Without it fleetd serves the API on a unix socket in its state dir that only this user can use.
   */
  api?: string;
  /** On etcd: fleetd's v3 layout (default) or fleet v1.0's own v2 keyspace (`fleetctl --driver=etcd` works against it). */
  etcdApi?: 'v2' | 'v3';
}

export function fleetdArgs(opts: FleetdArgs): string[] {
  const args = [opts.script, 'local', '--machines', String(opts.machines)];
  // The i-th --metadata is the i-th machine's: keep empty entries in the middle (as ''), drop trailing ones.
  const metadata = opts.metadata.map(m => m.trim());
  while (metadata.length > 0 && metadata[metadata.length - 1] === '') metadata.pop();
  for (const m of metadata.slice(0, opts.machines)) args.push('--metadata', m);
  if (opts.etcd.kind === 'binary') args.push('--etcd-binary', opts.etcd.path);
  else if (opts.etcd.kind === 'url') args.push('--etcd', opts.etcd.url);
  else args.push('--embedded');
  if (opts.etcdApi === 'v2' && opts.etcd.kind !== 'embedded') args.push('--etcd-api', 'v2');
  if (opts.api) args.push('--api', opts.api);
  args.push('--state-dir', opts.stateDir);
  return args;
}

export interface LaunchOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Every output line is appended here too. */
  logFile?: string;
  readyTimeoutMs?: number;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface LocalMachineLine {
  id: string;
  ip: string;
  metadata: string;
}

export interface LocalClusterProcess {
  readonly url: string;
  readonly pid: number;
  readonly machines: LocalMachineLine[];
  /** Resolves when the group leader exits (code or signal name). */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM to fleetd (an orderly stop), to the rest of its group after graceMs, SIGKILL after that; waits until no member is left. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * fleetds started here and still alive when the extension host exits get SIGTERM: an orderly stop
 * that they finish on their own (each leads its own process group, and their stdin, which closes
 * with us, says the same). Not SIGKILL to the group: that killed the machine processes before they
 * could stop their units, and unit processes run in process groups of their own, so they were
 * left running with nobody to stop them.
 */
const liveGroups = new Set<number>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(pgid, 'SIGTERM');
      } catch {
        // the leader is gone; its stdin's end has already started the stop
      }
    }
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: no process left in the group
  }
}

export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

const delay = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

export function launchFleetd(options: LaunchOptions): Promise<LocalClusterProcess> {
  installExitHook();
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    // stdin stays open while we live: fleetd can treat its end (EOF) as "the editor is gone" and
    // shut down even when the extension host was killed without running deactivate.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const tail: string[] = [];
  const machines: LocalMachineLine[] = [];
  let exitedFlag = false;
  const exited = new Promise<number | string>(resolve => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', err => {
      exitedFlag = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  void exited.then(() => {
    // The leader is gone; members may linger (a private etcd) until stop() reaps the group.
    if (pid !== undefined && !groupAlive(pid)) liveGroups.delete(pid);
    log?.end();
  });

  let onReady: ((url: string) => void) | undefined;
  const lineReader = (stream: 'stdout' | 'stderr') => {
    let buffer = '';
    return (chunk: Buffer) => {
      log?.write(chunk);
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        tail.push(line);
        if (tail.length > 30) tail.shift();
        options.onLine?.(line, stream);
        const m = MACHINE_LINE.exec(line);
        if (m) machines.push({ id: m[1]!, ip: m[2]!, metadata: m[3] ?? '' });
        const ready = READY_LINE.exec(line);
        if (ready && stream === 'stdout') onReady?.(ready[1]!);
      }
    };
  };
  child.stdout?.on('data', lineReader('stdout'));
  child.stderr?.on('data', lineReader('stderr'));

  const stop = async (graceMs = 5000): Promise<void> => {
    if (pid === undefined) return;
    // fleetd alone first: it stops in order (machines release their units and presence, then the
    // registry, then its etcd). Signalling the whole group would stop etcd before the machines
    // unregistered, and the next start would find them "already registered" for a TTL.
    if (!exitedFlag) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    const until = Date.now() + graceMs;
    while (!exitedFlag && Date.now() < until) await delay(50);
    // What is left of the group (the leader died first, or did not finish in time).
    if (groupAlive(pid)) signalGroup(pid, 'SIGTERM');
    const rest = Date.now() + Math.min(2000, graceMs);
    while (groupAlive(pid) && Date.now() < rest) await delay(50);
    if (groupAlive(pid)) {
      signalGroup(pid, 'SIGKILL');
      const hard = Date.now() + 5000;
      while (groupAlive(pid) && Date.now() < hard) await delay(50);
    }
    await Promise.race([exited, delay(1000)]);
    liveGroups.delete(pid);
  };

  const describeTail = () => (tail.length ? `\nLast output:\n${tail.slice(-10).join('\n')}` : '') + (options.logFile ? `\nFull log: ${options.logFile}` : '');

  return new Promise<LocalClusterProcess>((resolve, reject) => {
    if (pid === undefined) {
      void exited.then(code => reject(new Error(`Could not start fleetd (${options.command}): ${code}`)));
      return;
    }
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void stop(2000).finally(() =>
        reject(new Error(`fleetd did not report "API ready" within ${Math.round(timeoutMs / 1000)}s; it was stopped.${describeTail()}`)),
      );
    }, timeoutMs);
    onReady = url => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ url, pid, machines, exited, hasExited: () => exitedFlag, stop });
    };
    void exited.then(code => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Reap anything the leader left behind in its group before reporting.
      void stop(1000).finally(() => reject(new Error(`fleetd exited (${code}) before it was ready.${describeTail()}`)));
    });
  });
}
