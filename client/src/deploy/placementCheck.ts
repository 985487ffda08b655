/**
 * Start's own placement check, before anything is written: the scheduler's planCluster (the
 * engine's decision, the same function the cluster map's "what if" runs) over the explorer's
 * snapshot with the units to start added as launched. A unit it leaves unplaced gets the
 * engine's reason, so Start can ask first instead of submitting a unit that would only wait.
 * Pure; no `vscode` import.
 */
import { planCluster, type DesiredState } from '../../../scheduler/src';
import { requirements } from '../../../unitfile/src';
import { schedulerSnapshot } from '../cluster/clusterMap';
import type { ClusterSnapshot } from '../cluster/snapshot';
import type { LocalUnit } from './deploy';

export interface Unplaceable {
  name: string;
  /** The engine's words, e.g. `no machine has metadata region=mars`. */
  reason: string;
}

/**
 * The units of `starting` that no machine of the cluster would take now, with the reason.
 * A unit without a local file is judged by its registry copy; global units count when they
 * would run nowhere.
 */
export function unplaceableOnStart(snapshot: ClusterSnapshot, starting: readonly { name: string; local?: LocalUnit }[]): Unplaceable[] {
  const input = schedulerSnapshot(snapshot);
  const names = new Set(starting.map(s => s.name));
  const units = input.units.map(u => (names.has(u.name) ? { ...u, desiredState: 'launched' as DesiredState } : u));
  for (const s of starting) {
    const at = units.findIndex(u => u.name === s.name);
    if (s.local) {
      const req = requirements(s.local.options, s.name);
      const scheduled = at >= 0 ? units[at]!.machineId : undefined;
      const unit = { name: s.name, desiredState: 'launched' as DesiredState, requirements: req, machineId: req.global ? undefined : scheduled };
      if (at >= 0) units[at] = unit;
      else units.push(unit);
    }
  }
  const plan = planCluster({ machines: input.machines, units });
  const out: Unplaceable[] = [];
  for (const s of starting) {
    const reason = plan.reasons.get(s.name);
    if (reason !== undefined) out.push({ name: s.name, reason });
  }
  return out;
}
