/**
 * Finding and adopting a `fleetd local` this editor did not start (e.g. the one `npm start` runs):
 * the records fleetd writes (protocol/src/localCluster.ts), checked against the live process,
 * and a LocalClusterProcess handle over it so Stop, Show Logs and Restart work as for a cluster
 * the extension started. Plain Node: no `vscode` import.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localClusterDir, parseLocalClusterRecord, type LocalClusterRecord } from '../../../protocol/src/localCluster';
import type { LocalClusterProcess } from './launcher';

/** True when `pid` is alive and is a `fleetd … local` process. */
export function isFleetdLocal(pid: number): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some(a => /fleetd(\.js)?$/.test(a)) && argv.includes('local');
  } catch {
    return false;
  }
}

/** The running local clusters whose records are in `dir` (default: fleetd's per-user directory); stale records are removed. */
export function findLocalClusters(dir = localClusterDir(process.env, os.homedir())): LocalClusterRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter(n => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: LocalClusterRecord[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let record: LocalClusterRecord | undefined;
    try {
      record = parseLocalClusterRecord(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (record && isFleetdLocal(record.pid)) out.push(record);
    else if (!record || !pidAlive(record.pid)) fs.rmSync(file, { force: true });
  }
  return out.sort((a, b) => b.startedAt - a.startedAt);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const delay = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/**
 * A handle on an adopted cluster. Its exit is noticed by polling (it is not our child); stop()
 * sends SIGTERM to fleetd alone, so that it stops in order (machines release their units and
 * presence, then its registry and etcd), and escalates only when it does not finish in time.
 */
export function adoptLocalCluster(record: LocalClusterRecord, pollMs = 1000): LocalClusterProcess {
  let exitedFlag = false;
  let resolveExit!: (code: string) => void;
  const exited = new Promise<number | string>(resolve => (resolveExit = resolve));
  const timer = setInterval(() => {
    if (!isFleetdLocal(record.pid)) {
      exitedFlag = true;
      clearInterval(timer);
      resolveExit('exited');
    }
  }, pollMs);
  timer.unref();
  const stop = async (graceMs = 30_000): Promise<void> => {
    if (exitedFlag || !isFleetdLocal(record.pid)) return;
    try {
      process.kill(record.pid, 'SIGTERM');
    } catch {
      return;
    }
    const until = Date.now() + graceMs;
    while (isFleetdLocal(record.pid) && Date.now() < until) await delay(50);
    // Whatever is left of its process group (when it leads one) goes too.
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      if (!groupAlive(record.pid) && !isFleetdLocal(record.pid)) break;
      try {
        process.kill(-record.pid, sig);
      } catch {
        if (isFleetdLocal(record.pid)) process.kill(record.pid, 'SIGKILL');
      }
      const hard = Date.now() + 3000;
      while ((groupAlive(record.pid) || isFleetdLocal(record.pid)) && Date.now() < hard) await delay(50);
    }
    exitedFlag = true;
    clearInterval(timer);
    resolveExit('stopped');
  };
  return { url: record.url, pid: record.pid, machines: [], exited, hasExited: () => exitedFlag, stop };
}
