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
}

export interface ClusterSnapshot {
  units: readonly SchedulerUnit[];
  /** Live machines only. */
  machines: readonly SchedulerMachine[];
}

export namespace ClusterSnapshot {
  /** Build a snapshot from registry-shaped records (structurally: fleetd's UnitRecord, ScheduleEntry, MachineRecord). */
  export function from(
    units: readonly { name: string; options: readonly UnitOption[]; desiredState: DesiredState }[],
    schedule: ReadonlyMap<string, { machineId: string }>,
    machines: readonly { id: string; metadata: Readonly<Record<string, string>> }[],
  ): ClusterSnapshot {
    return {
      units: units.map(u => ({
        name: u.name,
        desiredState: u.desiredState,
        requirements: requirements(u.options, u.name),
        machineId: schedule.get(u.name)?.machineId,
      })),
      machines: machines.map(m => ({ id: m.id, metadata: m.metadata })),
    };
  }
}
