/**
 * The Registry on fleet v1.0.0's own etcd v2 keyspace (fleet-etcd-v2.md): the keys, values, TTLs
 * and conditional writes fleet's `registry.EtcdRegistry` uses, so fleetd machines and engines,
 * genuine fleet daemons and `fleetctl --driver=etcd` share one cluster.
 *
 *  - Units: `unit/<sha1>` = {"Raw"} (create-only), `job/<name>/object` = {"Name","UnitHash"},
 *    `job/<name>/target-state`. The content comes back through fleet's parser, as fleet reads it.
 *  - Schedule: `job/<name>/target` (create-only; unscheduled with prevValue), the agent's
 *    `job/<name>/job-state` heartbeat with the agent TTL.
 *  - States: `states/<name>/<machine>` and fleet's legacy `state/<name>`, with the agent TTL.
 *  - Machines, metadata, the engine lease and `engine/version` as fleet writes them (leases.ts).
 *  - fleetd's "why is this unit waiting" reasons live at `fleetd/reasons`, outside every key family
 *    fleet reads.
 *
 * etcd v2 has neither transactions nor leases: a batch is its writes sent concurrently (at most
 * `CONCURRENCY` in flight), and TTL keys are renewed by rewriting them. A rewrite of an unchanged
 * value is sent as `refresh=true` with the value as prevValue, which renews the TTL without a
 * watch event, so a thousand idle units cost etcd no watch traffic.
 *
 * The API's lists (units, schedule, states, machines, reasons) read etcd on each call: one
 * recursive GET per collection, unit contents from the blob cache. Unlike etcd v3's
 * (fleetd/src/registry/etcdMirrorReads.ts) they are not served from mirror.ts: a consistent read
 * from a mirror must know the mirror holds every change up to etcd's index at the read, and v2
 * offers no cheap way to know it. X-Etcd-Index counts every write to the store, also those that
 * send no event under the prefix: the agents' TTL refreshes (refresh=true, every few seconds per
 * machine) and other programs' keys (flannel, locksmith on CoreOS), so the mirror's index would
 * rarely reach it; v2 has no query for the keys changed since an index, nor a key count, with
 * which v3 reads check the mirror instead (a directory's modifiedIndex does not move with its
 * children); and the watch brings one event per long poll. The mirror holds neither the states
 * nor the reasons either. Waiting for it would make lists slower, not faster.
 *
 * The parts: access.ts (the client, the key layout and the log every part calls through),
 * units.ts and schedule.ts (the units and schedule resources, fleetd's reasons beside the
 * schedule), states.ts (unit states and launched heartbeats: the TTL keys an agent rewrites),
 * leadership.ts (the engine version and lease), over leases.ts, mirror.ts and layout.ts; this class
 * puts them together and keeps machines, the snapshot, the agents' machineView and the watches.
 */
import type { UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import { inParallel, Watchers } from '../common';
import { DEFAULT_PREFIX, Keys } from '../keyspace';
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
} from '../registry';
import { CONCURRENCY, Etcd2Access } from './access';
import { EtcdV2Client, type EtcdV2ClientOptions } from './client';
import { Presence } from './leases';
import { EngineLeadership } from './leadership';
import type { Log } from '../../../protocol/src/log';
import { decodeMachines, leaves, scheduleOf } from './layout';
import { BlobCache, Etcd2Mirror } from './mirror';
import { Etcd2Schedule } from './schedule';
import { Etcd2States } from './states';
import { Etcd2Units } from './units';

export interface Etcd2RegistryOptions extends EtcdV2ClientOptions {
  /** fleet's etcd_key_prefix; default `/_coreos.com/fleet/`. Joined as fleet's path.Join does. */
  prefix?: string;
  log?: Log;
}

/** fleet's path.Join(prefix, …): one leading slash, no empty segments. */
export function normalizePrefix(prefix: string): string {
  const parts = prefix.split('/').filter(p => p !== '' && p !== '.');
  return `/${parts.join('/')}${parts.length ? '/' : ''}`;
}

export class Etcd2Registry implements Registry {
  readonly keys: Keys;
  readonly client: EtcdV2Client;
  private readonly log: Log;
  private readonly etcd: Etcd2Access;
  private readonly watchers = new Watchers();
  private readonly blobs = new BlobCache();
  private readonly mirror: Etcd2Mirror;
  private readonly units: Etcd2Units;
  private readonly schedule: Etcd2Schedule;
  private readonly states: Etcd2States;
  private readonly leadership: EngineLeadership;
  private readonly presences = new Set<Presence>();
  private closed = false;

  constructor(options: Etcd2RegistryOptions) {
    this.client = new EtcdV2Client(options);
    this.keys = new Keys(normalizePrefix(options.prefix ?? DEFAULT_PREFIX));
    this.log = options.log ?? (() => {});
    this.etcd = new Etcd2Access(this.client, this.keys, this.log);
    this.mirror = new Etcd2Mirror(this.client, this.keys, this.blobs, (topics, machines) => this.hint(topics, machines), this.log);
    this.units = new Etcd2Units(this.etcd, this.blobs);
    this.schedule = new Etcd2Schedule(this.etcd, this.units);
    this.states = new Etcd2States(this.etcd);
    this.leadership = new EngineLeadership(this.etcd);
  }

  get prefix(): string {
    return this.keys.prefix;
  }

  // ---------------------------------------------------------------- units (units.ts)

  getUnit(name: string): Promise<UnitRecord | undefined> {
    return this.units.getUnit(name);
  }

  listUnits(): Promise<UnitRecord[]> {
    return this.units.listUnits();
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

  // ---------------------------------------------------------------- schedule and reasons (schedule.ts)

  getSchedule(): Promise<Map<string, ScheduleEntry>> {
    return this.schedule.getSchedule();
  }

  applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    return this.schedule.applySchedule(changes);
  }

  setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    return this.schedule.setUnitReasons(reasons);
  }

  getUnitReasons(): Promise<Map<string, string>> {
    return this.schedule.getUnitReasons();
  }

  // ---------------------------------------------------------------- machines

  async registerMachine(machine: MachineRecord, ttlMs: number): Promise<MachinePresence> {
    const p = await Presence.register(this.client, this.keys, machine, ttlMs, this.log);
    this.presences.add(p);
    return {
      update: m => p.update(m),
      release: async () => {
        this.presences.delete(p);
        await p.release();
      },
    };
  }

  async listMachines(): Promise<MachineRecord[]> {
    const res = await this.client.get(this.keys.machines.slice(0, -1), { recursive: true, sorted: true });
    return decodeMachines(this.keys, leaves(res?.node));
  }

  async patchMachineMetadata(ops: readonly { machineId: string; key: string; value: string }[]): Promise<void> {
    await inParallel(ops, CONCURRENCY, op => this.client.set(this.keys.machineMetadata(op.machineId, op.key), op.value));
  }

  // ---------------------------------------------------------------- unit states and launched heartbeats (states.ts)

  publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    return this.states.publishUnits(machineId, batch, ttlMs);
  }

  clearLaunched(name: string, machineId: string): Promise<void> {
    return this.states.clearLaunched(name, machineId);
  }

  removeUnitState(name: string, machineId: string): Promise<void> {
    return this.states.removeUnitState(name, machineId);
  }

  listUnitStates(): Promise<UnitStateRecord[]> {
    return this.states.listUnitStates();
  }

  // ---------------------------------------------------------------- snapshot, machine view and leadership (leadership.ts)

  async snapshot(): Promise<ClusterSnapshot> {
    const [jobs, machines] = await Promise.all([this.units.readJobs(), this.listMachines()]);
    return { units: await this.units.records(jobs), schedule: scheduleOf(jobs), machines };
  }

  async machineView(machineId: string): Promise<MachineView> {
    this.mirror.start();
    if (this.mirror.live) {
      const { jobs, missing } = this.mirror.jobsFor(machineId);
      if (missing.length > 0) await this.units.fetchBlobs(missing);
      const all = missing.length > 0 ? this.mirror.jobsFor(machineId).jobs : jobs;
      const units = await this.units.records(all.map(j => ({ ...j })));
      return { units, schedule: scheduleOf(all.filter(j => units.some(u => u.name === j.name))), machine: this.mirror.machine(machineId) };
    }
    const [jobs, machineRes] = await Promise.all([this.units.readJobs(), this.client.get(this.keys.machine(machineId).slice(0, -1), { recursive: true })]);
    const records = await this.units.records(jobs);
    const global = new Set(records.filter(u => this.blobs.get(u.hash)?.global).map(u => u.name));
    const mine = jobs.filter(j => j.target === machineId || global.has(j.name));
    const names = new Set(mine.map(j => j.name));
    return { units: records.filter(u => names.has(u.name)), schedule: scheduleOf(mine), machine: decodeMachines(this.keys, leaves(machineRes?.node))[0] };
  }

  tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    return this.leadership.tryAcquire(machineId, ttlMs);
  }

  // ---------------------------------------------------------------- watches

  watch(topic: WatchTopic, listener: () => void): Disposable {
    this.mirror.start();
    return this.watchers.onTopic(topic, listener);
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    this.mirror.start();
    return this.watchers.onMachine(machineId, listener);
  }

  async ping(): Promise<void> {
    await this.client.get(this.keys.prefix.slice(0, -1) || '/');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Like a process that ends: nothing is deleted here, TTL keys expire (release() is the graceful path).
    for (const p of this.presences) p.abandon();
    this.leadership.abandon();
    this.watchers.clear();
    await this.mirror.stop();
    this.client.close();
  }

  // ---------------------------------------------------------------- internals

  private hint(topics: Iterable<WatchTopic>, machines: Iterable<string> | 'all'): void {
    if (this.closed) return;
    this.watchers.notify(topics, machines === 'all' ? this.watchers.machineIds : machines);
  }
}
