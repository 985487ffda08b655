/**
 * The API's list reads from the mirror (etcdMirror.ts), consistent with etcd: Kubernetes'
 * "consistent reads from cache". A read
 *  1. asks etcd for its revision now, in one small request (a read of the reasons key: its
 *     header carries the revision; its value too, when the mirror does not hold the reasons);
 *  2. waits until the mirror is at that revision or later (the watch applies events in revision
 *     order), so that a write that returned before the read began, by this process or another,
 *     is in it;
 *  3. builds units, schedule, machines, states and reasons from the mirror's maps, each rebuilt
 *     only when its part of the mirror changed, and job objects and states parsed only when their
 *     text changed.
 * The last write before the read may lie outside the watch's range (a unit blob, the engine
 * version, another application's keys): then the mirror never reaches the revision by events.
 * After a short wait the read checks instead that nothing in the range changed since the
 * mirror's revision (no key modified after it, as many keys as the mirror holds, both read at the
 * probe's revision); if so the mirror is the range as of the probe.
 *
 * No live watch (starting, reconnecting), or no catching up within the budget: undefined, and
 * the caller reads etcd directly as before. A stale list is never served.
 */
import { compare } from '../../../registry/src/values';
import type { MachineRecord, ScheduleEntry, UnitRecord, UnitStateRecord } from '../../../registry/src/registry';
import { describeError } from '../../../protocol/src/log';
import type { EtcdAccess } from './etcdAccess';
import type { EtcdMirror } from './etcdMirror';
import type { MirrorContents } from './etcdMirrorContents';
import { decode, decodeReasons, decodeUnitState, JobObjectCache, watchRange, type Kv } from './keys';

/** The lists one read serves, as of one revision. Shared records: callers must not change them. */
export interface MirrorLists {
  units: readonly UnitRecord[];
  schedule: ReadonlyMap<string, ScheduleEntry>;
  machines: readonly MachineRecord[];
  /** Only when the mirror holds the states (someone watches them); otherwise read them directly. */
  states: readonly UnitStateRecord[] | undefined;
  reasons: ReadonlyMap<string, string>;
}

/** The longest a read waits for the mirror before it reads etcd directly. */
export const DEFAULT_CONSISTENT_READ_BUDGET_MS = 1_500;
/** How long a read waits for the mirror to reach the probe's revision before it checks whether it already is the range as of it. */
const CHECK_AFTER_MS = 20;

export class MirrorReads {
  /**
   * How list calls were served (for tests and benchmarks): `mirror` and `direct` count calls
   * (direct: no live watch, or the mirror did not catch up); `checked` counts the shared reads
   * served after a range check.
   */
  readonly served = { mirror: 0, checked: 0, direct: 0 };
  private pending: Promise<MirrorLists | undefined> | undefined;
  private readonly jobObjects = new JobObjectCache();
  private readonly stateRecords = new Map<string, { text: string; record: UnitStateRecord | undefined }>();
  private jobs: { version: number; units: readonly UnitRecord[]; schedule: ReadonlyMap<string, ScheduleEntry> } | undefined;
  private machines: { version: number; list: readonly MachineRecord[] } | undefined;
  private states: { version: number; list: readonly UnitStateRecord[] } | undefined;
  private reasons: { text: string | undefined; map: ReadonlyMap<string, string> } | undefined;

  constructor(
    private readonly etcd: EtcdAccess,
    private readonly mirror: EtcdMirror,
    private readonly budgetMs = DEFAULT_CONSISTENT_READ_BUDGET_MS,
  ) {}

  /**
   * The lists as of a revision no older than etcd's when this was called, or undefined (read etcd
   * directly). Calls made in the same turn (one request's units, schedule, states and reasons)
   * share one read: one probe, one revision.
   */
  async read(): Promise<MirrorLists | undefined> {
    if (!this.mirror.live) {
      this.served.direct++;
      return undefined;
    }
    if (!this.pending) {
      const pending = this.consistentRead();
      this.pending = pending;
      // Joining is safe until the probe is sent: every write a caller knows of has been applied by then.
      queueMicrotask(() => {
        if (this.pending === pending) this.pending = undefined;
      });
    }
    const lists = await this.pending;
    this.served[lists ? 'mirror' : 'direct']++;
    return lists;
  }

  private async consistentRead(): Promise<MirrorLists | undefined> {
    const started = Date.now();
    const withStates = this.mirror.live!.withStates;
    const reasonsKey = Buffer.from(this.etcd.keys.reasons);
    // The mirror holds the reasons when it holds the states (the watch covers fleetd/): count only.
    const probe = await this.etcd.call(() => this.etcd.client.kv.range(withStates ? { key: reasonsKey, count_only: true } : { key: reasonsKey }));
    const target = BigInt(probe.header.revision);
    const probedReasons = withStates ? undefined : (probe.kvs[0]?.value.toString() ?? '');
    for (;;) {
      const live = this.mirror.live;
      if (!live || live.withStates !== withStates) return this.direct('the watch stopped or changed its range');
      if (this.mirror.revision >= target) return this.lists(withStates, probedReasons);
      const left = this.budgetMs - (Date.now() - started);
      if (left <= 0) return this.direct(`the mirror did not reach revision ${target} within ${this.budgetMs} ms`);
      const before = this.mirror.revision;
      await this.mirror.waitFor(target, Math.min(left, CHECK_AFTER_MS));
      // Caught up, or events still arriving: look again.
      if (this.mirror.revision !== before || !this.mirror.live) continue;
      let check: { unchanged: boolean; at: bigint };
      try {
        check = await this.unchangedSince(target, withStates);
      } catch (err) {
        return this.direct(`checking the mirror failed: ${describeError(err)}`);
      }
      if (check.unchanged) {
        this.served.checked++;
        return this.lists(withStates, probedReasons);
      }
      // Something in the range changed after the mirror's revision: its events are on the way.
      await this.mirror.waitFor(check.at + 1n, Math.max(0, this.budgetMs - (Date.now() - started)));
    }
  }

  /**
   * Whether the watch's range at `target` equals the mirror (at its revision when asked, `at`):
   * no key modified after `at`, and as many keys as the mirror holds. Both reads are pinned to
   * `target`; a key deleted and none created shows in the count, any other change in the first.
   */
  private async unchangedSince(target: bigint, withStates: boolean): Promise<{ unchanged: boolean; at: bigint }> {
    const at = this.mirror.revision;
    const count = this.mirror.keyCount;
    const range = watchRange(this.etcd.keys, withStates);
    const request = { key: Buffer.from(range.start), range_end: Buffer.from(range.end), revision: String(target) };
    const [changed, total] = await Promise.all([
      this.etcd.call(() => this.etcd.client.kv.range({ ...request, keys_only: true, min_mod_revision: String(at + 1n) })),
      this.etcd.call(() => this.etcd.client.kv.range({ ...request, count_only: true })),
    ]);
    return { unchanged: this.mirror.revision === at && changed.kvs.length === 0 && Number(total.count) === count, at };
  }

  private direct(why: string): undefined {
    this.etcd.log('debug', `list read from etcd, not the mirror: ${why}`);
    return undefined;
  }

  private lists(withStates: boolean, probedReasons: string | undefined): MirrorLists {
    const contents = this.mirror.contents;
    const { versions } = contents;
    if (this.jobs?.version !== versions.jobs) this.jobs = { version: versions.jobs, ...this.buildJobs(contents.jobs) };
    if (this.machines?.version !== versions.machines) this.machines = { version: versions.machines, list: this.buildMachines(contents.machines) };
    if (withStates && this.states?.version !== versions.states) this.states = { version: versions.states, list: this.buildStates(contents.states) };
    const reasonsText = probedReasons ?? contents.others.get(this.etcd.keys.reasons) ?? '';
    if (this.reasons?.text !== reasonsText) this.reasons = { text: reasonsText, map: reasonsText === '' ? new Map() : decodeReasons(reasonsText) };
    return {
      units: this.jobs.units,
      schedule: this.jobs.schedule,
      machines: this.machines.list,
      states: withStates ? this.states!.list : undefined,
      reasons: this.reasons.map,
    };
  }

  /** Units and schedule from the job keys; a job object is parsed again only when its text changed. */
  private buildJobs(jobs: MirrorContents['jobs']): { units: readonly UnitRecord[]; schedule: ReadonlyMap<string, ScheduleEntry> } {
    const kvs: Kv[] = [];
    for (const [key, value] of jobs) kvs.push({ key, value });
    const { units, schedule } = decode(this.etcd.keys, kvs, this.jobObjects);
    this.jobObjects.sweep();
    for (const u of units) Object.freeze(u);
    for (const entry of schedule.values()) Object.freeze(entry);
    return { units, schedule };
  }

  private buildMachines(machines: MirrorContents['machines']): readonly MachineRecord[] {
    const kvs: { key: string; value: string }[] = [];
    for (const keys of machines.values()) for (const [key, value] of keys) kvs.push({ key, value });
    return decode(this.etcd.keys, kvs).machines.map(m => Object.freeze({ ...m, metadata: Object.freeze(m.metadata) }));
  }

  /** The states, sorted by unit then machine; a state is parsed again only when its text changed. */
  private buildStates(states: MirrorContents['states']): readonly UnitStateRecord[] {
    const out: UnitStateRecord[] = [];
    for (const [key, text] of states) {
      let cached = this.stateRecords.get(key);
      if (cached?.text !== text) {
        const k = this.etcd.keys.parse(key);
        const record = k.kind === 'state' ? decodeUnitState(k.unit, k.machineId, text) : undefined;
        cached = { text, record: record && Object.freeze(record) };
        this.stateRecords.set(key, cached);
      }
      if (cached.record) out.push(cached.record);
    }
    for (const key of this.stateRecords.keys()) if (!states.has(key)) this.stateRecords.delete(key);
    return out.sort((a, b) => compare(a.name, b.name) || compare(a.machineId, b.machineId));
  }
}
