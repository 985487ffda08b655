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
 * The watch covers job/, lease/ and machines/, and states/ only while someone watches the states
 * topic (the API's change feed): a machine process does not decode every other machine's unit
 * states, nor anyone the unit blobs (watchRange). Without states, a job change wakes the
 * machines it targets or that run the unit, not those that merely still report a state of it
 * (their next periodic pass sees it).
 */
import type { IKeyValue, Watcher } from 'etcd3';
import type { ParsedKey } from '../../../registry/src/keyspace';
import { isGlobalUnit } from '../../../unitfile/src';
import {
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
import { decode, decodeJobObject, mayBeGlobal, watchRange, type Kv } from './keys';

/** Units, schedule and machines from one transaction: one revision, without the unit blobs. */
export async function readSnapshot(etcd: EtcdAccess): Promise<ClusterSnapshot> {
  const { units, schedule, machines } = decode(etcd.keys, await etcd.ranges([etcd.keys.jobs, etcd.keys.machines]));
  return { units, schedule, machines };
}

export class EtcdMirror {
  private readonly watchers = new Watchers();
  private watcher: Watcher | undefined;
  private watchStarting: Promise<void> | undefined;
  private needsResync = false;
  /** The live (or starting) watch covers states/ (and the mirror and the index hold the states). */
  private watchingStates = false;
  /** Events and watch responses received (for tests and benchmarks: what the watch costs). */
  readonly received = { events: 0, responses: 0 };
  /**
   * The mirror: every job/ and states/ key (value by key) and every machine's keys (by machine
   * ID), as of `mirrorRevision` plus the events applied since. Events at or below the revision of
   * the read that rebuilt it are already in it (and skipped).
   */
  private readonly mirror = { jobs: new Map<string, string>(), states: new Map<string, string>(), machines: new Map<string, Map<string, string>>() };
  private mirrorRevision = 0n;
  /** The watch index: what watchMachine needs to route an event. */
  private readonly index = {
    targets: new Map<string, string>(),
    /** The units targeted at each machine (targets, inverted). */
    byMachine: new Map<string, Set<string>>(),
    launched: new Map<string, string>(),
    global: new Set<string>(),
    stateMachines: new Map<string, Set<string>>(),
  };

  /** `onMachineKeyDeleted`: a machine's key was deleted in etcd (its presence may have to be re-granted at once). */
  constructor(
    private readonly etcd: EtcdAccess,
    private readonly onMachineKeyDeleted: (machineId: string) => void,
  ) {}

  async machineView(machineId: string): Promise<MachineView> {
    if (this.etcd.closed) throw new RegistryUnavailableError();
    this.ensureWatch();
    if (!this.watcher || this.needsResync) {
      // No live watch (starting, or reconnecting): read everything, as fleet does.
      const { units, schedule, machines } = await readSnapshot(this.etcd);
      return viewOf(
        machineId,
        units,
        schedule,
        machines.find(m => m.id === machineId),
      );
    }
    // From the mirror: the units scheduled here (the index says which) and the global units.
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
    const { units, schedule, machines } = decode(this.etcd.keys, kvs);
    return viewOf(
      machineId,
      units,
      schedule,
      machines.find(m => m.id === machineId),
    );
  }

  watch(topic: WatchTopic, listener: () => void): Disposable {
    const subscription = this.watchers.onTopic(topic, listener);
    // The first states listener of a watch that leaves states/ out: watch again, with them.
    if (topic === 'states' && this.watcher && !this.watchingStates) void this.rewatch();
    this.ensureWatch();
    return subscription;
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    const subscription = this.watchers.onMachine(machineId, listener);
    this.ensureWatch();
    return subscription;
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
        const withStates = this.watchers.hasTopic('states');
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
            const previous = this.mirrored(key, event.key);
            this.onEvent(type, key, event, previous === undefined ? undefined : { key: event.key, value: previous }, BigInt(kv.mod_revision));
          } catch (err) {
            this.etcd.log('error', `etcd watch event ${type} ${kv.key.toString()} failed: ${describeError(err)}`);
          }
        };
        watcher.on('data', () => this.received.responses++);
        watcher.on('put', kv => handle('put', kv));
        watcher.on('delete', kv => handle('delete', kv));
        watcher.on('disconnected', () => (this.needsResync = true));
        watcher.on('connected', () => {
          if (this.needsResync) void this.resync();
        });
        watcher.on('error', err => {
          this.etcd.log('warn', `etcd watch failed: ${describeError(err)}`);
          this.needsResync = true;
        });
        // Writes between watch() and now were not seen as events: one hint to everyone covers them.
        this.watchers.notify(['units', 'schedule', 'machines', 'states'], this.watchers.machineIds);
        // A states listener that came while this watch was being set up without them.
        if (!withStates && this.watchers.hasTopic('states')) void this.rewatch();
        return;
      } catch (err) {
        this.etcd.log('debug', `etcd watch not started yet: ${describeError(err)}`);
        await new Promise(r => setTimeout(r, delay).unref());
      }
    }
  }

  /** Jobs, machines and (`withStates`) states in one transaction (one revision) into the index; returns that revision. */
  private async reindex(withStates = this.watchingStates): Promise<bigint> {
    const { keys } = this.etcd;
    const prefixes = withStates ? [keys.jobs, keys.states, keys.machines] : [keys.jobs, keys.machines];
    const res = await this.etcd.call(() =>
      this.etcd.client
        .if(keys.prefix, 'Version', '>', -1)
        .then(...prefixes.map(p => this.etcd.client.getAll().prefix(p)))
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
      this.etcd.log('debug', `etcd resync failed: ${describeError(err)}`);
    }
    this.watchers.notify(['units', 'schedule', 'machines', 'states'], this.watchers.machineIds);
  }

  private rebuildIndex(kvs: readonly Kv[], revision: bigint): void {
    const { targets, byMachine, launched, global, stateMachines } = this.index;
    targets.clear();
    byMachine.clear();
    launched.clear();
    global.clear();
    stateMachines.clear();
    this.mirror.jobs.clear();
    this.mirror.states.clear();
    this.mirror.machines.clear();
    this.mirrorRevision = revision;
    for (const kv of kvs) {
      const key = this.etcd.keys.parse(kv.key);
      this.applyToIndex('put', key, kv);
      this.applyToMirror('put', key, kv);
    }
  }

  /** A key's value in the mirror (what a watch event's previous value would be). */
  private mirrored(k: ParsedKey, key: string): string | undefined {
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

  private applyToMirror(type: 'put' | 'delete', k: ParsedKey, kv: Kv): void {
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

  private applyToIndex(type: 'put' | 'delete', k: ParsedKey, kv: Kv): void {
    const { targets, byMachine, launched, global, stateMachines } = this.index;
    switch (k.kind) {
      case 'target': {
        const before = targets.get(k.unit);
        if (before !== undefined) {
          const set = byMachine.get(before);
          set?.delete(k.unit);
          if (set?.size === 0) byMachine.delete(before);
        }
        if (type === 'put') {
          targets.set(k.unit, kv.value);
          let set = byMachine.get(kv.value);
          if (!set) byMachine.set(kv.value, (set = new Set()));
          set.add(k.unit);
        } else targets.delete(k.unit);
        break;
      }
      case 'jobState':
        if (type === 'put') launched.set(k.unit, kv.value);
        else launched.delete(k.unit);
        break;
      case 'jobObject': {
        // Parsed only when it may be global: every process sees every unit's job object.
        const obj = type === 'put' && mayBeGlobal(kv.value) ? decodeJobObject(kv.value) : undefined;
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

  private onEvent(type: 'put' | 'delete', k: ParsedKey, kv: Kv, previous: Kv | undefined, revision: bigint): void {
    if (this.etcd.closed) return;
    // Already in the mirror and the index when the read that rebuilt them was newer (a resync);
    // applying an older event again could undo a newer change. Watchers still get the hint.
    const fresh = revision > this.mirrorRevision;
    if (fresh) this.applyToMirror(type, k, kv);
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
        if (fresh) this.applyToIndex(type, k, kv);
        for (const m of this.concerned(k.unit)) machines.add(m);
        break;
      case 'target':
        topics.push('schedule');
        if (previous?.value) machines.add(previous.value);
        for (const m of this.concerned(k.unit)) machines.add(m);
        if (fresh) this.applyToIndex(type, k, kv);
        if (type === 'put') machines.add(kv.value);
        break;
      case 'jobState':
        topics.push('schedule');
        if (fresh) this.applyToIndex(type, k, kv);
        break;
      case 'state':
        topics.push('states');
        if (fresh) this.applyToIndex(type, k, kv);
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
