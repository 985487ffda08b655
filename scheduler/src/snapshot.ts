/**
 * The engine's input: every unit with its desired state, parsed requirements and current target,
 * and every live machine. Pure data; `ClusterSnapshot.from` builds it from registry records.
 */
import { requirements, type Requirements } from '../../unitfile/src/xfleet';
import type { UnitOption } from '../../unitfile/src/serialize';

/** fleet's target-state (the same strings as protocol's JobState). */
export type DesiredState = 'inactive' | 'loaded' | 'launched';

export interface SchedulerUnit {
  name: string;
  desiredState: DesiredState;
  /** `requirements(options, name)`: specifiers already substituted. */
  requirements: Requirements;
  /** The machine the unit is scheduled to (fleet's job/<name>/target), if any. */
  machineId?: string | undefined;
}

export interface SchedulerMachine {
  id: string;
  /** Merged metadata (configured plus dynamic). */
  metadata: Readonly<Record<string, string>>;
  /**
   * Missing from the registry for less than the engine's grace period (a presence lease being
   * re-granted): the machine keeps the units it has, but nothing new is placed on it.
   */
  unreachable?: boolean | undefined;
}

export interface ClusterSnapshot {
  units: readonly SchedulerUnit[];
  /** Live machines (and machines within the grace period, marked `unreachable`). */
  machines: readonly SchedulerMachine[];
}

export namespace ClusterSnapshot {
  /**
   * Build a snapshot from registry-shaped records (structurally: fleetd's UnitRecord, ScheduleEntry,
   * MachineRecord). With a cache, requirements are parsed again only for units whose content hash
   * changed since the previous pass.
   */
  export function from(
    units: readonly { name: string; options: readonly UnitOption[]; desiredState: DesiredState; hash?: string }[],
    schedule: ReadonlyMap<string, { machineId: string }>,
    machines: readonly { id: string; metadata: Readonly<Record<string, string>>; unreachable?: boolean | undefined }[],
    cache?: RequirementsCache,
  ): ClusterSnapshot {
    const snapshot: ClusterSnapshot = {
      units: units.map(u => ({
        name: u.name,
        desiredState: u.desiredState,
        requirements: cache && u.hash !== undefined ? cache.get(u.name, u.hash, u.options) : requirements(u.options, u.name),
        machineId: schedule.get(u.name)?.machineId,
      })),
      machines: machines.map(m => (m.unreachable ? { id: m.id, metadata: m.metadata, unreachable: true } : { id: m.id, metadata: m.metadata })),
    };
    cache?.retainOnly(units);
    return snapshot;
  }
}

/** Parsed requirements by unit name and content hash, kept by the engine from one pass to the next. */
export class RequirementsCache {
  private readonly entries = new Map<string, { hash: string; requirements: Requirements }>();

  get(name: string, hash: string, options: readonly UnitOption[]): Requirements {
    const hit = this.entries.get(name);
    if (hit && hit.hash === hash) return hit.requirements;
    const parsed = requirements(options, name);
    this.entries.set(name, { hash, requirements: parsed });
    return parsed;
  }

  /** Forget units that are gone (after get() for every unit, a cache of the same size holds nothing stale). */
  retainOnly(units: readonly { name: string }[]): void {
    if (this.entries.size <= units.length) return;
    const keep = new Set(units.map(u => u.name));
    for (const name of this.entries.keys()) if (!keep.has(name)) this.entries.delete(name);
  }

  get size(): number {
    return this.entries.size;
  }
}
