/**
 * The Registry on etcd v3 (etcd3): fleet's key layout under a prefix (keys.ts), TTLs as leases.
 *
 *  - Machine presence and engine leadership sit on leases kept alive by this process. Presence is
 *    re-granted and re-published when etcd lost the lease (a long outage); leadership is not, its
 *    handle reports the loss and the engine campaigns again.
 *  - Unit states and launched heartbeats of a machine registered through this registry sit on
 *    that machine's presence lease: they live exactly as long as the machine does (kept alive
 *    by lease keepalives, which cost etcd no disk write), so the agent rewrites them only when
 *    they change. fleet rewrote every TTL key on every heartbeat, which is what melts etcd at
 *    a thousand units. Other writers get short-lived shared leases granted per TTL.
 *  - Scheduling is a create-only transaction; unscheduling compares the value. Batches (the
 *    engine's schedule changes, an agent's states and heartbeats) go out as transactions of up to
 *    MAX_BATCH_OPS operations; a batch whose compares do not all hold falls back to one
 *    transaction per change.
 *  - An agent reads only its own units (machineView), and from memory: the watcher keeps a mirror
 *    of the job and machine keys (an informer cache, as Kubernetes controllers keep), so an
 *    agent's pass costs etcd nothing. The mirror lags etcd by the watch delay; every change it
 *    has not reflected yet is followed by a watchMachine hint once it has. Without a live watch
 *    (starting, reconnecting) machineView reads etcd instead.
 *  - Every etcd failure surfaces as RegistryUnavailableError (with the cause attached); the gRPC
 *    channel reconnects by itself when etcd comes back.
 *  - watch/watchMachine run one watcher over the prefix, with an index of targets and global units
 *    so that a change wakes only the machines it concerns. After a reconnect every watcher gets a
 *    hint (events may have been missed).
 */
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import type { IOperation } from 'etcd3/lib/builder';
import { ExponentialBackoff, noop } from 'cockatiel';
import { isGlobalUnit, serializeOptions, unitHash, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import {
  MAX_BATCH_OPS, MachineExistsError, RegistryLimitError, RegistryUnavailableError, type ClusterSnapshot, type Disposable, type Leadership,
  type MachinePresence, type MachineRecord, type MachineView, type Registry, type ScheduleChange, type ScheduleEntry,
  type UnitRecord, type UnitStateRecord, type WatchTopic,
} from '../../../registry/src/registry';
import { assertDistinctUnits, groupBySection, Watchers } from '../../../registry/src/common';
import { EtcdLeadership, KeptLease, describe, mapError, ttlSeconds, type RegistryLog } from './etcdLeases';
import {
  DEFAULT_PREFIX, Keys, decode, decodeJobObject, decodeLeader, decodeReasons,
  encodeJobObject, encodeLeader, encodeMachine, encodeReasons, encodeUnitBlob, encodeUnitState, type Kv,
} from './keys';

export type { RegistryLog } from './etcdLeases';

export interface EtcdRegistryOptions {
  /** `host:port` or `http://host:port`. */
  endpoints: string[];
  /** Key prefix; default fleet's `/_coreos.com/fleet/`. */
  prefix?: string;
  /** Deadline of each unary etcd call; default 5 s. */
  callTimeoutMs?: number;
  /** etcd's --max-request-bytes: writes larger than this are refused before they are sent. Default etcd's 1.5 MiB. */
  maxRequestBytes?: number;
  log?: RegistryLog;
}

/** etcd's default --max-request-bytes. */
export const ETCD_DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

export class EtcdRegistry implements Registry {
  private closed = false;
  private readonly watchers = new Watchers();
  private watcher: Watcher | undefined;
  private watchStarting: Promise<void> | undefined;
  private needsResync = false;
  /**
   * The mirror: every job/ and states/ key (value by key) and every machine's keys (by machine
   * ID), as of
   * `mirrorRevision` plus the events applied since. Events at or below the revision of the read
   * that rebuilt it are already in it (and skipped).
   */
  private readonly mirror = { jobs: new Map<string, string>(), states: new Map<string, string>(), machines: new Map<string, Map<string, string>>() };
  private mirrorRevision = 0n;
  /** The watch index: what watchMachine needs to route an event. */
  private readonly index = { targets: new Map<string, string>(), launched: new Map<string, string>(), global: new Set<string>(), stateMachines: new Map<string, Set<string>>() };
  private readonly ephemeral = new Map<number, { id: string; grantedAt: number }>();
  /** Presence leases of the machines registered through this registry, by machine ID. */
  private readonly presence = new Map<string, KeptLease>();
  /**
   * What this process wrote on each presence lease (key → value). When etcd loses the lease (an
   * outage longer than its TTL) those keys go with it; they are written again on the new lease,
   * since agents that rely on ephemeralFollowsPresence only rewrite them on change.
   */
  private readonly onPresence = new Map<string, Map<string, string>>();
  /** See Registry.ephemeralFollowsPresence. */
  readonly ephemeralFollowsPresence = true;
  private readonly kept = new Set<KeptLease>();
  private leadership: EtcdLeadership | undefined;

  private constructor(private readonly client: Etcd3, private readonly keys: Keys, private readonly log: RegistryLog, readonly maxRequestBytes: number) {}

  /**
   * Creates the client. It does not wait for etcd: while etcd is unreachable every call rejects
   * with RegistryUnavailableError (the API answers 503) and the client keeps reconnecting.
   */
  static async connect(options: EtcdRegistryOptions): Promise<EtcdRegistry> {
    if (options.endpoints.length === 0) throw new Error('EtcdRegistry: no etcd endpoints given (expected e.g. http://127.0.0.1:2379)');
    for (const e of options.endpoints) {
      if (/^unix:\/\/\/./.test(e)) continue; // a unix socket (the private etcd of `fleetd local`)
      if (/^https:\/\//i.test(e)) throw new Error(`EtcdRegistry: ${e}: TLS to etcd is not supported; use an http:// endpoint on a trusted network (e.g. through an SSH tunnel)`);
      if (!/^(https?:\/\/)?[^/\s]+:\d+\/?$/i.test(e)) throw new Error(`EtcdRegistry: ${JSON.stringify(e)} is not an etcd endpoint (expected host:port or http://host:port)`);
    }
    const timeout = options.callTimeoutMs ?? 5_000;
    const client = new Etcd3({
      hosts: options.endpoints,
      dialTimeout: timeout,
      // No circuit breaker or retries: a failure is reported at once, and the next call tries again.
      // The watch stream reconnects within 2 s of etcd coming back (cockatiel's default waits up to 30 s).
      faultHandling: { host: () => noop, global: noop, watchBackoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }) as never },
      defaultCallOptions: context => (context.isStream ? {} : { deadline: new Date(Date.now() + timeout) }),
    });
    const registry = new EtcdRegistry(client, new Keys(options.prefix ?? DEFAULT_PREFIX), options.log ?? (() => {}), options.maxRequestBytes ?? ETCD_DEFAULT_MAX_REQUEST_BYTES);
    try {
      await registry.ping();
    } catch (err) {
      registry.log('warn', `etcd at ${options.endpoints.join(',')} is not reachable yet: ${describe(err)}`);
    }
    return registry;
  }

  get prefix(): string {
    return this.keys.prefix;
  }

  // ---------------------------------------------------------------- units

  async getUnit(name: string): Promise<UnitRecord | undefined> {
    const kvs = await this.range(this.keys.job(name));
    return decode(this.keys, kvs).units[0];
  }

  async unitDetail(name: string): Promise<{ unit: UnitRecord; schedule: Map<string, ScheduleEntry>; states: UnitStateRecord[]; reasons: Map<string, string> } | undefined> {
    // The unit's job keys and its states in one transaction (one revision), the reasons beside.
    const [kvs, reasons] = await Promise.all([this.ranges([this.keys.job(name), this.keys.unitStates(name)]), this.getUnitReasons()]);
    const d = decode(this.keys, kvs);
    const unit = d.units[0];
    if (!unit) return undefined;
    return { unit, schedule: d.schedule, states: d.states.filter(s => s.name === name), reasons };
  }

  async listUnits(): Promise<UnitRecord[]> {
    return decode(this.keys, await this.range(this.keys.jobs)).units;
  }

  async putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    const options = groupBySection(unit.options);
    const hash = unitHash(options);
    const blob = encodeUnitBlob(serializeOptions(options));
    const jobObject = encodeJobObject(unit.name, hash, options);
    // What the transaction carries: the blob once, the job object in both branches, and the keys.
    const size = Buffer.byteLength(blob) + 2 * Buffer.byteLength(jobObject) + 4 * Buffer.byteLength(this.keys.jobObject(unit.name)) + 64;
    if (size > this.maxRequestBytes) {
      throw new RegistryLimitError('size', `too large for etcd: unit ${unit.name} is ${size} bytes as written, and etcd takes at most ` +
        `--max-request-bytes (${this.maxRequestBytes} bytes) per request; make the unit smaller`);
    }
    // One transaction: the content blob is create-only (content-addressed, never rewritten), the
    // job object and target state are set either way.
    const job = () => [
      this.client.put(this.keys.jobObject(unit.name)).value(jobObject),
      this.client.put(this.keys.targetState(unit.name)).value(unit.desiredState),
    ];
    await this.call(() =>
      this.client
        .if(this.keys.unitBlob(hash), 'Create', '==', 0)
        .then(this.client.put(this.keys.unitBlob(hash)).value(blob), ...job())
        .else(...job())
        .commit(),
    );
  }

  async createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    const options = groupBySection(unit.options);
    const hash = unitHash(options);
    // One transaction, no read first: if no job object, the blob (content-addressed: rewriting it
    // writes the same bytes), the job object and the target state.
    const res = await this.call(() =>
      this.client
        .if(this.keys.jobObject(unit.name), 'Create', '==', 0)
        .then(
          this.client.put(this.keys.unitBlob(hash)).value(encodeUnitBlob(serializeOptions(options))),
          this.client.put(this.keys.jobObject(unit.name)).value(encodeJobObject(unit.name, hash, options)),
          this.client.put(this.keys.targetState(unit.name)).value(unit.desiredState),
        )
        .commit(),
    );
    return res.succeeded;
  }

  async setDesiredState(name: string, state: JobState): Promise<boolean> {
    const res = await this.call(() =>
      this.client.if(this.keys.jobObject(name), 'Create', '>', 0).then(this.client.put(this.keys.targetState(name)).value(state)).commit(),
    );
    return res.succeeded;
  }

  async deleteUnit(name: string): Promise<boolean> {
    const res = await this.call(() =>
      this.client.if(this.keys.jobObject(name), 'Create', '>', 0).then(this.client.delete().prefix(this.keys.job(name))).commit(),
    );
    return res.succeeded;
  }

  // ---------------------------------------------------------------- schedule

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    return decode(this.keys, await this.range(this.keys.jobs)).schedule;
  }

  private async scheduleUnit(name: string, machineId: string): Promise<boolean> {
    const key = this.keys.target(name);
    const res = await this.call(() => this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(machineId)).commit());
    return res.succeeded;
  }

  private async unscheduleUnit(name: string, machineId: string): Promise<boolean> {
    const key = this.keys.target(name);
    const res = await this.call(() => this.client.if(key, 'Value', '==', machineId).then(this.client.delete().key(key)).commit());
    return res.succeeded;
  }

  async applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    assertDistinctUnits(changes);
    const out: boolean[] = [];
    for (let i = 0; i < changes.length; i += MAX_BATCH_OPS) {
      const chunk = changes.slice(i, i + MAX_BATCH_OPS);
      const compare = (c: ScheduleChange): [string, 'Create' | 'Value', '==', string | number] =>
        c.kind === 'schedule' ? [this.keys.target(c.unit), 'Create', '==', 0] : [this.keys.target(c.unit), 'Value', '==', c.machineId];
      const write = (c: ScheduleChange): IOperation =>
        c.kind === 'schedule' ? this.client.put(this.keys.target(c.unit)).value(c.machineId) : this.client.delete().key(this.keys.target(c.unit));
      const res = await this.call(() => {
        const txn = this.client.if(...compare(chunk[0]!));
        for (const c of chunk.slice(1)) txn.and(...compare(c));
        return txn.then(...chunk.map(write)).commit();
      });
      if (res.succeeded) {
        out.push(...chunk.map(() => true));
        continue;
      }
      // Some change is stale (another engine, or the plan raced a write): decide each one alone.
      out.push(...(await inParallel(chunk, 16, c => (c.kind === 'schedule' ? this.scheduleUnit(c.unit, c.machineId) : this.unscheduleUnit(c.unit, c.machineId)))));
    }
    return out;
  }

  async clearLaunched(name: string, machineId: string): Promise<void> {
    const key = this.keys.jobState(name);
    this.onPresence.get(machineId)?.delete(key);
    await this.call(() => this.client.if(key, 'Value', '==', machineId).then(this.client.delete().key(key)).commit());
  }

  // ---------------------------------------------------------------- reasons

  async setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const value = encodeReasons(reasons);
    // Skip the write when nothing changed (the engine sets them on every pass).
    const current = await this.call(() => this.client.get(this.keys.reasons).string());
    if (current !== value) await this.call(() => this.client.put(this.keys.reasons).value(value).exec());
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    const value = await this.call(() => this.client.get(this.keys.reasons).string());
    return value === null ? new Map() : decodeReasons(value);
  }

  // ---------------------------------------------------------------- machines

  async registerMachine(machine: MachineRecord, ttlMs: number): Promise<MachinePresence> {
    let current = { ...machine, metadata: { ...machine.metadata } };
    const key = this.keys.machineObject(machine.id);
    let published = false;
    const publish = async (leaseId: string): Promise<boolean> => {
      const res = await this.call(() => this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(encodeMachine(current)).lease(leaseId)).commit());
      if (!res.succeeded) return false;
      // A re-grant after a lost lease: put back the states and heartbeats that went with it.
      if (published) await this.republishOnPresence(machine.id, leaseId);
      published = true;
      return true;
    };
    const kept = new KeptLease(this.client, ttlSeconds(ttlMs), publish, this.log, `presence of machine ${machine.id}`);
    this.kept.add(kept);
    try {
      if (!(await kept.start())) throw new MachineExistsError(machine.id);
      this.presence.set(machine.id, kept);
    } catch (err) {
      this.kept.delete(kept);
      // Revoke the lease if it was granted; a failure here must not hide the first error.
      await kept.dispose(true).catch(cleanup => this.log('debug', `revoking the lease of machine ${machine.id} failed: ${describe(cleanup)}`));
      throw mapError(err);
    }
    return {
      update: async next => {
        current = { ...next, id: machine.id, metadata: { ...next.metadata } };
        const leaseId = kept.leaseId;
        if (leaseId === undefined) return; // being re-granted; the re-publish uses `current`
        await this.call(() => this.client.put(key).value(encodeMachine(current)).lease(leaseId).exec());
      },
      release: async () => {
        if (this.presence.get(machine.id) === kept) {
          this.presence.delete(machine.id);
          this.onPresence.delete(machine.id);
        }
        this.kept.delete(kept);
        await kept.dispose(true);
      },
    };
  }

  async listMachines(): Promise<MachineRecord[]> {
    return decode(this.keys, await this.range(this.keys.machines)).machines;
  }

  async patchMachineMetadata(ops: readonly { machineId: string; key: string; value: string }[]): Promise<void> {
    if (ops.length === 0) return;
    await this.call(() =>
      this.client
        .if(this.keys.machines, 'Version', '>', -1)
        .then(...ops.map(op => this.client.put(this.keys.machineMetadata(op.machineId, op.key)).value(op.value)))
        .commit(),
    );
  }

  // ---------------------------------------------------------------- unit states

  async publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    const writes: [string, string][] = [];
    for (const st of batch.states) {
      if (st.machineId !== machineId) throw new Error(`publishUnits: the state of ${st.name} belongs to machine ${st.machineId}, not ${machineId}`);
      writes.push([this.keys.state(st.name, machineId), encodeUnitState(st)]);
    }
    // States first: a unit's heartbeat is never written before its state (same or later transaction).
    for (const name of batch.launched) writes.push([this.keys.jobState(name), machineId]);
    if (writes.length === 0) return;
    const presence = this.presence.get(machineId);
    if (presence) {
      // On the presence lease only: a short-lived lease would let the keys expire while the
      // agent believes them published (that is what emptied the state table under load).
      const leaseId = presence.leaseId;
      if (leaseId === undefined) throw new RegistryUnavailableError(`the presence of machine ${machineId} is being re-granted; publishing again once it is back`);
      for (let i = 0; i < writes.length; i += MAX_BATCH_OPS) {
        const chunk = writes.slice(i, i + MAX_BATCH_OPS);
        await this.call(() => this.client.if(this.keys.prefix, 'Version', '>', -1).then(...chunk.map(([k, v]) => this.client.put(k).value(v).lease(leaseId))).commit());
        let written = this.onPresence.get(machineId);
        if (!written) this.onPresence.set(machineId, (written = new Map()));
        for (const [k, v] of chunk) written.set(k, v);
      }
      return;
    }
    await inParallel(writes, 8, ([k, v]) => this.putEphemeral(k, v, ttlMs, machineId));
  }

  async removeUnitState(name: string, machineId: string): Promise<void> {
    this.onPresence.get(machineId)?.delete(this.keys.state(name, machineId));
    await this.call(() => this.client.delete().key(this.keys.state(name, machineId)).exec());
  }

  async listUnitStates(): Promise<UnitStateRecord[]> {
    return decode(this.keys, await this.range(this.keys.states)).states;
  }

  // ---------------------------------------------------------------- snapshot and leadership

  /** Units, schedule and machines from one transaction: one revision, without the unit blobs. */
  async snapshot(): Promise<ClusterSnapshot> {
    const { units, schedule, machines } = decode(this.keys, await this.ranges([this.keys.jobs, this.keys.machines]));
    return { units, schedule, machines };
  }

  async machineView(machineId: string): Promise<MachineView> {
    if (this.closed) throw new RegistryUnavailableError();
    this.ensureWatch();
    if (!this.watcher || this.needsResync) {
      // No live watch (starting, or reconnecting): read everything, as fleet does.
      const { units, schedule, machines } = await this.snapshot();
      return viewOf(machineId, units, schedule, machines.find(m => m.id === machineId));
    }
    // From the mirror: the units scheduled here (the index says which) and the global units.
    const names = new Set(this.index.global);
    for (const [unit, target] of this.index.targets) if (target === machineId) names.add(unit);
    const kvs: Kv[] = [];
    for (const name of names) {
      for (const key of [this.keys.jobObject(name), this.keys.targetState(name), this.keys.target(name), this.keys.jobState(name)]) {
        const value = this.mirror.jobs.get(key);
        if (value !== undefined) kvs.push({ key, value });
      }
    }
    for (const [key, value] of this.mirror.machines.get(machineId) ?? []) kvs.push({ key, value });
    const { units, schedule, machines } = decode(this.keys, kvs);
    return viewOf(machineId, units, schedule, machines.find(m => m.id === machineId));
  }

  async tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    const mine = this.leadership;
    if (mine && mine.held && mine.machineId === machineId) {
      // The holder asks again: a renewal.
      await this.call(() => mine.lease.keepaliveOnce());
      return mine;
    }
    const key = this.keys.engineLeader;
    // A follower asks every interval: one read while someone holds the lease, instead of a lease
    // grant and revoke (two raft writes) per follower per interval.
    if ((await this.call(() => this.client.get(key).string())) !== null) return undefined;
    const lease = this.client.lease(ttlSeconds(ttlMs));
    lease.on('lost', () => undefined);
    try {
      const leaseId = await this.call(() => lease.grant());
      const res = await this.call(() => this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(encodeLeader(machineId)).lease(leaseId)).commit());
      if (!res.succeeded) {
        await lease.revoke().catch(err => this.log('debug', `revoking an unused lease failed: ${describe(err)}`));
        return undefined;
      }
    } catch (err) {
      lease.release();
      throw err;
    }
    const handle = new EtcdLeadership(machineId, lease, () => {
      if (this.leadership === handle) this.leadership = undefined;
    });
    this.leadership = handle;
    return handle;
  }

  /** Who holds the engine lease (for diagnostics and tests). */
  async leader(): Promise<string | undefined> {
    const value = await this.call(() => this.client.get(this.keys.engineLeader).string());
    return value === null ? undefined : decodeLeader(value);
  }

  // ---------------------------------------------------------------- watches

  watch(topic: WatchTopic, listener: () => void): Disposable {
    this.ensureWatch();
    return this.watchers.onTopic(topic, listener);
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    this.ensureWatch();
    return this.watchers.onMachine(machineId, listener);
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.get(this.keys.reasons).exec());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.cancel().catch(err => this.log('debug', `cancelling the watch: ${describe(err)}`));
    for (const k of this.kept) await k.dispose(false);
    this.kept.clear();
    const leadership = this.leadership;
    this.leadership = undefined;
    // Closing gives up leadership without revoking: the lease expires after its TTL.
    leadership?.lease.release();
    leadership?.markLost();
    this.client.close();
  }

  // ---------------------------------------------------------------- internals

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryUnavailableError();
    try {
      return await fn();
    } catch (err) {
      throw mapError(err);
    }
  }

  /** Several prefixes read in one transaction (one revision). */
  private async ranges(prefixes: readonly string[]): Promise<Kv[]> {
    const res = await this.call(() =>
      this.client
        .if(this.keys.prefix, 'Version', '>', -1)
        .then(...prefixes.map(p => this.client.getAll().prefix(p)))
        .commit(),
    );
    return res.responses.flatMap(r => r.response_range?.kvs ?? []).map(toKv);
  }

  private async range(prefix: string): Promise<Kv[]> {
    const res = await this.call(() => this.client.getAll().prefix(prefix).exec());
    return res.kvs.map(toKv);
  }

  /**
   * Writes again, on a re-granted presence lease, the states and heartbeats the lost lease took
   * with it. A heartbeat is only restored while its unit still exists.
   */
  private async republishOnPresence(machineId: string, leaseId: string): Promise<void> {
    const written = this.onPresence.get(machineId);
    if (!written || written.size === 0) return;
    const states: [string, string][] = [];
    const heartbeats: [string, string, string][] = [];
    for (const [key, value] of written) {
      const k = this.keys.parse(key);
      if (k.kind === 'jobState') heartbeats.push([key, value, k.unit]);
      else states.push([key, value]);
    }
    for (let i = 0; i < states.length; i += MAX_BATCH_OPS) {
      const chunk = states.slice(i, i + MAX_BATCH_OPS);
      await this.call(() => this.client.if(this.keys.prefix, 'Version', '>', -1).then(...chunk.map(([k, v]) => this.client.put(k).value(v).lease(leaseId))).commit());
    }
    // A heartbeat is only restored while its unit still exists: a batch of them when every unit
    // does, else one by one.
    for (let i = 0; i < heartbeats.length; i += MAX_BATCH_OPS) {
      const chunk = heartbeats.slice(i, i + MAX_BATCH_OPS);
      const res = await this.call(() => {
        const txn = this.client.if(this.keys.jobObject(chunk[0]![2]), 'Create', '>', 0);
        for (const [, , unit] of chunk.slice(1)) txn.and(this.keys.jobObject(unit), 'Create', '>', 0);
        return txn.then(...chunk.map(([k, v]) => this.client.put(k).value(v).lease(leaseId))).commit();
      });
      if (res.succeeded) continue;
      for (const [key, value, unit] of chunk) {
        const one = await this.call(() => this.client.if(this.keys.jobObject(unit), 'Create', '>', 0).then(this.client.put(key).value(value).lease(leaseId)).commit());
        if (!one.succeeded) written.delete(key);
      }
    }
    this.log('info', `re-published ${written.size} unit state(s) and heartbeat(s) of machine ${machineId}`);
  }

  /**
   * A put on the machine's presence lease when it registered here, else on a shared short-lived
   * lease for this TTL; a lease etcd forgot is re-granted once.
   */
  private async putEphemeral(key: string, value: string, ttlMs: number, machineId: string): Promise<void> {
    const presence = this.presence.get(machineId);
    if (presence) {
      // Never on a short-lived lease instead: the key would expire while the agent, which writes
      // it again only on change, believes it published. A failure is the caller's to retry.
      const presenceLease = presence.leaseId;
      if (presenceLease === undefined) throw new RegistryUnavailableError(`the presence of machine ${machineId} is being re-granted; publishing again once it is back`);
      await this.call(() => this.client.put(key).value(value).lease(presenceLease).exec());
      let written = this.onPresence.get(machineId);
      if (!written) this.onPresence.set(machineId, (written = new Map()));
      written.set(key, value);
      return;
    }
    const ttl = ttlSeconds(ttlMs);
    for (let attempt = 0; ; attempt++) {
      const leaseId = await this.ephemeralLease(ttl);
      try {
        await this.call(() => this.client.put(key).value(value).lease(leaseId).exec());
        return;
      } catch (err) {
        this.ephemeral.delete(ttl);
        if (attempt >= 1) throw err;
      }
    }
  }

  private async ephemeralLease(ttl: number): Promise<string> {
    const cached = this.ephemeral.get(ttl);
    // Keys written on one lease expire together: reuse it only within a tenth of the TTL.
    if (cached && Date.now() - cached.grantedAt < Math.max(200, ttl * 100)) return cached.id;
    const lease = this.client.lease(ttl, { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    const id = await this.call(() => lease.grant());
    this.ephemeral.set(ttl, { id, grantedAt: Date.now() });
    return id;
  }

  private ensureWatch(): void {
    if (this.watcher || this.watchStarting || this.closed) return;
    this.watchStarting = this.startWatch().finally(() => (this.watchStarting = undefined));
  }

  private async startWatch(): Promise<void> {
    for (let delay = 250; !this.closed; delay = Math.min(delay * 2, 2_000)) {
      try {
        const revision = await this.reindex();
        const watcher = await this.client
          .watch()
          .prefix(this.keys.prefix)
          // No withPreviousKV(): the previous value comes from the mirror. With it, etcd reads
          // the previous revision of the key for every change and every watcher (ten machine
          // processes: ten reads per write, most of etcd's reads at a thousand units).
          .startRevision(String(revision + 1n))
          .create();
        if (this.closed) {
          await watcher.cancel();
          return;
        }
        this.watcher = watcher;
        const handle = (type: 'put' | 'delete', kv: IKeyValue) => {
          try {
            const event = toKv(kv);
            const previous = this.mirrored(event.key);
            this.onEvent(type, event, previous === undefined ? undefined : { key: event.key, value: previous }, BigInt(kv.mod_revision));
          } catch (err) {
            this.log('error', `etcd watch event ${type} ${kv.key.toString()} failed: ${describe(err)}`);
          }
        };
        watcher.on('put', kv => handle('put', kv));
        watcher.on('delete', kv => handle('delete', kv));
        watcher.on('disconnected', () => (this.needsResync = true));
        watcher.on('connected', () => {
          if (this.needsResync) void this.resync();
        });
        watcher.on('error', err => {
          this.log('warn', `etcd watch failed: ${describe(err)}`);
          this.needsResync = true;
        });
        // Writes between watch() and now were not seen as events: one hint to everyone covers them.
        this.watchers.notify(['units', 'schedule', 'machines', 'states'], this.watchers.machineIds);
        return;
      } catch (err) {
        this.log('debug', `etcd watch not started yet: ${describe(err)}`);
        await new Promise(r => setTimeout(r, delay).unref());
      }
    }
  }

  /** Jobs, states and machines in one transaction (one revision) into the index; returns that revision. */
  private async reindex(): Promise<bigint> {
    const res = await this.call(() =>
      this.client
        .if(this.keys.prefix, 'Version', '>', -1)
        .then(this.client.getAll().prefix(this.keys.jobs), this.client.getAll().prefix(this.keys.states), this.client.getAll().prefix(this.keys.machines))
        .commit(),
    );
    const revision = BigInt(res.header.revision);
    this.rebuildIndex(res.responses.flatMap(r => r.response_range?.kvs ?? []).map(toKv), revision);
    return revision;
  }

  /** After a reconnect: rebuild the index and wake everyone (events may have been missed). */
  private async resync(): Promise<void> {
    this.needsResync = false;
    try {
      await this.reindex();
    } catch (err) {
      this.needsResync = true;
      this.log('debug', `etcd resync failed: ${describe(err)}`);
    }
    this.watchers.notify(['units', 'schedule', 'machines', 'states'], this.watchers.machineIds);
  }

  private rebuildIndex(kvs: readonly Kv[], revision: bigint): void {
    const { targets, launched, global, stateMachines } = this.index;
    targets.clear();
    launched.clear();
    global.clear();
    stateMachines.clear();
    this.mirror.jobs.clear();
    this.mirror.states.clear();
    this.mirror.machines.clear();
    this.mirrorRevision = revision;
    for (const kv of kvs) {
      this.applyToIndex('put', kv);
      this.applyToMirror('put', kv);
    }
  }

  /** A key's value in the mirror (what a watch event's previous value would be). */
  private mirrored(key: string): string | undefined {
    const k = this.keys.parse(key);
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
      case 'target':
      case 'jobState':
        return this.mirror.jobs.get(key);
      case 'state':
        return this.mirror.states.get(key);
      case 'machineObject':
      case 'machineMetadata':
        return this.mirror.machines.get(k.machineId)?.get(key);
      default:
        return undefined;
    }
  }

  private applyToMirror(type: 'put' | 'delete', kv: Kv): void {
    const k = this.keys.parse(kv.key);
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
      case 'target':
      case 'jobState':
        if (type === 'put') this.mirror.jobs.set(kv.key, kv.value);
        else this.mirror.jobs.delete(kv.key);
        break;
      case 'state':
        if (type === 'put') this.mirror.states.set(kv.key, kv.value);
        else this.mirror.states.delete(kv.key);
        break;
      case 'machineObject':
      case 'machineMetadata': {
        let keys = this.mirror.machines.get(k.machineId);
        if (type === 'put') {
          if (!keys) this.mirror.machines.set(k.machineId, (keys = new Map()));
          keys.set(kv.key, kv.value);
        } else if (keys) {
          keys.delete(kv.key);
          if (keys.size === 0) this.mirror.machines.delete(k.machineId);
        }
        break;
      }
      default:
        break;
    }
  }

  private applyToIndex(type: 'put' | 'delete', kv: Kv): void {
    const k = this.keys.parse(kv.key);
    const { targets, launched, global, stateMachines } = this.index;
    switch (k.kind) {
      case 'target':
        if (type === 'put') targets.set(k.unit, kv.value);
        else targets.delete(k.unit);
        break;
      case 'jobState':
        if (type === 'put') launched.set(k.unit, kv.value);
        else launched.delete(k.unit);
        break;
      case 'jobObject': {
        const obj = type === 'put' ? decodeJobObject(kv.value) : undefined;
        if (obj && isGlobalUnit(obj.options)) global.add(k.unit);
        else global.delete(k.unit);
        break;
      }
      case 'state': {
        let set = stateMachines.get(k.unit);
        if (type === 'put') {
          if (!set) stateMachines.set(k.unit, (set = new Set()));
          set.add(k.machineId);
        } else if (set) {
          set.delete(k.machineId);
          if (set.size === 0) stateMachines.delete(k.unit);
        }
        break;
      }
      default:
        break;
    }
  }

  private concerned(unit: string): string[] {
    if (this.index.global.has(unit)) return this.watchers.machineIds;
    const out = new Set<string>();
    const target = this.index.targets.get(unit);
    if (target !== undefined) out.add(target);
    const launched = this.index.launched.get(unit);
    if (launched !== undefined) out.add(launched);
    for (const m of this.index.stateMachines.get(unit) ?? []) out.add(m);
    return [...out];
  }

  private onEvent(type: 'put' | 'delete', kv: Kv, previous: Kv | undefined, revision: bigint): void {
    if (this.closed) return;
    // Already in the mirror and the index when the read that rebuilt them was newer (a resync);
    // applying an older event again could undo a newer change. Watchers still get the hint.
    const fresh = revision > this.mirrorRevision;
    if (fresh) this.applyToMirror(type, kv);
    // A refresh that writes the same value (heartbeats, re-published states) changes nothing a
    // watcher could see: stay quiet, so agents' heartbeats do not keep waking the engine.
    if (type === 'put' && previous !== undefined && previous.value === kv.value) return;
    const k = this.keys.parse(kv.key);
    const topics: WatchTopic[] = [];
    const machines = new Set<string>();
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
        topics.push('units');
        for (const m of this.concerned(k.unit)) machines.add(m);
        if (fresh) this.applyToIndex(type, kv);
        for (const m of this.concerned(k.unit)) machines.add(m);
        break;
      case 'target':
        topics.push('schedule');
        if (previous?.value) machines.add(previous.value);
        for (const m of this.concerned(k.unit)) machines.add(m);
        if (fresh) this.applyToIndex(type, kv);
        if (type === 'put') machines.add(kv.value);
        break;
      case 'jobState':
        topics.push('schedule');
        if (fresh) this.applyToIndex(type, kv);
        break;
      case 'state':
        topics.push('states');
        if (fresh) this.applyToIndex(type, kv);
        break;
      case 'machineObject':
        // Our own machine's key went away while we still hold it (its lease expired under
        // load): re-grant and re-publish now, not at the next keepalive (up to TTL/3 later).
        if (type === 'delete' && fresh) this.presence.get(k.machineId)?.renewNow('its machine key was deleted');
        topics.push('machines');
        machines.add(k.machineId);
        break;
      case 'machineMetadata':
        topics.push('machines');
        machines.add(k.machineId);
        break;
      default:
        return;
    }
    this.watchers.notify(topics, machines);
  }
}

function viewOf(machineId: string, units: UnitRecord[], schedule: Map<string, ScheduleEntry>, machine: MachineRecord | undefined): MachineView {
  const mine = units.filter(u => schedule.get(u.name)?.machineId === machineId || isGlobalUnit(u.options));
  const entries = new Map<string, ScheduleEntry>();
  for (const u of mine) {
    const entry = schedule.get(u.name);
    if (entry) entries.set(u.name, entry);
  }
  return { units: mine, schedule: entries, machine };
}

/** `fn` over `items`, at most `limit` at a time; results in order. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function toKv(kv: IKeyValue): Kv {
  return { key: kv.key.toString(), value: kv.value.toString() };
}
