/**
 * The schedule on etcd v3 (EtcdRegistry's schedule resource): targets (create-only, compared on
 * the machine when deleted, in transactions of up to MAX_BATCH_OPS), launched heartbeats as the
 * agents clear them, and the engine's reasons.
 */
import type { IOperation } from 'etcd3/lib/builder';
import { MAX_BATCH_OPS, type ScheduleChange, type ScheduleEntry } from '../../../registry/src/registry';
import { assertDistinctUnits, inParallel } from '../../../registry/src/common';
import type { EtcdAccess } from './etcdAccess';
import type { PresenceLeases } from './etcdLeases';
import { decode, decodeReasons, encodeReasons } from './keys';

export class EtcdSchedule {
  constructor(
    private readonly etcd: EtcdAccess,
    private readonly presence: PresenceLeases,
  ) {}

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    return decode(this.etcd.keys, await this.etcd.range(this.etcd.keys.jobs)).schedule;
  }

  private async scheduleUnit(name: string, machineId: string): Promise<boolean> {
    const key = this.etcd.keys.target(name);
    const res = await this.etcd.call(() => this.etcd.client.if(key, 'Create', '==', 0).then(this.etcd.client.put(key).value(machineId)).commit());
    return res.succeeded;
  }

  private async unscheduleUnit(name: string, machineId: string): Promise<boolean> {
    const key = this.etcd.keys.target(name);
    const res = await this.etcd.call(() => this.etcd.client.if(key, 'Value', '==', machineId).then(this.etcd.client.delete().key(key)).commit());
    return res.succeeded;
  }

  async applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    assertDistinctUnits(changes);
    const out: boolean[] = [];
    for (let i = 0; i < changes.length; i += MAX_BATCH_OPS) {
      const chunk = changes.slice(i, i + MAX_BATCH_OPS);
      const compare = (c: ScheduleChange): [string, 'Create' | 'Value', '==', string | number] =>
        c.kind === 'schedule' ? [this.etcd.keys.target(c.unit), 'Create', '==', 0] : [this.etcd.keys.target(c.unit), 'Value', '==', c.machineId];
      const write = (c: ScheduleChange): IOperation =>
        c.kind === 'schedule'
          ? this.etcd.client.put(this.etcd.keys.target(c.unit)).value(c.machineId)
          : this.etcd.client.delete().key(this.etcd.keys.target(c.unit));
      const res = await this.etcd.call(() => {
        const txn = this.etcd.client.if(...compare(chunk[0]!));
        for (const c of chunk.slice(1)) txn.and(...compare(c));
        return txn.then(...chunk.map(write)).commit();
      });
      if (res.succeeded) {
        out.push(...chunk.map(() => true));
        continue;
      }
      // Some change is stale (another engine, or the plan raced a write): decide each one alone.
      out.push(
        ...(await inParallel(chunk, 16, c => (c.kind === 'schedule' ? this.scheduleUnit(c.unit, c.machineId) : this.unscheduleUnit(c.unit, c.machineId)))),
      );
    }
    return out;
  }

  async clearLaunched(name: string, machineId: string): Promise<void> {
    const key = this.etcd.keys.jobState(name);
    this.presence.forget(machineId, key);
    await this.etcd.call(() => this.etcd.client.if(key, 'Value', '==', machineId).then(this.etcd.client.delete().key(key)).commit());
  }

  async setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const value = encodeReasons(reasons);
    // Skip the write when nothing changed (the engine sets them on every pass).
    const current = await this.etcd.call(() => this.etcd.client.get(this.etcd.keys.reasons).string());
    if (current !== value) await this.etcd.call(() => this.etcd.client.put(this.etcd.keys.reasons).value(value).exec());
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    const value = await this.etcd.call(() => this.etcd.client.get(this.etcd.keys.reasons).string());
    return value === null ? new Map() : decodeReasons(value);
  }
}
