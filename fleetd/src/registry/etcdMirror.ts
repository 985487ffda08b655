/**
 * The watch-fed mirror of EtcdRegistry: one etcd watcher over the prefix keeps a copy of the job,
 * state and machine keys (an informer cache, as Kubernetes controllers keep) and an index of
 * targets, launched heartbeats, global units and state holders, so that
 *  - machineView serves an agent's pass from memory (no etcd read); without a live watch
 *    (starting, reconnecting) it reads etcd instead;
 *  - watch/watchMachine hints reach only the machines a change concerns. The mirror lags etcd
 *    by the watch delay; every change it has not reflected yet is followed by a watchMachine
 *    hint once it has. After a reconnect every watcher gets a hint (events may have been missed).
 *
 * The watch covers job/, lease/ and machines/, and states/ and fleetd/reasons only while someone
 * watches the states or reasons topic (the API's change feed): a machine process does not decode
 * every other machine's unit states, nor anyone the unit blobs (watchRange). The mirror holds
 * every key of the range and knows the revision it is at, which is what the API's list reads
 * from it wait for (etcdMirrorReads.ts); its maps are etcdMirrorContents.ts. After a reconnect it is
 * rebuilt from one read, and the events the watch delivered while that read was under way are
 * applied again on top when etcd committed them after it. Without states, a job change wakes the
 * machines it targets or that run the unit, not those that merely still report a state of it
 * (their next periodic pass sees it).
 */
import type { IKeyValue, Watcher } from 'etcd3';
import type { ParsedKey } from '../../../registry/src/keyspace';
import { isGlobalUnit } from '../../../unitfile/src';
import {
  ALL_TOPICS,
  RegistryUnavailableError,
  type ClusterSnapshot,
  type Disposable,
  type MachineRecord,
  type MachineView,
  type ScheduleEntry,
  type UnitRecord,
  type WatchTopic,
} from '../../../registry/src/registry';
import { Watchers } from '../../../registry/src/common';
import { describeError } from '../../../protocol/src/log';
import { toKv, type EtcdAccess } from './etcdAccess';
import { decode, JobObjectCache, watchRange, type Kv } from './keys';
import { RoutingIndex } from './etcdRoutingIndex';
import { MirrorMaps, type MirrorContents } from './etcdMirrorContents';

/** Units, schedule and machines from one transaction: one revision, without the unit blobs. */
export async function readSnapshot(etcd: EtcdAccess): Promise<ClusterSnapshot> {
  const { units, schedule, machines } = decode(etcd.keys, await etcd.ranges([etcd.keys.jobs, etcd.keys.machines]));
  return { units, schedule, machines };
}

/** A watch event as the mirror applied it. */
interface AppliedEvent {
  type: 'put' | 'delete';
  key: ParsedKey;
  kv: Kv;
  revision: bigint;
}

/** The topics whose keys only the watch with states covers (watchRange): the states, and fleetd's reasons beside them. */
const WIDE_TOPICS: readonly WatchTopic[] = ['states', 'reasons'];

export class EtcdMirror {
  private readonly watchers = new Watchers();
  private watcher: Watcher | undefined;
  private watchStarting: Promise<void> | undefined;
  private needsResync = false;
  /** A resync's read is under way: until it lands, events missed while disconnected may be missing from the mirror. */
  private resyncing = false;
  /**
   * The events applied while a rebuilding read is under way (reindex). The live watch goes on
   * delivering during the read, and an event can arrive before the read's answer although etcd
   * committed it after the read: the rebuild would drop it (and nothing would bring it back until
   * its key changed again), so the events newer than the read are applied again after it.
   */
  private appliedDuringRead: AppliedEvent[] | undefined;
  /** The live (or starting) watch covers states/ (and the mirror and the index hold the states). */
  private watchingStates = false;
  /** Events and watch responses received (for tests and benchmarks: what the watch costs). */
  readonly received = { events: 0, responses: 0 };
  /**
   * The mirror: every key of the watch's range (value by key): the job/ and states/ keys, every
   * machine's keys (by machine ID), and the rest (the engine lease, fleetd's reasons) in `others`,
   * as of `mirrorRevision` plus the events applied since. Events at or below the revision of the
   * read that rebuilt it are already in it (and skipped).
   */
  private readonly mirror = new MirrorMaps();
  private mirrorRevision = 0n;
  /** The mirror equals etcd's keys in the watch's range at this revision (the rebuild's, or the last event applied). */
  private appliedRevision = 0n;
  /** Reads waiting for the mirror to move (etcdMirrorReads.ts). */
  private readonly progressWaiters = new Set<() => void>();
  /** The watch index: what watchMachine needs to route an event. */
  private readonly index = new RoutingIndex();
  /** Per machine, its units' job objects as machineView last decoded them (an agent's pass decodes only what changed). */
  private readonly viewObjects = new Map<string, JobObjectCache>();

  /**
   * Whether the mirror follows etcd now: a live watch, not reconnecting. `withStates`: it also
   * holds the states and fleetd's reasons (the watch covers them).
   */
  get live(): { withStates: boolean } | undefined {
    return this.watcher && !this.needsResync && !this.resyncing && !this.etcd.closed ? { withStates: this.watchingStates } : undefined;
  }

  /** The revision the mirror is at (see appliedRevision). */
  get revision(): bigint {
    return this.appliedRevision;
  }

  /** What the mirror holds, to build lists from (etcdMirrorReads.ts); callers only read it. */
  get contents(): Readonly<MirrorContents> {
    return this.mirror;
  }

  /** How many keys the mirror holds: as many as etcd has in the watch's range at `revision` (when live). */
  get keyCount(): number {
    return this.mirror.keyCount;
  }

  /** Resolves once the mirror is at `revision` or later, the watch stopped, or after `ms`. */
  waitFor(revision: bigint, ms: number): Promise<void> {
    if (this.appliedRevision >= revision || !this.live) return Promise.resolve();
    return new Promise(resolve => {
      const wake = () => {
        if (this.appliedRevision < revision && this.live) return;
        clearTimeout(timer);
        this.progressWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.progressWaiters.delete(wake);
        resolve();
      }, ms);
      this.progressWaiters.add(wake);
    });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.progressWaiters]) wake();
  }

  /** `onMachineKeyDeleted`: a machine's key was deleted in etcd (its presence may have to be re-granted at once). */
  constructor(
    private readonly etcd: EtcdAccess,
    private readonly onMachineKeyDeleted: (machineId: string) => void,
  ) {}

  async machineView(machineId: string): Promise<MachineView> {
    if (this.etcd.closed) throw new RegistryUnavailableError();
    this.ensureWatch();
    // No live watch (starting, reconnecting, or its resync's read not in yet, when the mirror may
    // still lack what changed while it was disconnected): read everything, as fleet does.
    const { units, schedule, machines } = this.live ? this.mirroredView(machineId) : await readSnapshot(this.etcd);
    return viewOf(
      machineId,
      units,
      schedule,
      machines.find(m => m.id === machineId),
    );
  }

  /** From the mirror: the units scheduled to `machineId` (the index says which), the global units, and the machine's keys. */
  private mirroredView(machineId: string): ClusterSnapshot {
    const names = new Set(this.index.global);
    for (const unit of this.index.byMachine.get(machineId) ?? []) names.add(unit);
    const kvs: Kv[] = [];
    for (const name of names) {
      for (const key of [this.etcd.keys.jobObject(name), this.etcd.keys.targetState(name), this.etcd.keys.target(name), this.etcd.keys.jobState(name)]) {
        const value = this.mirror.jobs.get(key);
        if (value !== undefined) kvs.push({ key, value });
      }
    }
    for (const [key, value] of this.mirror.machines.get(machineId) ?? []) kvs.push({ key, value });
    let objects = this.viewObjects.get(machineId);
    if (!objects) this.viewObjects.set(machineId, (objects = new JobObjectCache()));
    const { units, schedule, machines } = decode(this.etcd.keys, kvs, objects);
    objects.sweep();
    return { units, schedule, machines };
  }

  watch(topic: WatchTopic, listener: () => void): Disposable {
    const subscription = this.watchers.onTopic(topic, listener);
    // The first states (or reasons) listener of a watch that leaves states/ out: watch again, with them.
    if (WIDE_TOPICS.includes(topic) && this.watcher && !this.watchingStates) void this.rewatch();
    this.ensureWatch();
    return subscription;
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    const subscription = this.watchers.onMachine(machineId, listener);
    this.ensureWatch();
    return subscription;
  }

  /** Someone listens to a topic only the wider range covers (states/ and fleetd/reasons). */
  private wantsStates(): boolean {
    return WIDE_TOPICS.some(t => this.watchers.hasTopic(t));
  }

  private ensureWatch(): void {
    if (this.watcher || this.watchStarting || this.etcd.closed) return;
    this.watchStarting = this.startWatch().finally(() => (this.watchStarting = undefined));
  }

  /** Stops the live watch and starts one over the range the listeners now need. */
  private async rewatch(): Promise<void> {
    const old = this.watcher;
    if (!old) return;
    this.watcher = undefined;
    this.wakeWaiters();
    old.removeAllListeners();
    old.on('error', () => undefined);
    await old.cancel().catch(err => this.etcd.log('debug', `cancelling the watch: ${describeError(err)}`));
    this.ensureWatch();
  }

  private async startWatch(): Promise<void> {
    // Subscriptions made in the same turn (the API subscribes to every topic at once) decide the range together.
    await Promise.resolve();
    for (let delay = 250; !this.etcd.closed; delay = Math.min(delay * 2, 2_000)) {
      try {
        const withStates = this.wantsStates();
        const revision = await this.reindex(withStates);
        const range = watchRange(this.etcd.keys, withStates);
        const watcher = await this.etcd.client
          .watch()
          .inRange(range)
          // No withPreviousKV(): the previous value comes from the mirror. With it, etcd reads
          // the previous revision of the key for every change and every watcher (ten machine
          // processes: ten reads per write, most of etcd's reads at a thousand units).
          .startRevision(String(revision + 1n))
          .create();
        if (this.etcd.closed) {
          await watcher.cancel();
          return;
        }
        this.watcher = watcher;
        this.watchingStates = withStates;
        const handle = (type: 'put' | 'delete', kv: IKeyValue) => {
          try {
            this.received.events++;
            const event = toKv(kv);
            const key = this.etcd.keys.parse(event.key);
            const previous = this.mirror.get(key, event.key);
            this.onEvent(type, key, event, previous === undefined ? undefined : { key: event.key, value: previous }, BigInt(kv.mod_revision));
          } catch (err) {
            this.etcd.log('error', `etcd watch event ${type} ${kv.key.toString()} failed: ${describeError(err)}`);
          }
        };
        watcher.on('data', () => this.received.responses++);
        watcher.on('put', kv => handle('put', kv));
        watcher.on('delete', kv => handle('delete', kv));
        watcher.on('disconnected', () => {
          this.needsResync = true;
          this.wakeWaiters();
        });
        watcher.on('connected', () => {
          if (this.needsResync) void this.resync();
        });
        watcher.on('error', err => {
          this.etcd.log('warn', `etcd watch failed: ${describeError(err)}`);
          this.needsResync = true;
          this.wakeWaiters();
        });
        // Writes between watch() and now were not seen as events: one hint to everyone covers them.
        this.watchers.notify(ALL_TOPICS, this.watchers.machineIds);
        // A states listener that came while this watch was being set up without them.
        if (!withStates && this.wantsStates()) void this.rewatch();
        return;
      } catch (err) {
        this.etcd.log('debug', `etcd watch not started yet: ${describeError(err)}`);
        await new Promise(r => setTimeout(r, delay).unref());
      }
    }
  }

  /** The watch's range (`withStates`: with the states and reasons) in one read (one revision) into the mirror and the index; returns that revision. */
  private async reindex(withStates = this.watchingStates): Promise<bigint> {
    const range = watchRange(this.etcd.keys, withStates);
    const during: AppliedEvent[] = [];
    this.appliedDuringRead = during;
    let res;
    try {
      res = await this.etcd.call(() => this.etcd.client.getAll().inRange(range).exec());
    } finally {
      if (this.appliedDuringRead === during) this.appliedDuringRead = undefined;
    }
    const revision = BigInt(res.header.revision);
    this.rebuildIndex(res.kvs.map(toKv), revision);
    // What the watch delivered meanwhile that etcd committed after the read: not in the snapshot.
    for (const e of during) {
      if (e.revision <= revision) continue;
      this.mirror.apply(e.type, e.key, e.kv);
      this.index.apply(e.type, e.key, e.kv);
      if (e.revision > this.appliedRevision) this.appliedRevision = e.revision;
    }
    // The watch delivers in revision order, so every event up to the last one re-applied is in
    // the mirror now: a repeat of one of them must not undo a newer change.
    this.mirrorRevision = this.appliedRevision;
    if (during.length > 0) this.wakeWaiters();
    return revision;
  }

  /** After a reconnect: rebuild the index and wake everyone (events may have been missed). */
  private async resync(): Promise<void> {
    this.needsResync = false;
    this.resyncing = true;
    try {
      await this.reindex();
    } catch (err) {
      this.needsResync = true;
      this.etcd.log('debug', `etcd resync failed: ${describeError(err)}`);
    } finally {
      this.resyncing = false;
    }
    this.watchers.notify(ALL_TOPICS, this.watchers.machineIds);
  }

  private rebuildIndex(kvs: readonly Kv[], revision: bigint): void {
    this.index.clear();
    this.mirror.clear();
    this.mirrorRevision = revision;
    this.appliedRevision = revision;
    for (const kv of kvs) {
      const key = this.etcd.keys.parse(kv.key);
      this.index.apply('put', key, kv);
      this.mirror.apply('put', key, kv);
    }
    this.wakeWaiters();
  }

  private concerned(unit: string): string[] {
    return this.index.concerned(unit, this.watchers.machineIds);
  }

  private onEvent(type: 'put' | 'delete', k: ParsedKey, kv: Kv, previous: Kv | undefined, revision: bigint): void {
    if (this.etcd.closed) return;
    // Already in the mirror and the index when the read that rebuilt them was newer (a resync);
    // applying an older event again could undo a newer change. Watchers still get the hint.
    const fresh = revision > this.mirrorRevision;
    if (fresh) {
      this.appliedDuringRead?.push({ type, key: k, kv, revision });
      this.mirror.apply(type, k, kv);
      if (revision > this.appliedRevision) this.appliedRevision = revision;
      // Waiting reads resume after this response's other events (same revision) are applied too.
      this.wakeWaiters();
    }
    // A refresh that writes the same value (heartbeats, re-published states) changes nothing a
    // watcher could see: stay quiet, so agents' heartbeats do not keep waking the engine.
    if (type === 'put' && previous !== undefined && previous.value === kv.value) return;
    const topics: WatchTopic[] = [];
    const machines = new Set<string>();
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
        topics.push('units');
        for (const m of this.concerned(k.unit)) machines.add(m);
        if (fresh) this.index.apply(type, k, kv);
        for (const m of this.concerned(k.unit)) machines.add(m);
        break;
      case 'target':
        topics.push('schedule');
        if (previous?.value) machines.add(previous.value);
        for (const m of this.concerned(k.unit)) machines.add(m);
        if (fresh) this.index.apply(type, k, kv);
        if (type === 'put') machines.add(kv.value);
        break;
      case 'jobState':
        topics.push('schedule');
        if (fresh) this.index.apply(type, k, kv);
        break;
      case 'state':
        topics.push('states');
        if (fresh) this.index.apply(type, k, kv);
        break;
      case 'machineObject':
        // Our own machine's key went away while we still hold it (its lease expired under
        // load): re-grant and re-publish now, not at the next keepalive (up to TTL/3 later).
        if (type === 'delete' && fresh) this.onMachineKeyDeleted(k.machineId);
        topics.push('machines');
        machines.add(k.machineId);
        break;
      case 'machineMetadata':
        topics.push('machines');
        machines.add(k.machineId);
        break;
      case 'reasons':
        topics.push('reasons');
        break;
      default:
        return;
    }
    this.watchers.notify(topics, machines);
  }

  /** Stops the watch and forgets the listeners (the registry is closing; `etcd.closed` is set). */
  async close(): Promise<void> {
    this.watchers.clear();
    const watcher = this.watcher;
    this.watcher = undefined;
    this.wakeWaiters();
    await watcher?.cancel().catch(err => this.etcd.log('debug', `cancelling the watch: ${describeError(err)}`));
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
