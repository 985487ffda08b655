/**
 * Processes as the process unit manager sees them on Linux: process groups and their live
 * (non-zombie) members from /proc, signalling, PID files, and systemd's wording for exit statuses.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be executed at all. */
  spawnError?: string;
}

const EXIT_NAMES: Record<number, string> = {
  0: 'SUCCESS',
  1: 'FAILURE',
  2: 'INVALIDARGUMENT',
  3: 'NOTIMPLEMENTED',
  4: 'NOPERMISSION',
  5: 'NOTINSTALLED',
  6: 'NOTCONFIGURED',
  7: 'NOTRUNNING',
  200: 'CHDIR',
  203: 'EXEC',
  208: 'STDIN',
  226: 'NAMESPACE',
};

/** How a main process's exit reads in systemd's log: `code=exited, status=1/FAILURE`, `code=killed, status=9/KILL`. */
export function describeExit(info: ExitInfo): string {
  if (info.signal) return `code=killed, status=${signalNumber(info.signal)}/${info.signal.replace(/^SIG/, '')}`;
  const code = info.code ?? 0;
  return `code=exited, status=${code}${EXIT_NAMES[code] ? `/${EXIT_NAMES[code]}` : ''}`;
}

function signalNumber(sig: NodeJS.Signals): number {
  return os.constants.signals[sig] ?? 0;
}

/**
 * Whether any process (a zombie included) is in the group: one syscall, no /proc scan. Enough to
 * prune records of groups that are gone; groupAlive tells a live group from a zombie one.
 */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while the group has a live member. Zombies do not count: an orphaned child that died is
 * reparented to PID 1, which may take seconds to reap it (and in containers sometimes never does).
 * The exception is a leader that is this process's own child: node reaps it within a turn of the
 * event loop, and until then it counts (as in systemd, where a zombie is still in the cgroup).
 *
 * The group leader's /proc entry answers most calls. Otherwise one /proc scan serves every call
 * for PROC_SCAN_MS: a machine stopping a hundred units polls
 * each unit's groups every 25 ms, and a scan per call (a thousand /proc reads each, with a
 * thousand unit processes on the host) made that quadratic. A group the scan does not list is
 * looked up again in a fresh scan unless the scan is newer than the group, so a group started
 * since is never reported dead; one that died since may be reported alive for up to PROC_SCAN_MS,
 * which pollers absorb.
 */
export function groupAlive(pgid: number): boolean {
  if (!groupExists(pgid)) {
    existingSince.delete(pgid);
    return false;
  }
  if (!procAvailable()) return true;
  // Usually the group's leader (the unit's main process) is still in it and alive: no scan.
  const leader = statFields(pgid);
  if (leader && Number(leader[2]) === pgid) {
    if (leader[0] !== 'Z') return true;
    // A leader that died but that this process has not reaped yet: it is our child, and node
    // reaps it on the next turn of the event loop; the group counts as alive until then (no
    // scan: a hundred units stopping at once used to scan /proc on every poll, and keeping the
    // event loop that busy delayed the reaping, which meant more scans: 3 s for 300 units).
    if (Number(leader[1]) === process.pid) return true;
  }
  const now = performance.now();
  const since = existingSince.get(pgid) ?? now;
  existingSince.set(pgid, since);
  if (liveGroupIds(PROC_SCAN_MS).has(pgid)) return true;
  // Not in the last scan: trust that when the scan is newer than the first time we saw the group
  // exist (it has only zombies left: dying, or waiting to be reaped), else look again.
  if (lastScan && lastScan.at > since) return false;
  return liveGroupIds(0).has(pgid);
}

const PROC_SCAN_MS = 20;
let lastScan: { at: number; groups: Set<number> } | undefined;
/** When groupAlive first found each group existing (pruned once it is gone). */
const existingSince = new Map<number, number>();

/** Process groups with a live (non-zombie) member, from a /proc scan at most `maxAgeMs` old. */
function liveGroupIds(maxAgeMs: number): Set<number> {
  const now = performance.now();
  if (lastScan && maxAgeMs > 0 && now - lastScan.at <= maxAgeMs) return lastScan.groups;
  const groups = new Set<number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    // No /proc: nothing listed (groupAlive checks procAvailable first).
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(e);
    if (f && f[0] !== 'Z') groups.add(Number(f[2]));
  }
  lastScan = { at: now, groups };
  return groups;
}

let procChecked: boolean | undefined;
function procAvailable(): boolean {
  procChecked ??= fs.existsSync(`/proc/${process.pid}/stat`);
  return procChecked;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export function sendGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // The group is already gone.
  }
}

export function sendPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const text = fs.readFileSync(path, 'utf8').trim();
    const pid = Number(text);
    return /^\d+$/.test(text) && pid > 1 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** /proc/<pid>/stat: fields after the parenthesised command: state ppid pgrp session ... (starttime is index 19). */
export function statFields(pid: string | number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function processGroupOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[2]) : undefined;
}

/** Live (non-zombie) processes whose process group is `pgid` (Linux /proc). */
export function processesInGroup(pgid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(e);
    if (f && f[0] !== 'Z' && Number(f[2]) === pgid) out.push(Number(e));
  }
  return out;
}

/** A fresh invocation ID (systemd's $INVOCATION_ID): 32 hex characters. */
export function invocationId(): string {
  return randomUUID().replace(/-/g, '');
}
