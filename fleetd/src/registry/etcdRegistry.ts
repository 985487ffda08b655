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
 *  - watch/watchMachine run one watcher over job/ through machines/ (and states/ while someone
 *    watches the states or reasons topic), with an index of targets and global units so that a
 *    change wakes only the machines it concerns. After a reconnect every watcher gets a hint (events may have
 *    been missed).
 *  - New units submitted at once go out as one transaction (etcdCreates.ts).
 *  - The API's list reads (units, schedule, machines, reasons, and states while the mirror holds
 *    them) come from the mirror once it has caught up with etcd's revision at the time of the
 *    read (etcdMirrorReads.ts: one small request, then memory); without a live watch, or when it
 *    does not catch up in time, they read etcd directly.
 *
 * The parts: etcdAccess.ts (calls, reads, error mapping), etcdMirror.ts (the watch, the mirror
 * and the routing index (etcdRoutingIndex.ts): machineView, watch, watchMachine; its responses
 * decoded by etcdWatchDecoder.ts), etcdMirrorReads.ts
 * (the list reads from the mirror), etcdLeases.ts (presence, the writes
 * on it, the engine lease), etcdUnits.ts (with etcdCreates.ts) and etcdSchedule.ts (the units
 * and schedule resources);
 * this class puts them together and keeps machines and unit states.
 */
import { Etcd3 } from 'etcd3';
import { ExponentialBackoff, noop } from 'cockatiel';
import type { UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import type {
  ClusterSnapshot,
  Disposable,
  Leadership,
  MachinePresence,
  MachineRecord,
  MachineView,
  Registry,
  ScheduleChange,
  ScheduleEntry,
  UnitRecord,
  UnitStateRecord,
  WatchTopic,
} from '../../../registry/src/registry';
import { describeError } from '../../../protocol/src/log';
import { EtcdAccess, type RegistryLog } from './etcdAccess';
import { EngineLease, PresenceLeases } from './etcdLeases';
import { EtcdMirror, readSnapshot } from './etcdMirror';
import { MirrorReads } from './etcdMirrorReads';
import { EtcdSchedule } from './etcdSchedule';
import { EtcdUnits } from './etcdUnits';
import { installFastWatchDecoder } from './etcdWatchDecoder';
import { DEFAULT_PREFIX, Keys, decode, encodeUnitState } from './keys';

export type { RegistryLog } from './etcdAccess';

export interface EtcdRegistryOptions {
  /** `host:port` or `http://host:port`. */
  endpoints: string[];
  /** Key prefix; default fleet's `/_coreos.com/fleet/`. */
  prefix?: string;
  /** Deadline of each unary etcd call; default 5 s. */
  callTimeoutMs?: number;
  /** etcd's --max-request-bytes: writes larger than this are refused before they are sent. Default etcd's 1.5 MiB. */
  maxRequestBytes?: number;
  /** The longest a list read waits for the watch-fed mirror before it reads etcd directly; default 1.5 s (etcdMirrorReads.ts). */
  consistentReadBudgetMs?: number;
  log?: RegistryLog;
}

/** etcd's default --max-request-bytes. */
export const ETCD_DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

export class EtcdRegistry implements Registry {
  /** See AgentRegistry.ephemeralFollowsPresence. */
  readonly ephemeralFollowsPresence = true;
  private readonly presence: PresenceLeases;
  private readonly engineLease: EngineLease;
  private readonly mirror: EtcdMirror;
  private readonly units: EtcdUnits;
  private readonly schedule: EtcdSchedule;
  private readonly reads: MirrorReads;

  private constructor(
    private readonly etcd: EtcdAccess,
    readonly maxRequestBytes: number,
    consistentReadBudgetMs?: number,
  ) {
    this.presence = new PresenceLeases(etcd);
    this.engineLease = new EngineLease(etcd);
    // Our own machine's key went away while we still hold it (its lease expired under load):
    // re-grant and re-publish now, not at the next keepalive (up to TTL/3 later).
    this.mirror = new EtcdMirror(etcd, machineId => this.presence.renewNow(machineId, 'its machine key was deleted'));
    this.schedule = new EtcdSchedule(etcd, this.presence);
    this.units = new EtcdUnits(etcd, maxRequestBytes, () => this.schedule.getUnitReasons());
    this.reads = new MirrorReads(etcd, this.mirror, consistentReadBudgetMs);
  }

  /**
   * Creates the client. It does not wait for etcd: while etcd is unreachable every call rejects
   * with RegistryUnavailableError (the API answers 503) and the client keeps reconnecting.
   */
  static async connect(options: EtcdRegistryOptions): Promise<EtcdRegistry> {
    if (options.endpoints.length === 0) throw new Error('EtcdRegistry: no etcd endpoints given (expected e.g. http://127.0.0.1:2379)');
    for (const e of options.endpoints) {
      if (/^unix:\/\/\/./.test(e)) continue; // a unix socket (the private etcd of `fleetd local`)
      if (/^https:\/\//i.test(e))
        throw new Error(`EtcdRegistry: ${e}: TLS to etcd is not supported; use an http:// endpoint on a trusted network (e.g. through an SSH tunnel)`);
      if (!/^(https?:\/\/)?[^/\s]+:\d+\/?$/i.test(e))
        throw new Error(`EtcdRegistry: ${JSON.stringify(e)} is not an etcd endpoint (expected host:port or http://host:port)`);
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
    const registry = new EtcdRegistry(
      new EtcdAccess(client, new Keys(options.prefix ?? DEFAULT_PREFIX), options.log ?? (() => {})),
      options.maxRequestBytes ?? ETCD_DEFAULT_MAX_REQUEST_BYTES,
      options.consistentReadBudgetMs,
    );
    // The watch's responses decoded in one pass (etcdWatchDecoder.ts); etcd3's own decoder otherwise.
    const notInstalled = installFastWatchDecoder(client);
    if (notInstalled) registry.etcd.log('debug', `etcd watch responses are decoded by etcd3 (${notInstalled})`);
    try {
      await registry.ping();
    } catch (err) {
      registry.etcd.log('warn', `etcd at ${options.endpoints.join(',')} is not reachable yet: ${describeError(err)}`);
    }
    return registry;
  }

  get prefix(): string {
    return this.etcd.keys.prefix;
  }

  // ---------------------------------------------------------------- units (etcdUnits.ts)

  getUnit(name: string): Promise<UnitRecord | undefined> {
    return this.units.getUnit(name);
  }

  unitDetail(
    name: string,
  ): Promise<{ unit: UnitRecord; schedule: Map<string, ScheduleEntry>; states: UnitStateRecord[]; reasons: Map<string, string> } | undefined> {
    return this.units.unitDetail(name);
  }

  async listUnits(): Promise<UnitRecord[]> {
    const lists = await this.reads.read();
    return lists ? [...lists.units] : this.units.listUnits();
  }

  putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    return this.units.putUnit(unit);
  }

  createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    return this.units.createUnit(unit);
  }

  setDesiredState(name: string, state: JobState): Promise<boolean> {
    return this.units.setDesiredState(name, state);
  }

  deleteUnit(name: string): Promise<boolean> {
    return this.units.deleteUnit(name);
  }

  // ---------------------------------------------------------------- schedule and reasons (etcdSchedule.ts)

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    const lists = await this.reads.read();
    return lists ? new Map(lists.schedule) : this.schedule.getSchedule();
  }

  applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    return this.schedule.applySchedule(changes);
  }

  clearLaunched(name: string, machineId: string): Promise<void> {
    return this.schedule.clearLaunched(name, machineId);
  }

  setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    return this.schedule.setUnitReasons(reasons);
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    const lists = await this.reads.read();
    return lists ? new Map(lists.reasons) : this.schedule.getUnitReasons();
  }

  // ---------------------------------------------------------------- machines

  registerMachine(machine: MachineRecord, ttlMs: number): Promise<MachinePresence> {
    return this.presence.register(machine, ttlMs);
  }

  async listMachines(): Promise<MachineRecord[]> {
    const lists = await this.reads.read();
    if (lists) return [...lists.machines];
    return decode(this.etcd.keys, await this.etcd.range(this.etcd.keys.machines)).machines;
  }

  async patchMachineMetadata(ops: readonly { machineId: string; key: string; value: string }[]): Promise<void> {
    if (ops.length === 0) return;
    await this.etcd.call(() =>
      this.etcd.client
        .if(this.etcd.keys.machines, 'Version', '>', -1)
        .then(...ops.map(op => this.etcd.client.put(this.etcd.keys.machineMetadata(op.machineId, op.key)).value(op.value)))
        .commit(),
    );
  }

  // ---------------------------------------------------------------- unit states

  async publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    const { keys } = this.etcd;
    const writes: [string, string][] = [];
    for (const st of batch.states) {
      if (st.machineId !== machineId) throw new Error(`publishUnits: the state of ${st.name} belongs to machine ${st.machineId}, not ${machineId}`);
      writes.push([keys.state(st.name, machineId), encodeUnitState(st)]);
    }
    // States first: a unit's heartbeat is never written before its state (same or later transaction).
    for (const name of batch.launched) writes.push([keys.jobState(name), machineId]);
    if (writes.length === 0) return;
    await this.presence.publish(machineId, writes, ttlMs);
  }

  async removeUnitState(name: string, machineId: string): Promise<void> {
    const key = this.etcd.keys.state(name, machineId);
    this.presence.forget(machineId, key);
    await this.etcd.call(() => this.etcd.client.delete().key(key).exec());
  }

  async listUnitStates(): Promise<UnitStateRecord[]> {
    const states = (await this.reads.read())?.states;
    if (states) return [...states];
    return decode(this.etcd.keys, await this.etcd.range(this.etcd.keys.states)).states;
  }

  // ---------------------------------------------------------------- snapshot, leadership, watches

  /**
   * Units, schedule and machines as of one revision, without the unit blobs: from the mirror once
   * it has caught up with etcd (the engine's pass then costs one small request, not a read of
   * every job object per pass), else from one transaction.
   */
  async snapshot(): Promise<ClusterSnapshot> {
    const lists = await this.reads.read();
    if (lists) return { units: [...lists.units], schedule: new Map(lists.schedule), machines: [...lists.machines] };
    return readSnapshot(this.etcd);
  }

  /** From the mirror etcdMirror.ts keeps (see EtcdMirror.machineView). */
  machineView(machineId: string): Promise<MachineView> {
    return this.mirror.machineView(machineId);
  }

  tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    return this.engineLease.tryAcquire(machineId, ttlMs);
  }

  /** Who holds the engine lease (for diagnostics and tests). */
  leader(): Promise<string | undefined> {
    return this.engineLease.leader();
  }

  watch(topic: WatchTopic, listener: () => void): Disposable {
    return this.mirror.watch(topic, listener);
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    return this.mirror.watchMachine(machineId, listener);
  }

  /** How list reads were served so far: from the mirror (`checked`: after a range check), or by direct reads (for tests and benchmarks). */
  get listReads(): { mirror: number; checked: number; direct: number } {
    return { ...this.reads.served };
  }

  /** Watch events and responses this registry received so far (what its watch costs; for tests and benchmarks). */
  get watchReceived(): { events: number; responses: number } {
    return { ...this.mirror.received };
  }

  async ping(): Promise<void> {
    await this.etcd.call(() => this.etcd.client.get(this.etcd.keys.reasons).exec());
  }

  async close(): Promise<void> {
    if (this.etcd.closed) return;
    this.etcd.closed = true;
    await this.mirror.close();
    await this.presence.close();
    // Closing gives up leadership without revoking: the lease expires after its TTL.
    this.engineLease.close();
    this.etcd.client.close();
  }
}
