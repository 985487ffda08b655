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
  0: 'SUCCESS', 1: 'FAILURE', 2: 'INVALIDARGUMENT', 3: 'NOTIMPLEMENTED', 4: 'NOPERMISSION', 5: 'NOTINSTALLED',
  6: 'NOTCONFIGURED', 7: 'NOTRUNNING', 200: 'CHDIR', 203: 'EXEC', 208: 'STDIN', 226: 'NAMESPACE',
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
 * True while the group has a live member. Zombies do not count: an orphaned child that died is
 * reparented to PID 1, which may take seconds to reap it (and in containers sometimes never does).
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !procAvailable() || processesInGroup(pgid).length > 0;
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
