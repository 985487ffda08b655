/**
 * The ClusterModel's update path as it was before per-unit reuse (commit 0b96ce9), copied verbatim
 * from client/src/cluster/snapshot.ts (`ClusterSnapshot.normalize`, `diffSnapshots`, `stableKey`,
 * `clusterContextOf`) and client/src/cluster/unitRows.ts (`computeRows`, `makeRow`), so
 * bench/model.bench.ts can time
 * the old and the new code in the same run. Only the benchmark imports this file.
 */
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { description, isGlobalUnit, isTemplateName, unitHash } from '../../unitfile/src';
import type { ClusterSnapshot, SnapshotDiff } from '../../client/src/cluster/snapshot';
import type { ClusterContext, ClusterUnit } from '../../protocol/src/lsp';
import { displayState, toUnitOptions, type UnitRow } from '../../client/src/cluster/unitRows';

export function normalize(snapshot: ClusterSnapshot): ClusterSnapshot {
  return {
    machines: [...snapshot.machines].sort((a, b) => compare(a.id, b.id)),
    units: [...snapshot.units].sort((a, b) => compare(a.name, b.name)),
    states: [...snapshot.states].sort((a, b) => compare(a.name, b.name) || compare(a.machineID ?? '', b.machineID ?? '')),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function diffSnapshots(before: ClusterSnapshot | undefined, after: ClusterSnapshot): SnapshotDiff {
  const prev = before ?? { machines: [], units: [], states: [] };
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

function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** unitRows() on a snapshot it has not seen: every row built anew. */
export function computeRows(snapshot: ClusterSnapshot): UnitRow[] {
  const statesByUnit = new Map<string, ApiUnitState[]>();
  for (const s of snapshot.states) {
    const list = statesByUnit.get(s.name);
    if (list) list.push(s);
    else statesByUnit.set(s.name, [s]);
  }
  const rows: UnitRow[] = [];
  const seen = new Set<string>();
  for (const unit of snapshot.units) {
    seen.add(unit.name);
    rows.push(makeRow(unit.name, unit, statesByUnit.get(unit.name) ?? []));
  }
  for (const [name, states] of statesByUnit) if (!seen.has(name)) rows.push(makeRow(name, undefined, states));
  return rows;
}

function makeRow(name: string, unit: ApiUnit | undefined, states: ApiUnitState[]): UnitRow {
  const options = toUnitOptions(unit?.options);
  const global = options.length > 0 && isGlobalUnit(options);
  const row: UnitRow = {
    name,
    unit,
    desiredState: unit?.desiredState,
    currentState: unit?.currentState,
    machineId: unit?.machineID || (!global && states.length === 1 ? states[0]?.machineID : undefined) || undefined,
    reason: unit?.reason || undefined,
    global,
    template: isTemplateName(name),
    states,
    hash: options.length > 0 ? unitHash(options) : states[0]?.hash,
    description: options.length > 0 ? description(options) : undefined,
    display: 'unknown',
  };
  row.display = displayState(row);
  return row;
}

/** The `fleet/clusterContext` payload for a snapshot: every unit's options hashed on every change. */
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
      return d;
    }),
  };
}
