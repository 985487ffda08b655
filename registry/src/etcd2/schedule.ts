/**
 * The schedule on fleet's etcd v2 keyspace (Etcd2Registry's schedule resource): `job/<name>/target`,
 * created with prevExist=false and deleted with the machine as prevValue, a batch's changes sent
 * concurrently; and fleetd's "why is this unit waiting" reasons at `fleetd/reasons`, outside every
 * key family fleet reads, written only when they changed.
 */
import { assertDistinctUnits, inParallel } from '../common';
import type { ScheduleChange, ScheduleEntry } from '../registry';
import { CONCURRENCY, type Etcd2Access } from './access';
import { EtcdCode } from './client';
import { isCode } from './leases';
import { scheduleOf } from './layout';
import type { Etcd2Units } from './units';

export class Etcd2Schedule {
  private lastReasons: string | undefined;

  constructor(
    private readonly etcd: Etcd2Access,
    private readonly units: Etcd2Units,
  ) {}

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    return scheduleOf(await this.units.readJobs());
  }

  private async scheduleUnit(name: string, machineId: string): Promise<boolean> {
    try {
      await this.etcd.client.set(this.etcd.keys.target(name), machineId, { prevExist: false });
      return true;
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) return false;
      throw err;
    }
  }

  private async unscheduleUnit(name: string, machineId: string): Promise<boolean> {
    try {
      await this.etcd.client.delete(this.etcd.keys.target(name), { prevValue: machineId });
      return true;
    } catch (err) {
      if (isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) return false;
      throw err;
    }
  }

  async applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    assertDistinctUnits(changes);
    return inParallel(changes, CONCURRENCY, c => (c.kind === 'schedule' ? this.scheduleUnit(c.unit, c.machineId) : this.unscheduleUnit(c.unit, c.machineId)));
  }

  async setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const value = JSON.stringify(Object.fromEntries([...reasons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
    if (value === this.lastReasons) return;
    await this.etcd.client.set(this.etcd.keys.reasons, value);
    this.lastReasons = value;
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    const res = await this.etcd.client.get(this.etcd.keys.reasons);
    const out = new Map<string, string>();
    try {
      const json = JSON.parse(res?.node.value ?? '{}') as Record<string, unknown>;
      for (const [k, v] of Object.entries(json)) if (typeof v === 'string') out.set(k, v);
    } catch {
      // not ours: no reasons
    }
    return out;
  }
}
