/**
 * The cluster snapshot the explorer renders: one consistent read of machines, units and unit
 * states, plus pure helpers to compare two snapshots and to derive what the language server
 * needs. No `vscode` import here.
 */
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../../protocol/src/api';
import type { ClusterContext, ClusterUnit } from '../../../protocol/src/lsp';
import { unitHash } from '../../../unitfile/src';
import type { FleetApi } from '../api/types';

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

  export function normalize(snapshot: ClusterSnapshot): ClusterSnapshot {
    return {
      machines: [...snapshot.machines].sort((a, b) => compare(a.id, b.id)),
      units: [...snapshot.units].sort((a, b) => compare(a.name, b.name)),
      states: [...snapshot.states].sort((a, b) => compare(a.name, b.name) || compare(a.machineID ?? '', b.machineID ?? '')),
    };
  }
}

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

export function diffSnapshots(before: ClusterSnapshot | undefined, after: ClusterSnapshot): SnapshotDiff {
  const prev = before ?? ClusterSnapshot.empty;
  const machinesChanged = stableKey(prev.machines.map(machineKey)) !== stableKey(after.machines.map(machineKey));
  const unitKeys = (s: ClusterSnapshot): Map<string, string> => {
    const out = new Map<string, string>();
    for (const u of s.units) out.set(u.name, stableKey(u));
    for (const st of s.states) out.set(st.name, (out.get(st.name) ?? '') + '|' + stableKey(st));
    return out;
  };
  const a = unitKeys(prev);
  const b = unitKeys(after);
  const addedUnits: string[] = [];
  const removedUnits: string[] = [];
  const changedUnits: string[] = [];
  for (const [name, key] of b) {
    const old = a.get(name);
    if (old === undefined) addedUnits.push(name);
    else if (old !== key) changedUnits.push(name);
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

function machineKey(m: ApiMachine): unknown {
  return { id: m.id, ip: m.primaryIP ?? '', metadata: sortedEntries(m.metadata ?? {}) };
}

function sortedEntries(record: Record<string, string>): [string, string][] {
  return Object.entries(record).sort(([a], [b]) => compare(a, b));
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
    unitDetails: snapshot.units.map(u => {
      const d: ClusterUnit = { name: u.name };
      if (u.desiredState) d.desiredState = u.desiredState;
      if (u.currentState) d.currentState = u.currentState;
      if (u.machineID) d.machineID = u.machineID;
      if (u.options?.length) d.hash = unitHash(u.options.map(o => ({ section: o.section, name: o.name, value: o.value ?? '' })));
      const xfleet = (u.options ?? []).filter(o => o.section === 'X-Fleet').map(o => ({ name: o.name, value: o.value ?? '' }));
      if (xfleet.length > 0) d.xfleet = xfleet;
      return d;
    }),
  };
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
