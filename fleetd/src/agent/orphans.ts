/**
 * Stopping the units a dead agent left running, the way systemd stops them. When a machine process
 * of `fleetd local` dies (kill -9) its unit processes keep running in their own process groups;
 * its state directory still holds what it ran: the unit files (`units/<name>`) and one record per
 * process group (`groups/<pgid>`: the leader's start time and the unit). For every unit with a
 * live group this adopts the groups into a Service with the unit's settings and stops it:
 * ExecStop= (bounded by TimeoutStopSec=), the stop signal to every group, SIGKILL after
 * TimeoutStopSec=, then ExecStopPost=. So `ExecStart=docker run …` + `ExecStop=docker stop …`
 * leaves no container behind. Units stop in parallel; the output goes to `log`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Log } from '../../../protocol/src/log';
import { parseUnitFile } from '../../../unitfile/src/parse';
import { toOptions } from '../../../unitfile/src/serialize';
import { Journal } from './journal';
import { groupAlive, statFields } from './processes';
import { unitBaseEnv } from './processUnitManager';
import { Service } from './service';
import { parseServiceConfig } from './serviceConfig';

export interface OrphanStopOptions {
  /** The dead agent's state directory. */
  stateDir: string;
  machineId: string;
  /** The environment the agent gave its units (markers, COREOS_*, ETCDCTL_*). */
  env: Record<string, string>;
  log: Log;
}

/** Live process groups per unit, from the dead agent's records (a reused PID never matches: the start time differs). */
export function orphanedGroups(stateDir: string): Map<string, number[]> {
  const byUnit = new Map<string, number[]>();
  const dir = path.join(stateDir, 'groups');
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir);
  } catch {
    return byUnit;
  }
  for (const file of files) {
    if (!/^\d+$/.test(file)) continue;
    const pgid = Number(file);
    let record = '';
    try {
      record = fs.readFileSync(path.join(dir, file), 'utf8');
    } catch {
      continue;
    }
    const [startTime, unit] = record.split(' ');
    if (!unit || pgid <= 1 || !groupAlive(pgid)) continue;
    const leader = statFields(pgid);
    if (leader && leader[19] !== startTime) continue;
    byUnit.set(unit, [...(byUnit.get(unit) ?? []), pgid]);
  }
  return byUnit;
}

/** Stops every unit of the dead agent that still has processes; resolves with how many units were stopped. */
export async function stopOrphanedUnits(o: OrphanStopOptions): Promise<number> {
  const groups = orphanedGroups(o.stateDir);
  if (groups.size === 0) return 0;
  const journal = new Journal({ machineId: o.machineId });
  const baseEnv = unitBaseEnv(o.env);
  await Promise.all(
    [...groups].map(async ([unit, pgids]) => {
      let text: string;
      try {
        text = fs.readFileSync(path.join(o.stateDir, 'units', unit), 'utf8');
      } catch {
        text = ''; // no file (deleted meanwhile): stopped with the defaults — the stop signal, then SIGKILL after 90 s
      }
      const config = parseServiceConfig(unit, text ? toOptions(parseUnitFile(text)) : [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }], {
        unitName: unit,
        machineId: o.machineId,
        hostname: os.hostname(),
        bootId: '',
        runtimeDir: path.join(o.stateDir, 'run'),
      });
      const svc = new Service(unit, config, '', {
        journal,
        baseEnv,
        now: Date.now,
        onChange: () => undefined,
        onSpawn: () => undefined,
      });
      svc.adopt(pgids);
      await svc.stop();
      for (const line of journal.read(unit, 200)) o.log('info', `${unit}: ${line.text}`);
      const left = svc.liveGroups();
      if (left.length > 0) o.log('warn', `${unit}: process groups ${left.join(', ')} still alive after the stop`);
    }),
  );
  return groups.size;
}
