/**
 * The cluster snapshot the explorer renders: one consistent read of machines, units and unit
 * states, plus pure helpers to compare two snapshots and to derive what the language server
 * needs. No `vscode` import here.
 */
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../../protocol/src/api';
import type { ClusterContext, ClusterUnit } from '../../../protocol/src/lsp';
import { unitHash } from '../../../unitfile/src';
import type { CollectionItems, FleetApi } from '../api/types';

export interface ClusterSnapshot {
  machines: ApiMachine[];
  units: ApiUnit[];
  states: ApiUnitState[];
}

export namespace ClusterSnapshot {
  export const empty: ClusterSnapshot = { machines: [], units: [], states: [] };

  /** Reads the three collections in parallel; the result is sorted so equal clusters give equal snapshots. */
  export async function fetch(api: FleetApi, signal?: AbortSignal): Promise<ClusterSnapshot> {
    const [machines, units, states] = await Promise.all([api.listMachines(signal), api.listUnits(signal), api.listUnitStates(signal)]);
    return normalize({ machines, units, states });
  }

  /**
   * Reads only the collections that changed since `since` (fleetd's tags per collection; see
   * FleetApi.listIfChanged): an unchanged one is `since.snapshot`'s array itself, so reuseSnapshot
   * keeps it whole. Without tags (real fleet, the etcd driver, a first read) all three are read.
   */
  export async function fetchChanged(
    api: FleetApi,
    signal: AbortSignal | undefined,
    since: { snapshot: ClusterSnapshot; tags: CollectionTags } | undefined,
  ): Promise<{ snapshot: ClusterSnapshot; tags: CollectionTags }> {
    if (!api.listIfChanged) return { snapshot: await fetch(api, signal), tags: {} };
    const one = <C extends keyof CollectionItems>(c: C) => {
      const tag = since?.tags[c];
      return api.listIfChanged!(c, tag, signal).then(r => (r.items === undefined && tag !== undefined && since ? { ...r, kept: since.snapshot } : r));
    };
    const [m, u, s] = await Promise.all([one('machines'), one('units'), one('states')]);
    const tags: CollectionTags = {};
    if (m.tag !== undefined) tags.machines = m.tag;
    if (u.tag !== undefined) tags.units = u.tag;
    if (s.tag !== undefined) tags.states = s.tag;
    const snapshot: ClusterSnapshot = {
      machines: 'kept' in m ? m.kept.machines : sortMachines(m.items ?? []),
      units: 'kept' in u ? u.kept.units : sortUnits(u.items ?? []),
      states: 'kept' in s ? s.kept.states : sortStates(s.items ?? []),
    };
    return { snapshot, tags };
  }

  export function normalize(snapshot: ClusterSnapshot): ClusterSnapshot {
    return { machines: sortMachines(snapshot.machines), units: sortUnits(snapshot.units), states: sortStates(snapshot.states) };
  }
}

/** Each collection's tag at the last read (fleetd's ETag; real fleet has none). */
export type CollectionTags = Partial<Record<keyof CollectionItems, string>>;

const sortMachines = (machines: readonly ApiMachine[]) => [...machines].sort((a, b) => compare(a.id, b.id));
const sortUnits = (units: readonly ApiUnit[]) => [...units].sort((a, b) => compare(a.name, b.name));
const sortStates = (states: readonly ApiUnitState[]) => [...states].sort((a, b) => compare(a.name, b.name) || compare(a.machineID ?? '', b.machineID ?? ''));

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What changed between two snapshots (names only; the views re-render from the new snapshot). */
export interface SnapshotDiff {
  changed: boolean;
  machinesChanged: boolean;
  addedUnits: string[];
  removedUnits: string[];
  /** Units whose registry entry or any of whose states changed. */
  changedUnits: string[];
}

/** A unit's registry entry (undefined: only agents report it) and its states, in snapshot order. */
export interface UnitEntry {
  unit: ApiUnit | undefined;
  states: ApiUnitState[];
}

/** Entries per snapshot: a snapshot is never changed once read, so they are built once. */
const entriesOf = new WeakMap<ClusterSnapshot, Map<string, UnitEntry>>();

/** Each unit's entry by name: the registry's units in order, then names that only have states. */
export function unitEntries(snapshot: ClusterSnapshot): Map<string, UnitEntry> {
  let entries = entriesOf.get(snapshot);
  if (entries) return entries;
  entries = new Map();
  for (const unit of snapshot.units) entries.set(unit.name, { unit, states: [] });
  for (const st of snapshot.states) {
    const entry = entries.get(st.name);
    if (entry) entry.states.push(st);
    else entries.set(st.name, { unit: undefined, states: [st] });
  }
  entriesOf.set(snapshot, entries);
  return entries;
}

/**
 * A sorted read against the snapshot before it: every machine, unit and state whose JSON equals
 * the previous one is replaced by the previous object, so the diff, unitRows and the map skip
 * them by identity. Returns the new snapshot and what changed.
 */
export function reuseSnapshot(before: ClusterSnapshot | undefined, read: ClusterSnapshot): { snapshot: ClusterSnapshot; diff: SnapshotDiff } {
  if (!before) return { snapshot: read, diff: diffSnapshots(undefined, read) };
  const oldMachines = new Map(before.machines.map(m => [m.id, m]));
  const old = unitEntries(before);
  const keep = <T>(previous: T | undefined, next: T): T => (previous !== undefined && sameJson(previous, next) ? previous : next);
  let states: ApiUnitState[] = read.states;
  let copied = false;
  for (let i = 0; read.states !== before.states && i < read.states.length; i++) {
    const st = read.states[i]!;
    const kept = keep(
      old.get(st.name)?.states.find(s => s.machineID === st.machineID),
      st,
    );
    if (kept === st) continue;
    if (!copied) states = [...read.states];
    copied = true;
    states[i] = kept;
  }
  // A collection the read took over whole (unchanged since the last read) is kept as it is.
  const snapshot: ClusterSnapshot = {
    machines: read.machines === before.machines ? before.machines : read.machines.map(m => keep(oldMachines.get(m.id), m)),
    units: read.units === before.units ? before.units : read.units.map(u => keep(old.get(u.name)?.unit, u)),
    states,
  };
  return { snapshot, diff: diffSnapshots(before, snapshot) };
}

export function diffSnapshots(before: ClusterSnapshot | undefined, after: ClusterSnapshot): SnapshotDiff {
  const prev = before ?? ClusterSnapshot.empty;
  const machinesChanged =
    prev.machines !== after.machines && (prev.machines.length !== after.machines.length || after.machines.some((m, i) => !sameMachine(prev.machines[i]!, m)));
  const a = unitEntries(prev);
  const b = unitEntries(after);
  const addedUnits: string[] = [];
  const removedUnits: string[] = [];
  const changedUnits: string[] = [];
  for (const [name, entry] of b) {
    const old = a.get(name);
    if (old === undefined) addedUnits.push(name);
    else if (!sameEntry(old, entry)) changedUnits.push(name);
  }
  for (const name of a.keys()) if (!b.has(name)) removedUnits.push(name);
  addedUnits.sort();
  removedUnits.sort();
  changedUnits.sort();
  return {
    changed: machinesChanged || addedUnits.length > 0 || removedUnits.length > 0 || changedUnits.length > 0,
    machinesChanged,
    addedUnits,
    removedUnits,
    changedUnits,
  };
}

function sameEntry(a: UnitEntry, b: UnitEntry): boolean {
  if ((a.unit === undefined) !== (b.unit === undefined)) return false;
  if (a.unit && b.unit && !sameJson(a.unit, b.unit)) return false;
  return a.states.length === b.states.length && a.states.every((s, i) => sameJson(s, b.states[i]));
}

function sameMachine(a: ApiMachine, b: ApiMachine): boolean {
  return a === b || stableKey(machineKey(a)) === stableKey(machineKey(b));
}

function machineKey(m: ApiMachine): unknown {
  return { id: m.id, ip: m.primaryIP ?? '', metadata: sortedEntries(m.metadata ?? {}) };
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => compare(a, b));
}

/** Equal as stableKey sees them: the same object, the same JSON values, or (rare: undefined fields) the same stable key. */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || equalValues(a, b) || stableKey(a) === stableKey(b);
}

/** Plain JSON values, deeply equal (object key order aside); false when unsure. Allocates nothing. */
function equalValues(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equalValues(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k)) continue;
    if (!Object.prototype.hasOwnProperty.call(y, k) || !equalValues(x[k], y[k])) return false;
    count++;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k)) count--;
  return count === 0;
}

/** JSON with object keys sorted, so field order on the wire does not count as a change. */
export function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** The `fleet/clusterContext` payload for a snapshot. */
export function clusterContextOf(snapshot: ClusterSnapshot): ClusterContext {
  return {
    machines: snapshot.machines.map(m => ({
      id: m.id,
      ...(m.primaryIP ? { primaryIP: m.primaryIP } : {}),
      metadata: { ...(m.metadata ?? {}) },
    })),
    units: snapshot.units.map(u => u.name),
    unitDetails: snapshot.units.map(clusterUnitOf),
  };
}

/**
 * Whether two contexts say the same (a state change alone leaves it as it was): the units'
 * details are compared by identity first, which clusterContextOf keeps for unchanged units.
 */
export function sameClusterContext(a: ClusterContext, b: ClusterContext): boolean {
  const same = <T>(x: readonly T[] | undefined, y: readonly T[] | undefined) =>
    x === y || (!!x && !!y && x.length === y.length && x.every((v, i) => sameJson(v, y[i])));
  return same(a.units, b.units) && same(a.unitDetails, b.unitDetails) && same(a.machines, b.machines);
}

/** Hashes per registry entry, shared by the explorer's rows and the language server's context: a unit is hashed once per read that changed it. */
const hashOf = new WeakMap<ApiUnit, string | undefined>();

/** fleet's hash of a registry entry's options (undefined without options). */
export function registryHash(u: ApiUnit): string | undefined {
  if (hashOf.has(u)) return hashOf.get(u);
  const hash = u.options?.length ? unitHash(u.options.map(o => ({ section: o.section, name: o.name, value: o.value ?? '' }))) : undefined;
  hashOf.set(u, hash);
  return hash;
}

/** Details per registry entry: unchanged units keep their objects between reads (reuseSnapshot), so a change hashes only the units it touched. */
const detailsOf = new WeakMap<ApiUnit, ClusterUnit>();

function clusterUnitOf(u: ApiUnit): ClusterUnit {
  const known = detailsOf.get(u);
  if (known) return known;
  const d: ClusterUnit = { name: u.name };
  if (u.desiredState) d.desiredState = u.desiredState;
  if (u.currentState) d.currentState = u.currentState;
  if (u.machineID) d.machineID = u.machineID;
  const hash = registryHash(u);
  if (hash) d.hash = hash;
  // What it requires of its neighbours, for the placement preview.
  const xfleet = (u.options ?? []).filter(o => o.section === 'X-Fleet').map(o => ({ name: o.name, value: o.value ?? '' }));
  if (xfleet.length > 0) d.xfleet = xfleet;
  detailsOf.set(u, d);
  return d;
}

/** fleetctl's machine column: `4d389537.../10.1.1.7` (short ID with `...`, then the IP when known). */
export function machineLabel(machineId: string, machines: readonly ApiMachine[], full = false): string {
  const short = full ? machineId : `${machineId.slice(0, 8)}...`;
  const ip = machines.find(m => m.id === machineId)?.primaryIP;
  return ip ? `${short}/${ip}` : short;
}

/** fleetctl's metadata column: `k=v` pairs, keys sorted, joined by `,`; `-` when empty. */
export function metadataLabel(metadata: Record<string, string> | undefined): string {
  const entries = sortedEntries(metadata ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}
