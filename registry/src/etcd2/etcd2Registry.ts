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
 */
import { serializeOptions, sha1Hex, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import { assertDistinctUnits, groupBySection, inParallel, Watchers } from '../common';
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
import { EtcdCode, EtcdV2Client, type EtcdV2ClientOptions } from './client';
import { EngineLease, Presence, isCode, ttlSeconds } from './leases';
import type { Log } from '../../../protocol/src/log';
import {
  ENGINE_VERSION,
  decodeJobs,
  decodeLeader,
  decodeMachines,
  decodeStates,
  encodeJobObject,
  encodeLeader,
  encodeUnitBlob,
  encodeUnitState,
  leaves,
  scheduleOf,
  type JobEntry,
} from './layout';
import { BlobCache, Etcd2Mirror } from './mirror';

export interface Etcd2RegistryOptions extends EtcdV2ClientOptions {
  /** fleet's etcd_key_prefix; default `/_coreos.com/fleet/`. Joined as fleet's path.Join does. */
  prefix?: string;
  log?: Log;
}

/** Writes of one batch in flight at once. */
const CONCURRENCY = 32;

/** fleet's path.Join(prefix, …): one leading slash, no empty segments. */
export function normalizePrefix(prefix: string): string {
  const parts = prefix.split('/').filter(p => p !== '' && p !== '.');
  return `/${parts.join('/')}${parts.length ? '/' : ''}`;
}

export class Etcd2Registry implements Registry {
  readonly keys: Keys;
  readonly client: EtcdV2Client;
  private readonly log: Log;
  private readonly watchers = new Watchers();
  private readonly blobs = new BlobCache();
  private readonly mirror: Etcd2Mirror;
  /** TTL keys this process wrote, with the value: an unchanged rewrite is a refresh. */
  private readonly written = new Map<string, string>();
  private readonly presences = new Set<Presence>();
  private lease: EngineLease | undefined;
  private lastReasons: string | undefined;
  private closed = false;

  constructor(options: Etcd2RegistryOptions) {
    this.client = new EtcdV2Client(options);
    this.keys = new Keys(normalizePrefix(options.prefix ?? DEFAULT_PREFIX));
    this.log = options.log ?? (() => {});
    this.mirror = new Etcd2Mirror(this.client, this.keys, this.blobs, (topics, machines) => this.hint(topics, machines), this.log);
  }

  get prefix(): string {
    return this.keys.prefix;
  }

  // ---------------------------------------------------------------- units

  async getUnit(name: string): Promise<UnitRecord | undefined> {
    const res = await this.client.get(this.keys.job(name).slice(0, -1), { recursive: true });
    const [job] = decodeJobs(this.keys, leaves(res?.node));
    return job ? (await this.records([job]))[0] : undefined;
  }

  async listUnits(): Promise<UnitRecord[]> {
    return this.records(await this.readJobs());
  }

  async putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    const options = groupBySection(unit.options);
    const raw = serializeOptions(options);
    const hash = sha1Hex(raw);
    try {
      await this.client.set(this.keys.unitBlob(hash), encodeUnitBlob(raw), { prevExist: false });
    } catch (err) {
      // fleet's storeOrGetUnitFile: the blob is content-addressed, an existing one is the same.
      if (!isCode(err, EtcdCode.NodeExist)) throw err;
    }
    await this.client.set(this.keys.jobObject(unit.name), encodeJobObject(unit.name, hash));
    await this.client.set(this.keys.targetState(unit.name), unit.desiredState);
  }

  /** etcd v2 has no transactions: the blob, then the object create-only (fleet's order), then the target state. */
  async createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    const options = groupBySection(unit.options);
    const raw = serializeOptions(options);
    const hash = sha1Hex(raw);
    try {
      await this.client.set(this.keys.unitBlob(hash), encodeUnitBlob(raw), { prevExist: false });
    } catch (err) {
      if (!isCode(err, EtcdCode.NodeExist)) throw err;
    }
    try {
      await this.client.set(this.keys.jobObject(unit.name), encodeJobObject(unit.name, hash), { prevExist: false });
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) return false;
      throw err;
    }
    await this.client.set(this.keys.targetState(unit.name), unit.desiredState);
    return true;
  }

  async setDesiredState(name: string, state: JobState): Promise<boolean> {
    if (!(await this.client.get(this.keys.jobObject(name)))) return false;
    await this.client.set(this.keys.targetState(name), state);
    return true;
  }

  async deleteUnit(name: string): Promise<boolean> {
    if (!(await this.client.get(this.keys.jobObject(name)))) return false;
    try {
      await this.client.delete(this.keys.job(name).slice(0, -1), { recursive: true });
      return true;
    } catch (err) {
      if (isCode(err, EtcdCode.KeyNotFound)) return false;
      throw err;
    }
  }

  // ---------------------------------------------------------------- schedule

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    return scheduleOf(await this.readJobs());
  }

  private async scheduleUnit(name: string, machineId: string): Promise<boolean> {
    try {
      await this.client.set(this.keys.target(name), machineId, { prevExist: false });
      return true;
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) return false;
      throw err;
    }
  }

  private async unscheduleUnit(name: string, machineId: string): Promise<boolean> {
    try {
      await this.client.delete(this.keys.target(name), { prevValue: machineId });
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

  private async setLaunched(name: string, machineId: string, ttlMs: number): Promise<void> {
    await this.setTtl(this.keys.jobState(name), machineId, ttlMs);
  }

  async clearLaunched(name: string, machineId: string): Promise<void> {
    const key = this.keys.jobState(name);
    this.written.delete(key);
    try {
      await this.client.delete(key, { prevValue: machineId });
    } catch (err) {
      if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
    }
  }

  // ---------------------------------------------------------------- reasons (fleetd extension)

  async setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const value = JSON.stringify(Object.fromEntries([...reasons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
    if (value === this.lastReasons) return;
    await this.client.set(this.keys.reasons, value);
    this.lastReasons = value;
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    const res = await this.client.get(this.keys.reasons);
    const out = new Map<string, string>();
    try {
      const json = JSON.parse(res?.node.value ?? '{}') as Record<string, unknown>;
      for (const [k, v] of Object.entries(json)) if (typeof v === 'string') out.set(k, v);
    } catch {
      // not ours: no reasons
    }
    return out;
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

  // ---------------------------------------------------------------- unit states

  private async saveUnitState(state: UnitStateRecord, ttlMs: number): Promise<void> {
    const value = encodeUnitState(state);
    await this.setTtl(this.keys.state(state.name, state.machineId), value, ttlMs);
    await this.setTtl(this.keys.legacyState(state.name), value, ttlMs);
  }

  async publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    for (const s of batch.states) {
      if (s.machineId !== machineId) throw new Error(`publishUnits: the state of ${s.name} belongs to machine ${s.machineId}, not ${machineId}`);
    }
    // A unit's state before its heartbeat: fleetctl start reads the state as soon as it sees `launched`.
    await inParallel(batch.states, CONCURRENCY, s => this.saveUnitState(s, ttlMs));
    await inParallel(batch.launched, CONCURRENCY, name => this.setLaunched(name, machineId, ttlMs));
  }

  /** Only this machine's state; fleet deletes `states/<name>` whole, wiping the other machines' states of a global unit. */
  async removeUnitState(name: string, machineId: string): Promise<void> {
    const key = this.keys.state(name, machineId);
    const legacy = this.keys.legacyState(name);
    const mine = this.written.get(legacy);
    this.written.delete(key);
    this.written.delete(legacy);
    await ignoreMissing(this.client.delete(key));
    // The unit's states directory goes once no machine has a state in it (fleet deletes it whole).
    await ignoreMissing(this.client.delete(this.keys.states + name, { dir: true }), EtcdCode.DirNotEmpty, EtcdCode.NotFile);
    if (mine !== undefined) await ignoreMissing(this.client.delete(legacy, { prevValue: mine }), EtcdCode.CompareFailed);
  }

  async listUnitStates(): Promise<UnitStateRecord[]> {
    const res = await this.client.get(this.keys.states.slice(0, -1), { recursive: true });
    return decodeStates(this.keys, leaves(res?.node));
  }

  // ---------------------------------------------------------------- snapshot and leadership

  async snapshot(): Promise<ClusterSnapshot> {
    const [jobs, machines] = await Promise.all([this.readJobs(), this.listMachines()]);
    return { units: await this.records(jobs), schedule: scheduleOf(jobs), machines };
  }

  async machineView(machineId: string): Promise<MachineView> {
    this.mirror.start();
    if (this.mirror.live) {
      const { jobs, missing } = this.mirror.jobsFor(machineId);
      if (missing.length > 0) await this.fetchBlobs(missing);
      const all = missing.length > 0 ? this.mirror.jobsFor(machineId).jobs : jobs;
      const units = await this.records(all.map(j => ({ ...j })));
      return { units, schedule: scheduleOf(all.filter(j => units.some(u => u.name === j.name))), machine: this.mirror.machine(machineId) };
    }
    const [jobs, machineRes] = await Promise.all([this.readJobs(), this.client.get(this.keys.machine(machineId).slice(0, -1), { recursive: true })]);
    const records = await this.records(jobs);
    const global = new Set(records.filter(u => this.blobs.get(u.hash)?.global).map(u => u.name));
    const mine = jobs.filter(j => j.target === machineId || global.has(j.name));
    const names = new Set(mine.map(j => j.name));
    return { units: records.filter(u => names.has(u.name)), schedule: scheduleOf(mine), machine: decodeMachines(this.keys, leaves(machineRes?.node))[0] };
  }

  async tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    if (!(await this.engineVersionAllows())) return undefined;
    if (this.lease && this.lease.machineId === machineId) {
      if (await this.lease.renew(ttlMs)) return this.lease;
      this.lease = undefined;
    }
    const current = await this.client.get(this.keys.engineLeader);
    if (!current) {
      try {
        const res = await this.client.set(this.keys.engineLeader, encodeLeader(machineId), { prevExist: false, ttlSeconds: ttlSeconds(ttlMs) });
        return (this.lease = new EngineLease(this.client, this.keys, machineId, res.node.modifiedIndex, ttlMs, this.log));
      } catch (err) {
        if (isCode(err, EtcdCode.NodeExist)) return undefined;
        throw err;
      }
    }
    const holder = decodeLeader(current.node.value ?? '');
    if (holder.version >= ENGINE_VERSION) return undefined;
    // An engine older than fleet v1.0 (version 0): fleet steals its lease and waits out its time.
    const remainingMs = Math.max(0, (current.node.ttl ?? 0) * 1000);
    try {
      const res = await this.client.set(this.keys.engineLeader, encodeLeader(machineId), {
        prevIndex: current.node.modifiedIndex,
        ttlSeconds: ttlSeconds(ttlMs + remainingMs),
      });
      this.log('info', `engine: stole engine leadership from Machine(${holder.machineId}); waiting ${Math.round(remainingMs / 1000)}s for its lease to expire`);
      await new Promise(r => setTimeout(r, remainingMs));
      return (this.lease = new EngineLease(this.client, this.keys, machineId, res.node.modifiedIndex, ttlMs, this.log));
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist, EtcdCode.CompareFailed, EtcdCode.KeyNotFound)) return undefined;
      throw err;
    }
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
    this.lease?.abandon();
    this.watchers.clear();
    await this.mirror.stop();
    this.client.close();
  }

  // ---------------------------------------------------------------- internals

  private hint(topics: Iterable<WatchTopic>, machines: Iterable<string> | 'all'): void {
    if (this.closed) return;
    this.watchers.notify(topics, machines === 'all' ? this.watchers.machineIds : machines);
  }

  /** fleet's ensureEngineVersionMatch: create `engine/version` = 1 when absent; sit out when it is higher. */
  private async engineVersionAllows(): Promise<boolean> {
    const res = await this.client.get(this.keys.engineVersion);
    const text = res?.node.value;
    if (text === undefined) {
      try {
        await this.client.set(this.keys.engineVersion, String(ENGINE_VERSION), { prevExist: false });
      } catch (err) {
        if (!isCode(err, EtcdCode.NodeExist)) throw err;
      }
      return true;
    }
    const version = /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(version)) {
      this.log('warn', `engine: ${this.keys.engineVersion} is "${text}", not a number; not competing for leadership`);
      return false;
    }
    if (version < ENGINE_VERSION) {
      await ignoreMissing(this.client.set(this.keys.engineVersion, String(ENGINE_VERSION), { prevValue: text }), EtcdCode.CompareFailed);
      return true;
    }
    if (version > ENGINE_VERSION) {
      this.log('warn', `engine: cluster engine version ${version} is higher than this engine's (${ENGINE_VERSION}); not competing for leadership`);
      return false;
    }
    return true;
  }

  /** A TTL key; an unchanged value this process wrote is renewed without a watch event. */
  private async setTtl(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = ttlSeconds(ttlMs);
    if (this.written.get(key) === value) {
      try {
        await this.client.set(key, '', { refresh: true, prevValue: value, ttlSeconds: ttl });
        return;
      } catch (err) {
        // Expired, or another writer's value now: write it again.
        if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
      }
    }
    this.written.set(key, value);
    try {
      await this.client.set(key, value, { ttlSeconds: ttl });
    } catch (err) {
      this.written.delete(key);
      throw err;
    }
  }

  private async readJobs(): Promise<JobEntry[]> {
    const res = await this.client.get(this.keys.jobs.slice(0, -1), { recursive: true, sorted: true });
    return decodeJobs(this.keys, leaves(res?.node));
  }

  /** Job entries → unit records, with their content from the blob cache (fetching what it lacks). */
  private async records(jobs: readonly JobEntry[]): Promise<UnitRecord[]> {
    const missing = [...new Set(jobs.map(j => j.hash).filter(h => !this.blobs.get(h)))];
    if (missing.length > 0) await this.fetchBlobs(missing);
    const out: UnitRecord[] = [];
    for (const j of jobs) {
      const content = this.blobs.get(j.hash);
      // fleet skips a job whose content it cannot read (and logs it).
      if (!content) {
        this.log('warn', `unit ${j.name}: its content ${this.keys.unitBlob(j.hash)} is missing or unreadable; skipped`);
        continue;
      }
      out.push({ name: j.name, options: content.options.map(o => ({ ...o })), hash: j.hash, desiredState: j.desiredState ?? 'inactive' });
    }
    return out;
  }

  private async fetchBlobs(hashes: readonly string[]): Promise<void> {
    if (hashes.length > 8) {
      const res = await this.client.get(this.keys.unitBlobs.slice(0, -1), { recursive: true, quorum: true });
      for (const [key, value] of leaves(res?.node)) {
        const k = this.keys.parse(key);
        if (k.kind === 'unitBlob') this.blobs.setFromValue(k.hash, value);
      }
      return;
    }
    await inParallel(hashes, CONCURRENCY, async hash => {
      const res = await this.client.get(this.keys.unitBlob(hash));
      if (res?.node.value !== undefined) this.blobs.setFromValue(hash, res.node.value);
    });
  }
}

async function ignoreMissing(p: Promise<unknown>, ...more: number[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isCode(err, EtcdCode.KeyNotFound, ...more)) throw err;
  }
}
