/**
 * The in-process Registry: the zero-install default of the local cluster and the fake every
 * fleetd test runs against. Complete, with the same semantics as EtcdRegistry (the contract suite
 * in registry/test/registry.contract.ts runs against every backend; expiry and leadership in
 * memoryLeases.ts):
 *
 *  - ephemeral entries (unit states, launched heartbeats) expire `ttlMs` after their last write,
 *    measured on the injected clock; machine presence and engine leadership are kept alive by their
 *    holder (as etcd lease keepalives are) until released, or until `simulateCrash(machineId)`
 *    stops the keepalive, after which they expire `ttlMs` later;
 *  - expiry is applied lazily on every read and eagerly by a timer (or by `expire()` when a test
 *    drives a fake clock), so watchers and `Leadership.onLost` fire when something expires.
 */
import { isGlobalUnit, unitHash, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import {
  MachineExistsError,
  type ClusterSnapshot,
  type Disposable,
  type Leadership,
  type MachinePresence,
  type MachineRecord,
  type MachineView,
  type Registry,
  type ScheduleChange,
  type ScheduleEntry,
  type UnitRecord,
  type UnitStateRecord,
  type WatchTopic,
} from '../../../registry/src/registry';
import { assertDistinctUnits, groupBySection, Watchers } from '../../../registry/src/common';
import { ExpiryTimer, MemoryLeadership, UNREF_TIMERS, type Expiring, type LeaderEntry, type MachineEntry, type RegistryTimers } from './memoryLeases';

export interface MemoryRegistryOptions {
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /**
   * Timers used to expire entries eagerly; default the global ones (unref'd). Pass `false` to
   * disable eager expiry (a test with a fake clock then calls `expire()` after advancing it).
   */
  timers?: false | RegistryTimers;
}

export class MemoryRegistry implements Registry {
  private readonly now: () => number;
  private readonly timer: ExpiryTimer;
  private closed = false;

  private readonly units = new Map<string, UnitRecord>();
  private readonly targets = new Map<string, string>();
  private readonly launched = new Map<string, { machineId: string } & Expiring>();
  private reasons = new Map<string, string>();
  private readonly machines = new Map<string, MachineEntry>();
  private readonly dynamicMetadata = new Map<string, Map<string, string>>();
  /** Key: unit name + '\0' + machine ID. */
  private readonly states = new Map<string, { record: UnitStateRecord } & Expiring>();
  private leader: LeaderEntry | undefined;
  private readonly watchers = new Watchers();

  constructor(opts: MemoryRegistryOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.timer = new ExpiryTimer(opts.timers ?? UNREF_TIMERS, this.now);
  }

  // ---------------------------------------------------------------- units

  async getUnit(name: string): Promise<UnitRecord | undefined> {
    const unit = this.units.get(name);
    return unit && copyUnit(unit);
  }

  async listUnits(): Promise<UnitRecord[]> {
    return [...this.units.values()].sort(byName).map(copyUnit);
  }

  async putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    const options = groupBySection(unit.options);
    const before = this.machinesConcernedBy(unit.name);
    this.units.set(unit.name, { name: unit.name, options, hash: unitHash(options), desiredState: unit.desiredState });
    this.changed(['units'], [...before, ...this.machinesConcernedBy(unit.name)]);
  }

  async createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    if (this.units.has(unit.name)) return false;
    await this.putUnit(unit);
    return true;
  }

  async setDesiredState(name: string, state: JobState): Promise<boolean> {
    const unit = this.units.get(name);
    if (!unit) return false;
    if (unit.desiredState !== state) {
      unit.desiredState = state;
      this.changed(['units'], this.machinesConcernedBy(name));
    }
    return true;
  }

  async deleteUnit(name: string): Promise<boolean> {
    if (!this.units.has(name)) return false;
    const concerned = this.machinesConcernedBy(name);
    this.units.delete(name);
    const hadTarget = this.targets.delete(name);
    const hadLaunched = this.launched.delete(name);
    this.changed(hadTarget || hadLaunched ? ['units', 'schedule'] : ['units'], concerned);
    return true;
  }

  // ---------------------------------------------------------------- schedule

  async getSchedule(): Promise<Map<string, ScheduleEntry>> {
    this.expire();
    const schedule = new Map<string, ScheduleEntry>();
    for (const name of [...this.targets.keys()].sort()) {
      const machineId = this.targets.get(name)!;
      const launched = this.launched.get(name);
      schedule.set(name, launched ? { name, machineId, launchedOn: launched.machineId } : { name, machineId });
    }
    return schedule;
  }

  private async scheduleUnit(name: string, machineId: string): Promise<boolean> {
    if (this.targets.has(name)) return false;
    this.targets.set(name, machineId);
    this.changed(['schedule'], [machineId]);
    return true;
  }

  private async unscheduleUnit(name: string, machineId: string): Promise<boolean> {
    if (this.targets.get(name) !== machineId) return false;
    this.targets.delete(name);
    this.changed(['schedule'], [machineId]);
    return true;
  }

  async applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]> {
    assertDistinctUnits(changes);
    const out: boolean[] = [];
    for (const c of changes) out.push(c.kind === 'schedule' ? await this.scheduleUnit(c.unit, c.machineId) : await this.unscheduleUnit(c.unit, c.machineId));
    return out;
  }

  private async setLaunched(name: string, machineId: string, ttlMs: number): Promise<void> {
    this.expire();
    const previous = this.launched.get(name);
    this.launched.set(name, { machineId, expiresAt: this.now() + ttlMs });
    this.armTimer();
    if (previous?.machineId !== machineId) this.changed(['schedule'], []);
  }

  async clearLaunched(name: string, machineId: string): Promise<void> {
    this.expire();
    if (this.launched.get(name)?.machineId !== machineId) return;
    this.launched.delete(name);
    this.changed(['schedule'], []);
  }

  // ---------------------------------------------------------------- reasons

  async setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    const same = reasons.size === this.reasons.size && [...reasons].every(([unit, reason]) => this.reasons.get(unit) === reason);
    this.reasons = new Map(reasons);
    if (!same) this.changed(['reasons'], []);
  }

  async getUnitReasons(): Promise<Map<string, string>> {
    return new Map(this.reasons);
  }

  // ---------------------------------------------------------------- machines

  async registerMachine(machine: MachineRecord, ttlMs: number): Promise<MachinePresence> {
    this.expire();
    if (this.machines.has(machine.id)) throw new MachineExistsError(machine.id);
    const token = {};
    this.machines.set(machine.id, { record: copyMachine(machine), ttlMs, token, expiresAt: Infinity });
    this.changed(['machines'], [machine.id]);
    const mine = () => {
      this.expire();
      const entry = this.machines.get(machine.id);
      return entry?.token === token ? entry : undefined;
    };
    return {
      update: async (next: MachineRecord) => {
        const entry = mine();
        if (!entry) {
          // Expired meanwhile: re-register, as a lease keepalive would re-grant, unless another
          // process has taken the ID since.
          if (this.machines.has(machine.id)) throw new MachineExistsError(machine.id);
          this.machines.set(machine.id, { record: copyMachine({ ...next, id: machine.id }), ttlMs, token, expiresAt: Infinity });
        } else {
          entry.record = copyMachine({ ...next, id: machine.id });
        }
        this.changed(['machines'], [machine.id]);
      },
      release: async () => {
        if (!mine()) return;
        this.machines.delete(machine.id);
        this.changed(['machines'], [machine.id]);
      },
    };
  }

  async listMachines(): Promise<MachineRecord[]> {
    this.expire();
    return [...this.machines.values()].map(e => this.merged(e.record)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async patchMachineMetadata(ops: readonly { machineId: string; key: string; value: string }[]): Promise<void> {
    const touched = new Set<string>();
    for (const op of ops) {
      let m = this.dynamicMetadata.get(op.machineId);
      if (!m) this.dynamicMetadata.set(op.machineId, (m = new Map()));
      m.set(op.key, op.value);
      touched.add(op.machineId);
    }
    if (touched.size > 0) this.changed(['machines'], [...touched]);
  }

  // ---------------------------------------------------------------- unit states

  private async saveUnitState(state: UnitStateRecord, ttlMs: number): Promise<void> {
    this.expire();
    const key = stateKey(state.name, state.machineId);
    const previous = this.states.get(key)?.record;
    this.states.set(key, { record: { ...state }, expiresAt: this.now() + ttlMs });
    this.armTimer();
    if (!previous || !sameState(previous, state)) this.changed(['states'], []);
  }

  async publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    for (const s of batch.states) {
      if (s.machineId !== machineId) throw new Error(`publishUnits: the state of ${s.name} belongs to machine ${s.machineId}, not ${machineId}`);
    }
    for (const s of batch.states) await this.saveUnitState(s, ttlMs);
    for (const name of batch.launched) await this.setLaunched(name, machineId, ttlMs);
  }

  async removeUnitState(name: string, machineId: string): Promise<void> {
    if (this.states.delete(stateKey(name, machineId))) this.changed(['states'], []);
  }

  async listUnitStates(): Promise<UnitStateRecord[]> {
    this.expire();
    return [...this.states.values()]
      .map(e => ({ ...e.record }))
      .sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : a.machineId < b.machineId ? -1 : a.machineId > b.machineId ? 1 : 0));
  }

  // ---------------------------------------------------------------- snapshot and leadership

  async snapshot(): Promise<ClusterSnapshot> {
    return { units: await this.listUnits(), schedule: await this.getSchedule(), machines: await this.listMachines() };
  }

  async machineView(machineId: string): Promise<MachineView> {
    this.expire();
    const units = [...this.units.values()]
      .filter(u => this.targets.get(u.name) === machineId || isGlobalUnit(u.options))
      .sort(byName)
      .map(copyUnit);
    const all = await this.getSchedule();
    const schedule = new Map<string, ScheduleEntry>();
    for (const u of units) {
      const entry = all.get(u.name);
      if (entry) schedule.set(u.name, entry);
    }
    const machine = (await this.listMachines()).find(m => m.id === machineId);
    return { units, schedule, machine };
  }

  async tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    this.expire();
    const current = this.leader;
    if (current) {
      if (current.machineId !== machineId) return undefined;
      // The holder asks again: a renewal.
      current.ttlMs = ttlMs;
      if (current.expiresAt !== Infinity) current.expiresAt = this.now() + ttlMs;
      this.armTimer();
      return current.handle;
    }
    const handle: MemoryLeadership = new MemoryLeadership(
      self => {
        this.expire();
        return this.leader?.handle === self;
      },
      self => {
        if (this.leader?.handle === self) this.leader = undefined;
        self.markLost();
      },
    );
    this.leader = { machineId, ttlMs, handle, expiresAt: Infinity };
    return handle;
  }

  // ---------------------------------------------------------------- watches

  watch(topic: WatchTopic, listener: () => void): Disposable {
    return this.watchers.onTopic(topic, listener);
  }

  watchMachine(machineId: string, listener: () => void): Disposable {
    return this.watchers.onMachine(machineId, listener);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    this.timer.close();
    this.watchers.clear();
  }

  // ---------------------------------------------------------------- test hooks

  /**
   * Simulates the death of the process that holds `machineId`'s presence and leadership: their
   * keepalive stops, so they expire `ttlMs` after now (its unit states and heartbeats expire on
   * their own TTLs anyway).
   */
  simulateCrash(machineId: string): void {
    const at = (ttl: number) => this.now() + ttl;
    const machine = this.machines.get(machineId);
    if (machine && machine.expiresAt === Infinity) machine.expiresAt = at(machine.ttlMs);
    if (this.leader?.machineId === machineId && this.leader.expiresAt === Infinity) this.leader.expiresAt = at(this.leader.ttlMs);
    this.armTimer();
  }

  /** Applies every expiry due at `now()`, firing watchers and `onLost`. Reads call it too. */
  expire(): void {
    const now = this.now();
    const topics = new Set<WatchTopic>();
    const machines = new Set<string>();
    for (const [name, entry] of this.launched) {
      if (entry.expiresAt <= now) {
        this.launched.delete(name);
        topics.add('schedule');
      }
    }
    for (const [key, entry] of this.states) {
      if (entry.expiresAt <= now) {
        this.states.delete(key);
        topics.add('states');
      }
    }
    for (const [id, entry] of this.machines) {
      if (entry.expiresAt <= now) {
        this.machines.delete(id);
        topics.add('machines');
        machines.add(id);
      }
    }
    const leader = this.leader;
    if (leader && leader.expiresAt <= now) {
      this.leader = undefined;
      leader.handle.markLost();
    }
    if (topics.size > 0) this.changed([...topics], [...machines]);
  }

  // ---------------------------------------------------------------- internals

  private merged(record: MachineRecord): MachineRecord {
    const copy = copyMachine(record);
    const dynamic = this.dynamicMetadata.get(record.id);
    if (dynamic) {
      for (const [k, v] of dynamic) {
        if (v === '') delete copy.metadata[k];
        else copy.metadata[k] = v;
      }
    }
    return copy;
  }

  /** Machines that must re-read when unit `name` changes: its target, its launcher, its reporters, or all for a global unit. */
  private machinesConcernedBy(name: string): string[] {
    const unit = this.units.get(name);
    if (unit && isGlobalUnit(unit.options)) return [...this.machines.keys()];
    const out = new Set<string>();
    const target = this.targets.get(name);
    if (target !== undefined) out.add(target);
    const launched = this.launched.get(name);
    if (launched) out.add(launched.machineId);
    for (const entry of this.states.values()) if (entry.record.name === name) out.add(entry.record.machineId);
    return [...out];
  }

  private changed(topics: readonly WatchTopic[], machines: readonly string[]): void {
    if (this.closed) return;
    this.watchers.notify(topics, machines);
  }

  /** Schedules one timer at the earliest finite expiry. */
  private armTimer(): void {
    if (this.closed) return;
    let next = Infinity;
    for (const e of this.launched.values()) next = Math.min(next, e.expiresAt);
    for (const e of this.states.values()) next = Math.min(next, e.expiresAt);
    for (const e of this.machines.values()) next = Math.min(next, e.expiresAt);
    if (this.leader) next = Math.min(next, this.leader.expiresAt);
    this.timer.arm(next, () => {
      this.expire();
      this.armTimer();
    });
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function copyUnit(u: UnitRecord): UnitRecord {
  return { name: u.name, options: u.options.map(o => ({ ...o })), hash: u.hash, desiredState: u.desiredState };
}

function copyMachine(m: MachineRecord): MachineRecord {
  const copy: MachineRecord = { id: m.id, publicIP: m.publicIP, metadata: { ...m.metadata }, version: m.version };
  if (m.journalUrl !== undefined) copy.journalUrl = m.journalUrl;
  return copy;
}

function stateKey(name: string, machineId: string): string {
  return `${name}\0${machineId}`;
}

function sameState(a: UnitStateRecord, b: UnitStateRecord): boolean {
  return a.hash === b.hash && a.loadState === b.loadState && a.activeState === b.activeState && a.subState === b.subState && a.detail === b.detail;
}
