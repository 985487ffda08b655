/**
 * Units on etcd v3 (EtcdRegistry's units resource): a unit is its content blob (content-addressed,
 * create-only), its job object and its target state, each write one transaction (new units
 * arriving together share one: etcdCreates.ts).
 */
import { serializeOptions, unitHash, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import { RegistryLimitError, type ScheduleEntry, type UnitRecord, type UnitStateRecord } from '../../../registry/src/registry';
import { groupBySection } from '../../../registry/src/common';
import type { EtcdAccess } from './etcdAccess';
import { UnitCreations } from './etcdCreates';
import { decode, encodeJobObject, encodeUnitBlob } from './keys';

export class EtcdUnits {
  /** `reasons`: the engine's reasons, which a unit's detail carries. */
  private readonly creations: UnitCreations;

  constructor(
    private readonly etcd: EtcdAccess,
    readonly maxRequestBytes: number,
    private readonly reasons: () => Promise<Map<string, string>>,
  ) {
    this.creations = new UnitCreations(etcd, maxRequestBytes);
  }

  async getUnit(name: string): Promise<UnitRecord | undefined> {
    const kvs = await this.etcd.range(this.etcd.keys.job(name));
    return decode(this.etcd.keys, kvs).units[0];
  }

  async unitDetail(
    name: string,
  ): Promise<{ unit: UnitRecord; schedule: Map<string, ScheduleEntry>; states: UnitStateRecord[]; reasons: Map<string, string> } | undefined> {
    // The unit's job keys and its states in one transaction (one revision), the reasons beside.
    const [kvs, reasons] = await Promise.all([this.etcd.ranges([this.etcd.keys.job(name), this.etcd.keys.unitStates(name)]), this.reasons()]);
    const d = decode(this.etcd.keys, kvs);
    const unit = d.units[0];
    if (!unit) return undefined;
    return { unit, schedule: d.schedule, states: d.states.filter(s => s.name === name), reasons };
  }

  async listUnits(): Promise<UnitRecord[]> {
    return decode(this.etcd.keys, await this.etcd.range(this.etcd.keys.jobs)).units;
  }

  async putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    const options = groupBySection(unit.options);
    const hash = unitHash(options);
    const blob = encodeUnitBlob(serializeOptions(options));
    const jobObject = encodeJobObject(unit.name, hash, options);
    // What the transaction carries: the blob once, the job object in both branches, and the keys.
    const size = Buffer.byteLength(blob) + 2 * Buffer.byteLength(jobObject) + 4 * Buffer.byteLength(this.etcd.keys.jobObject(unit.name)) + 64;
    if (size > this.maxRequestBytes) {
      throw new RegistryLimitError(
        'size',
        `too large for etcd: unit ${unit.name} is ${size} bytes as written, and etcd takes at most ` +
          `--max-request-bytes (${this.maxRequestBytes} bytes) per request; make the unit smaller`,
      );
    }
    // One transaction: the content blob is create-only (content-addressed, never rewritten), the
    // job object and target state are set either way.
    const job = () => [
      this.etcd.client.put(this.etcd.keys.jobObject(unit.name)).value(jobObject),
      this.etcd.client.put(this.etcd.keys.targetState(unit.name)).value(unit.desiredState),
    ];
    await this.etcd.call(() =>
      this.etcd.client
        .if(this.etcd.keys.unitBlob(hash), 'Create', '==', 0)
        .then(this.etcd.client.put(this.etcd.keys.unitBlob(hash)).value(blob), ...job())
        .else(...job())
        .commit(),
    );
  }

  /** Creates going out together (etcdCreates.ts): one transaction for the calls that wait while others are in flight. */
  createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    return this.creations.create(unit);
  }

  async setDesiredState(name: string, state: JobState): Promise<boolean> {
    const res = await this.etcd.call(() =>
      this.etcd.client
        .if(this.etcd.keys.jobObject(name), 'Create', '>', 0)
        .then(this.etcd.client.put(this.etcd.keys.targetState(name)).value(state))
        .commit(),
    );
    return res.succeeded;
  }

  async deleteUnit(name: string): Promise<boolean> {
    const res = await this.etcd.call(() =>
      this.etcd.client
        .if(this.etcd.keys.jobObject(name), 'Create', '>', 0)
        .then(this.etcd.client.delete().prefix(this.etcd.keys.job(name)))
        .commit(),
    );
    return res.succeeded;
  }
}
