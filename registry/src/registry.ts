/**
 * The registry: fleetd's only view of shared state, cut by role (ApiRegistry, EngineRegistry,
 * AgentRegistry; a backend implements `Registry`, all three). Three backends sit behind it —
 * EtcdRegistry (etcd v3 through etcd3, fleetd/src/registry), Etcd2Registry (fleet's own v2
 * keyspace, etcd2/) and MemoryRegistry (in-process, the zero-install default of the local
 * cluster) — and the same contract tests (registry/test/registry.contract.ts) run against each.
 * Tests write one change at a time through registry/test/registryOps.ts, over the batch forms.
 *
 * Semantics follow fleet's registry (fleet-reference §5.3), adapted to etcd v3:
 *  - a unit's content is stored exactly as submitted and returned in the same order;
 *  - scheduling is create-only, unscheduling compares the previous machine;
 *  - everything ephemeral (machine presence, launched heartbeats, unit states, the engine lease)
 *    expires after its TTL unless refreshed.
 */
import type { UnitOption } from '../../unitfile/src/serialize';
import type { JobState } from '../../protocol/src/api';

export interface UnitRecord {
  name: string;
  /** Exactly as submitted (after fleet's store round trip: grouped by section). */
  options: UnitOption[];
  /** unitHash(options). */
  hash: string;
  /** fleet's target-state. */
  desiredState: JobState;
}

export interface ScheduleEntry {
  name: string;
  /** fleet's job/<name>/target: the machine the engine placed the unit on. */
  machineId: string;
  /** fleet's job/<name>/job-state heartbeat: the machine that reports it launched it (may differ or be absent). */
  launchedOn?: string;
}

export interface MachineRecord {
  id: string;
  /** "" when unknown. */
  publicIP: string;
  /** Configured metadata overlaid with dynamic metadata (PATCH /machines); a dynamic "" deletes a key. */
  metadata: Record<string, string>;
  /** fleetd extension: the agent's private journal endpoint (http://127.0.0.1:PORT), when it serves one. */
  journalUrl?: string;
  version: string;
}

export interface UnitStateRecord {
  name: string;
  machineId: string;
  /** 40-hex hash of the unit file the agent loaded. */
  hash: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** Extension: why the unit is in this state on this machine (see ApiUnitState.detail). */
  detail?: string;
}

/**
 * What one machine's agent plans from: the units scheduled to it and every global unit (with
 * their schedule entries), and its own machine record. Other machines' units are not read.
 */
export interface MachineView {
  units: UnitRecord[];
  schedule: Map<string, ScheduleEntry>;
  /** This machine as the registry knows it (merged metadata); undefined while it is not registered. */
  machine: MachineRecord | undefined;
}

/** One schedule change: `schedule` is create-only, `unschedule` compares the machine (see EngineRegistry.applySchedule). */
export interface ScheduleChange {
  kind: 'schedule' | 'unschedule';
  unit: string;
  machineId: string;
}

/** Most operations one registry write carries (etcd's default --max-txn-ops). */
export const MAX_BATCH_OPS = 128;

/** A consistent read of everything the engine plans from. */
export interface ClusterSnapshot {
  units: UnitRecord[];
  schedule: Map<string, ScheduleEntry>;
  machines: MachineRecord[];
}

export interface Disposable {
  dispose(): void;
}

/** A registered machine's presence: kept alive until disposed (graceful) or the process dies (TTL expiry). */
export interface MachinePresence {
  /** Re-publish the machine record (IP or metadata changed). */
  update(machine: MachineRecord): Promise<void>;
  /** Remove the machine now (graceful shutdown). */
  release(): Promise<void>;
}

/** Engine leadership: held until released or not renewed within its TTL. */
export interface Leadership {
  /** True while this process still holds the lease. */
  readonly held: boolean;
  /** Fires once when leadership is lost (expiry, registry loss, or another engine took over). */
  onLost(listener: () => void): Disposable;
  release(): Promise<void>;
}

/**
 * What changed, for watchers. Listeners are level-triggered hints: always re-read, never trust the
 * event payload. `reasons`: fleetd's "why is this unit waiting" (setUnitReasons), which the API's
 * unit list shows; the engine, which writes them, does not watch them.
 */
export type WatchTopic = 'units' | 'schedule' | 'machines' | 'states' | 'reasons';

/** Every topic (a resync, after which anything may have changed, hints them all). */
export const ALL_TOPICS: readonly WatchTopic[] = ['units', 'schedule', 'machines', 'states', 'reasons'];

export class RegistryUnavailableError extends Error {
  constructor(message = 'fleet server unable to communicate with etcd') {
    super(message);
    this.name = 'RegistryUnavailableError';
  }
}

/**
 * A write the registry refuses for its size: more bytes (`size`) or more operations
 * (`operations`) than it takes in one request (etcd's --max-request-bytes, --max-txn-ops). The
 * request is what is too big, not the registry that is down: the API answers 413/400, not 503.
 */
export class RegistryLimitError extends Error {
  constructor(
    readonly kind: 'size' | 'operations',
    message: string,
  ) {
    super(message);
    this.name = 'RegistryLimitError';
  }
}

export class MachineExistsError extends Error {
  constructor(readonly machineId: string) {
    super(`machine ${machineId} is already registered and alive`);
    this.name = 'MachineExistsError';
  }
}

/**
 * The registry cut by role, as fleet's own registry is cut per resource: each client takes the
 * narrow interface it uses, and a backend implements them all (`Registry`).
 *
 * What fleet's v1 API serves (`registry/src/api`, fleetd's HTTP API and the extension's etcd
 * driver): units and their desired state, the schedule and the engine's reasons as users read
 * them, machines and their metadata, unit states.
 */
export interface ApiRegistry {
  /**
   * The largest write the registry takes in one request, when it has such a limit (etcd's
   * --max-request-bytes). A unit is one write holding its options more than once, so the API
   * refuses a unit body over this size with 413 before decoding it.
   */
  readonly maxRequestBytes?: number;
  getUnit(name: string): Promise<UnitRecord | undefined>;
  /**
   * One unit with what `GET /units/{name}` derives its state from: its schedule entry, its states
   * and the reasons, read without the rest of the cluster (etcd v3: one transaction over the
   * unit's keys). Optional: without it the API reads the whole schedule and every state.
   */
  unitDetail?(
    name: string,
  ): Promise<{ unit: UnitRecord; schedule: Map<string, ScheduleEntry>; states: UnitStateRecord[]; reasons: Map<string, string> } | undefined>;
  /** Sorted by name. */
  listUnits(): Promise<UnitRecord[]>;
  /** Create a unit, or replace its content; its desired state is set to `desiredState`. */
  putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void>;
  /**
   * Create a unit only if there is none of that name, in as few registry writes as the backend
   * allows (etcd v3: one transaction). Returns false, writing nothing, when the unit exists.
   */
  createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean>;
  /** Set the desired state of an existing unit. Returns false when the unit does not exist. */
  setDesiredState(name: string, state: JobState): Promise<boolean>;
  /** Remove a unit (and its schedule entry). Returns false when it did not exist. */
  deleteUnit(name: string): Promise<boolean>;
  getSchedule(): Promise<Map<string, ScheduleEntry>>;
  getUnitReasons(): Promise<Map<string, string>>;
  /** Live machines, sorted by ID, metadata merged with dynamic metadata. */
  listMachines(): Promise<MachineRecord[]>;
  /** PATCH /machines: `value` "" is a tombstone that deletes the key from the merged view. */
  patchMachineMetadata(ops: readonly { machineId: string; key: string; value: string }[]): Promise<void>;
  /** Sorted by unit name, then machine ID. */
  listUnitStates(): Promise<UnitStateRecord[]>;
  /** Level-triggered hint that something under `topic` changed (the API's change feed). */
  watch(topic: WatchTopic, listener: () => void): Disposable;
  /** Resolves when the registry answers; rejects with RegistryUnavailableError otherwise. */
  ping(): Promise<void>;
}

/** What the engine plans from and writes: the snapshot, the schedule, the reasons and its lease. */
export interface EngineRegistry {
  /** A consistent read of units, schedule and machines. */
  snapshot(): Promise<ClusterSnapshot>;
  /**
   * Schedule changes, each create-only (`schedule`: false when the unit already has a target) or
   * compared on the machine (`unschedule`: deleted only while it still names `machineId`), in as
   * few registry writes as possible. Resolves to one boolean per change: whether it took effect.
   * A unit may appear at most once.
   */
  applySchedule(changes: readonly ScheduleChange[]): Promise<boolean[]>;
  /** Replace the set of "why is this unit not scheduled" reasons (unit name → reason; fleetd extension). */
  setUnitReasons(reasons: ReadonlyMap<string, string>): Promise<void>;
  /**
   * Try once to become the engine leader; undefined when another live engine holds the lease.
   * The lease is kept alive while this process lives; the holder asking again renews it and gets
   * the same handle back.
   */
  tryAcquireLeadership(machineId: string, ttlMs: number): Promise<Leadership | undefined>;
  /** Level-triggered hint that something under `topic` changed. */
  watch(topic: WatchTopic, listener: () => void): Disposable;
}

/** What a machine's agent reads and writes: its presence, its own view, its units' states and heartbeats. */
export interface AgentRegistry {
  /**
   * True when unit states and launched heartbeats written for a machine registered through this
   * registry live exactly as long as its presence: an agent then rewrites them only on change
   * (and on a slow safety refresh), instead of on every heartbeat.
   */
  readonly ephemeralFollowsPresence?: boolean;
  /** Create-only presence with a TTL; throws MachineExistsError while another live process holds the ID. */
  registerMachine(machine: MachineRecord, ttlMs: number): Promise<MachinePresence>;
  /** The agent's read: only what concerns `machineId` (see MachineView). */
  machineView(machineId: string): Promise<MachineView>;
  /**
   * Hint that something concerning one machine changed: a unit scheduled to it (or unscheduled
   * from it), the content or desired state of such a unit, a global unit, or its metadata.
   * This is what lets a change to one unit wake only the machines it concerns (no thundering herd).
   */
  watchMachine(machineId: string, listener: () => void): Disposable;
  /**
   * One machine's unit states and launched heartbeats (fleet's job-state, with a TTL), written
   * together in as few registry writes as possible, a unit's state no later than its heartbeat.
   * Every state must carry `machineId`.
   */
  publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void>;
  /** Remove one machine's state for a unit. */
  removeUnitState(name: string, machineId: string): Promise<void>;
  /** Remove the launched heartbeat of a unit, only while it names `machineId`. */
  clearLaunched(name: string, machineId: string): Promise<void>;
}

/** A registry backend: every role's interface, and its lifetime. */
export interface Registry extends ApiRegistry, EngineRegistry, AgentRegistry {
  close(): Promise<void>;
}
