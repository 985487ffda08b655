/**
 * The safety net against orphans: unit processes run in their own process groups (to be stopped
 * by group, as systemd does), so when an agent dies by SIGKILL nothing stops them. Every unit
 * started under `fleetd local` carries FLEETD_CLUSTER_ID (and FLEETD_MACHINE_ID) in its
 * environment; the supervisor reaps by those markers when a machine process dies and when the
 * cluster stops. Linux only (/proc); elsewhere it does nothing.
 */
import fs from 'node:fs';

export const CLUSTER_MARKER = 'FLEETD_CLUSTER_ID';
export const MACHINE_MARKER = 'FLEETD_MACHINE_ID';

/** PIDs of processes whose environment holds all of `markers` (never this process). */
export function findMarked(markers: Record<string, string>): number[] {
  if (!fs.existsSync('/proc')) return [];
  const wanted = Object.entries(markers).map(([k, v]) => `${k}=${v}`);
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (wanted.every(w => env.includes(w))) out.push(Number(entry));
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}

/** SIGKILLs every marked process and its group; returns how many processes were found. */
export function reap(markers: Record<string, string>): number {
  const pids = findMarked(markers);
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
    }
  }
  return pids.length;
}
