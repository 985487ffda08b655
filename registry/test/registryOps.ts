/**
 * One-at-a-time registry writes for tests, over the batch forms the roles use: a test that
 * schedules one unit or publishes one state goes through the same applySchedule / publishUnits
 * as the engine and the agent do (the backends have no single-write methods of their own).
 */
import type { Registry, UnitStateRecord } from '../src/registry';

/** Create-only: false when the unit already has a target. */
export async function scheduleUnit(registry: Pick<Registry, 'applySchedule'>, unit: string, machineId: string): Promise<boolean> {
  const [applied] = await registry.applySchedule([{ kind: 'schedule', unit, machineId }]);
  return applied!;
}

/** Deletes the target only while it still names `machineId`. */
export async function unscheduleUnit(registry: Pick<Registry, 'applySchedule'>, unit: string, machineId: string): Promise<boolean> {
  const [applied] = await registry.applySchedule([{ kind: 'unschedule', unit, machineId }]);
  return applied!;
}

/** The agent's "launched" heartbeat for one unit, with a TTL. */
export async function setLaunched(registry: Pick<Registry, 'publishUnits'>, unit: string, machineId: string, ttlMs: number): Promise<void> {
  await registry.publishUnits(machineId, { states: [], launched: [unit] }, ttlMs);
}

/** One machine's state of one unit, with a TTL. */
export async function saveUnitState(registry: Pick<Registry, 'publishUnits'>, state: UnitStateRecord, ttlMs: number): Promise<void> {
  await registry.publishUnits(state.machineId, { states: [state], launched: [] }, ttlMs);
}
