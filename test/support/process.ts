/**
 * Child processes for tests: start a server detached (its own process group, output to a log
 * file, never the runner's stdio), wait for a condition with a bounded loop, and stop the whole
 * group, polling until every member is gone. Only processes started here are ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { groupExists } from '../../fleetd/src/agent/processes';

export { waitFor, waitForEqual, type WaitOptions } from './wait';

export interface Spawned {
  /** The process group leader's PID, which is also the group ID (the process was spawned detached). */
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal name) once the leader has exited. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
}

export interface SpawnOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Groups still running when this process exits are killed with SIGKILL (a safety net for forgotten stop() calls). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killLiveGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
}

/**
 * On exit, and on the signals that end a test process without an 'exit' event (the test runner's
 * SIGTERM on a timeout, Ctrl-C), kill the groups this process started. After a signal the
 * handler steps aside and re-raises it, so the process still ends the way it would have.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killLiveGroups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killLiveGroups();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Starts `command` in a new session and process group with stdout and stderr appended to
 * `logFile`. The handle is unref'd, so a forgotten server never keeps the test process alive;
 * the exit hook above kills it instead.
 */
export function spawnDetached(command: string, args: readonly string[], options: SpawnOptions): Spawned {
  installExitHook();
  const fd = fs.openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  let done = false;
  const exited = new Promise<number | string>(resolve => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', err => {
      done = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${command}; see ${options.logFile}`);
  }
  liveGroups.add(pid);
  return { pid, child, logFile: options.logFile, exited, hasExited: () => done };
}

/** True while any process of the group exists (zombies included): fleetd's own check. */
export const groupAlive = groupExists;

/**
 * A short, bounded pause for polling loops. It is deliberately ref'd: an unref'd poll timer lets
 * the event loop drain mid-wait. (Long timeouts raced against a result are the ones to unref.)
 */
export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * Sends `signal` to the whole group, polls until no member is left, and escalates to SIGKILL
 * after `timeoutMs`. Resolves once the group is gone (or, after SIGKILL, after another bounded wait).
 */
export async function stopProcessGroup(pgid: number, options: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<void> {
  const signal = options.signal ?? 'SIGTERM';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone already
    }
  };
  if (groupAlive(pgid)) {
    send(signal);
    const deadline = Date.now() + timeoutMs;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pgid)) {
      send('SIGKILL');
      const hardDeadline = Date.now() + 5_000;
      while (groupAlive(pgid) && Date.now() < hardDeadline) await sleep(50);
    }
  }
  if (!groupAlive(pgid)) liveGroups.delete(pgid);
}

/**
 * Stops a child that stops its own group in order (fleetd): SIGTERM to the leader alone, then
 * SIGKILL to the group if the leader has not exited after `graceMs`. Resolves on the leader's exit.
 */
export async function stopLeader(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise(r => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops a spawned server's group and waits for the leader's exit event too. */
export async function stopSpawned(s: Spawned, options: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<void> {
  await stopProcessGroup(s.pid, options);
  if (!s.hasExited()) await Promise.race([s.exited, sleep(2_000)]);
}

/** The last `lines` lines of a log file, for error messages. */
export function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

export interface ProcInfo {
  pid: number;
  pgid: number;
  /** The arguments, as /proc/<pid>/cmdline lists them. */
  argv: string[];
  /** The arguments joined with spaces. */
  cmdline: string;
}

/** Live processes (zombies and this one excluded) whose arguments satisfy `match`; Linux only. */
export function processesWhere(match: (argv: string[]) => boolean): ProcInfo[] {
  const out: ProcInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[argv.length - 1] === '') argv.pop();
      if (!match(argv)) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      out.push({ pid: Number(entry), pgid: Number(fields[2]), argv, cmdline: argv.join(' ').trim() });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/**
 * PIDs of processes whose environment holds `name=value` (read from /proc; Linux only). A tag in
 * the environment follows a server's children even when they start their own session, as the
 * extension host's fleetd does, so a test can find everything it caused. This process is excluded.
 */
export function processesWithEnv(name: string, value: string): number[] {
  const want = `${name}=${value}`;
  const found: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(want)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Stops every process tagged `name=value` (SIGTERM, then SIGKILL after `timeoutMs`); returns how many there were. */
export async function stopTagged(name: string, value: string, timeoutMs = 5_000): Promise<number> {
  const pids = processesWithEnv(name, value);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of processesWithEnv(name, value)) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  };
  if (pids.length === 0) return 0;
  signal('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processesWithEnv(name, value).length && Date.now() < deadline) await sleep(50);
  if (processesWithEnv(name, value).length) signal('SIGKILL');
  return pids.length;
}
