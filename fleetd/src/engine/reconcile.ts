/**
 * One engine pass: read a snapshot, plan with the pure scheduler, apply. Applying is idempotent:
 * scheduling is create-only and unscheduling compares the machine, so a stale plan or a second
 * engine can only make writes fail, never clobber, and the next pass re-plans from fresh state.
 */
import { ClusterSnapshot as SchedulerSnapshot, planCluster, type ClusterAction, type RequirementsCache } from '../../../scheduler/src';
import { errorMessage, type Log } from '../../../protocol/src/log';
import { MAX_BATCH_OPS, type MachineRecord, type EngineRegistry } from '../../../registry/src/registry';

export type { Log } from '../../../protocol/src/log';

export interface PassResult {
  /** Actions the plan asked for. */
  planned: number;
  /** Writes that took effect. */
  applied: number;
  /** Writes refused because the registry changed meanwhile (re-planned next pass). */
  stale: number;
  /** Writes that threw. */
  failed: number;
  /** True when the pass stopped early (leadership lost). */
  aborted: boolean;
  reasons: Map<string, string>;
}

export class ActionsFailedError extends Error {
  constructor(readonly failures: readonly { action: ClusterAction; error: unknown }[]) {
    super(
      `engine: ${failures.length} scheduling write(s) failed; retrying on the next pass: ` +
        failures
          .slice(0, 3)
          .map(f => `${describe(f.action)}: ${errorMessage(f.error)}`)
          .join('; '),
    );
    this.name = 'ActionsFailedError';
  }
}

export function describe(action: ClusterAction): string {
  return action.kind === 'schedule' ? `schedule ${action.unit} to ${action.machineId}` : `unschedule ${action.unit} from ${action.machineId}`;
}

/**
 * Plan from a fresh snapshot and apply it. `stillLeader` is consulted before every write; when it
 * turns false the pass stops. Reasons are published only when they differ from `lastReasons`.
 * Throws ActionsFailedError after the pass when some writes threw (the loop then backs off).
 */
export async function reconcileOnce(opts: {
  registry: EngineRegistry;
  stillLeader: () => boolean;
  log: Log;
  lastReasons: ReadonlyMap<string, string> | undefined;
  /** Parsed requirements kept from the previous pass (re-parsed only when a unit's hash changes). */
  cache?: RequirementsCache;
  /**
   * Given the live machines, the machines to plan with: the engine adds machines that are missing
   * for less than its grace period, marked unreachable (they keep their units, take no new ones).
   */
  machines?: (live: readonly MachineRecord[]) => readonly (MachineRecord & { unreachable?: boolean })[];
}): Promise<PassResult> {
  const { registry, stillLeader, log } = opts;
  const snap = await registry.snapshot();
  const machines = opts.machines ? opts.machines(snap.machines) : snap.machines;
  const plan = planCluster(SchedulerSnapshot.from(snap.units, snap.schedule, machines, opts.cache));
  const result: PassResult = { planned: plan.actions.length, applied: 0, stale: 0, failed: 0, aborted: false, reasons: plan.reasons };
  const failures: { action: ClusterAction; error: unknown }[] = [];
  // The writes are independent (each is create-only or compare-and-delete on its own key), so
  // they go out in batches of MAX_BATCH_OPS (one transaction each when none is stale): at a
  // thousand units, one round trip per unit is what limited a pass, not etcd. Leadership is
  // checked before every batch.
  // Unschedules go first (a unit moving between machines is unscheduled before it is scheduled
  // again, as in the plan's order), then the schedules.
  let leadershipLost = false;
  const runAll = async (actions: readonly ClusterAction[]): Promise<void> => {
    for (let i = 0; i < actions.length; i += MAX_BATCH_OPS) {
      if (leadershipLost || !stillLeader()) {
        leadershipLost = true;
        return;
      }
      const batch = actions.slice(i, i + MAX_BATCH_OPS);
      let applied: boolean[];
      try {
        applied = await registry.applySchedule(batch.map(a => ({ kind: a.kind, unit: a.unit, machineId: a.machineId })));
      } catch (error) {
        for (const action of batch) {
          result.failed++;
          failures.push({ action, error });
        }
        log(
          'warn',
          `engine: ${batch.length === 1 ? describe(batch[0]!) : `${batch.length} scheduling writes (${describe(batch[0]!)}, …)`} failed: ${errorMessage(error)}`,
        );
        continue;
      }
      batch.forEach((action, j) => {
        if (applied[j]) {
          result.applied++;
          log(
            'info',
            action.kind === 'schedule'
              ? `engine: scheduled ${action.unit} to ${action.machineId} (${action.reason})`
              : `engine: unscheduled ${action.unit} from ${action.machineId} (${action.reason})`,
          );
        } else {
          result.stale++;
          log('debug', `engine: ${describe(action)} skipped: the schedule changed meanwhile; re-planning next pass`);
        }
      });
    }
  };
  await runAll(plan.actions.filter(a => a.kind === 'unschedule'));
  await runAll(plan.actions.filter(a => a.kind === 'schedule'));
  if (leadershipLost) {
    result.aborted = true;
    log(
      'warn',
      `engine: leadership lost during a pass; ${plan.actions.length - result.applied - result.stale - result.failed} action(s) left to the new leader`,
    );
    return result;
  }
  if (!stillLeader()) {
    result.aborted = true;
    return result;
  }
  if (!sameReasons(opts.lastReasons, plan.reasons)) {
    await registry.setUnitReasons(plan.reasons);
    for (const [unit, reason] of plan.reasons) {
      if (opts.lastReasons?.get(unit) !== reason) log('info', `engine: ${unit} not scheduled: ${reason}`);
    }
  }
  if (failures.length > 0) throw new ActionsFailedError(failures);
  return result;
}

function sameReasons(a: ReadonlyMap<string, string> | undefined, b: ReadonlyMap<string, string>): boolean {
  if (!a || a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}
