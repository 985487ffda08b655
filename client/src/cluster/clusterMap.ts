/**
 * The cluster map as plain data: one box per machine holding its units as chips (or, above
 * `maxChips` units, counts by state), the global units as a band across all machines, the units
 * that wait for a machine in a lane with their reason, and the MachineOf / Conflicts / Replaces
 * edges between units. "What if machine X is hidden" runs the scheduler's own planCluster on the
 * snapshot without X. The webview only draws this. Pure; no `vscode` import.
 */
import type { ApiMachine } from '../../../protocol/src/api';
import { planCluster, type ClusterSnapshot as SchedulerSnapshot, type DesiredState } from '../../../scheduler/src';
import { description, requirements, type Requirements } from '../../../unitfile/src';
import type { ApiUnit, ApiUnitState } from '../../../protocol/src/api';
import { edgesOf, type MapEdge, type Relations } from './mapEdges';
import { metadataLabel, type ClusterSnapshot, type SnapshotDiff } from './snapshot';
import { STATE_ICONS, STATE_WORDS } from './treeItems';
import { DISPLAY_STATES, displayState, toUnitOptions, type DisplayState } from './unitRows';

/** Above this many units a machine shows counts by state instead of chips. */
export const DEFAULT_MAX_CHIPS = 40;

export interface MapChip {
  name: string;
  display: DisplayState;
  /** The explorer's state words and icon colour (a theme colour id). */
  stateLabel: string;
  color: string;
  /** For the chip's accessible label and tooltip: `nginx.1.service, Launched`. */
  description: string | undefined;
}

export interface MapMachine {
  id: string;
  shortId: string;
  ip: string | undefined;
  /** fleetctl's metadata column (`k=v,…` or `-`). */
  metadata: string;
  /** Undefined when aggregated. */
  chips: MapChip[] | undefined;
  /** Units on this machine by display state (global units included). */
  counts: Partial<Record<DisplayState, number>>;
  total: number;
}

export interface WaitingUnit extends MapChip {
  reason: string;
}

export type { EdgeKind, MapEdge, Relations } from './mapEdges';

export interface MapMove {
  unit: string;
  from: string | undefined;
  /** The machine planCluster puts it on; undefined: it waits. */
  to: string | undefined;
  /** The scheduler's placement reason, or why it waits. */
  reason: string;
}

export interface WhatIf {
  hidden: string;
  moves: MapMove[];
}

export interface ClusterMap {
  machines: MapMachine[];
  /** Global units (each runs on every eligible machine). */
  global: MapChip[];
  waiting: WaitingUnit[];
  /**
   * Each unit's MachineOf / Conflicts / Replaces (specifiers substituted, globs as written): the
   * webview resolves the edges of the unit it highlights with `edgesOf` (mapEdges.ts). Sending
   * resolved edges would not scale: one `Conflicts=app.*` over 5,000 units is thousands of edges.
   */
  relations: Record<string, Relations>;
  whatIf?: WhatIf;
}

export interface ClusterMapOptions {
  maxChips?: number;
  /** A machine to take out of the cluster for the "what if" view. */
  hide?: string | undefined;
  /** Rows kept from the previous map, and the model's diff since the snapshot it was built from. */
  cache?: MapRowCache;
  since?: { snapshot: ClusterSnapshot; diff: SnapshotDiff } | undefined;
}

/** What the map needs of a unit: the explorer's display state (unitRows' displayState) without the hash the explorer shows. */
interface MapRow {
  name: string;
  unit: ApiUnit | undefined;
  desiredState: ApiUnit['desiredState'];
  machineId: string | undefined;
  reason: string | undefined;
  global: boolean;
  states: ApiUnitState[];
  description: string | undefined;
  requirements: Requirements | undefined;
  display: DisplayState;
}

function makeRow(name: string, unit: ApiUnit | undefined, states: ApiUnitState[]): MapRow {
  const options = toUnitOptions(unit?.options);
  const req = options.some(o => o.section === 'X-Fleet') ? requirements(options, name) : undefined;
  const global = req?.global ?? false;
  const row: MapRow = {
    name,
    unit,
    desiredState: unit?.desiredState,
    reason: unit?.reason || undefined,
    global,
    states,
    description: description(options),
    requirements: req,
    // As unitRows: the registry's target, else the one machine that reports the unit.
    machineId: unit?.machineID || (!global && states.length === 1 ? states[0]?.machineID : undefined) || undefined,
    display: 'unknown',
  };
  row.display = displayState({ ...row, currentState: unit?.currentState });
  return row;
}

/**
 * The rows of the last snapshot, kept so that the next one rebuilds only the units the model's
 * diff names (a change to one unit of 5,000 parses one unit, not 5,000).
 */
export class MapRowCache {
  private base: ClusterSnapshot | undefined;
  private rows = new Map<string, MapRow>();

  /** `since`: the snapshot this cache was last given and the model's diff from it to `snapshot`. */
  rowsFor(snapshot: ClusterSnapshot, since?: { snapshot: ClusterSnapshot; diff: SnapshotDiff }): MapRow[] {
    if (snapshot === this.base) return [...this.rows.values()];
    const dirty =
      since && this.base === since.snapshot ? new Set([...since.diff.addedUnits, ...since.diff.changedUnits, ...since.diff.removedUnits]) : undefined;
    const statesByUnit = new Map<string, ApiUnitState[]>();
    for (const st of snapshot.states) {
      if (dirty && !dirty.has(st.name) && this.rows.has(st.name)) continue;
      const list = statesByUnit.get(st.name);
      if (list) list.push(st);
      else statesByUnit.set(st.name, [st]);
    }
    const next = new Map<string, MapRow>();
    const rowOf = (name: string, unit: ApiUnit | undefined): MapRow => {
      const kept = dirty && !dirty.has(name) ? this.rows.get(name) : undefined;
      return kept ?? makeRow(name, unit, statesByUnit.get(name) ?? []);
    };
    for (const unit of snapshot.units) next.set(unit.name, rowOf(unit.name, unit));
    for (const st of snapshot.states) if (!next.has(st.name)) next.set(st.name, rowOf(st.name, undefined));
    this.rows = next;
    this.base = snapshot;
    return [...next.values()];
  }
}

function chip(row: MapRow): MapChip {
  const c: MapChip = {
    name: row.name,
    display: row.display,
    stateLabel: STATE_WORDS[row.display],
    color: STATE_ICONS[row.display].color ?? 'foreground',
    description: row.description,
  };
  return c;
}

/** From a snapshot to the map's boxes, band, lane and edges. */
export function clusterMap(snapshot: ClusterSnapshot, options: ClusterMapOptions = {}): ClusterMap {
  const maxChips = options.maxChips ?? DEFAULT_MAX_CHIPS;
  const rows = (options.cache ?? new MapRowCache()).rowsFor(snapshot, options.since);
  const onMachine = new Map<string, MapRow[]>();
  const global: MapChip[] = [];
  const waiting: WaitingUnit[] = [];
  const globalCounts = new Map<string, Map<DisplayState, number>>();
  for (const row of rows) {
    if (row.global) {
      global.push(chip(row));
      for (const s of row.states) {
        if (!s.machineID) continue;
        const counts = globalCounts.get(s.machineID) ?? new Map<DisplayState, number>();
        const display: DisplayState = s.systemdActiveState === 'failed' ? 'failed' : s.systemdActiveState === 'active' ? 'launched' : row.display;
        counts.set(display, (counts.get(display) ?? 0) + 1);
        globalCounts.set(s.machineID, counts);
      }
      if (row.display === 'unplaceable') waiting.push({ ...chip(row), reason: row.reason ?? 'runs on no machine' });
      continue;
    }
    if (row.machineId) {
      const list = onMachine.get(row.machineId);
      if (list) list.push(row);
      else onMachine.set(row.machineId, [row]);
    } else if (row.unit && (row.desiredState ?? 'inactive') !== 'inactive') {
      waiting.push({ ...chip(row), reason: row.reason ?? 'not scheduled yet' });
    }
  }
  const machines = snapshot.machines.map((m): MapMachine => {
    const own = onMachine.get(m.id) ?? [];
    const counts: Partial<Record<DisplayState, number>> = {};
    for (const r of own) counts[r.display] = (counts[r.display] ?? 0) + 1;
    for (const [state, n] of globalCounts.get(m.id) ?? []) counts[state] = (counts[state] ?? 0) + n;
    const total = DISPLAY_STATES.reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    return {
      id: m.id,
      shortId: m.id.slice(0, 8),
      ip: m.primaryIP || undefined,
      metadata: metadataLabel(m.metadata),
      chips: own.length > maxChips ? undefined : own.map(chip),
      counts,
      total,
    };
  });
  // Units on machines that are not in the list (a machine that just left) still show: they wait.
  const known = new Set(snapshot.machines.map(m => m.id));
  for (const [id, list] of onMachine) {
    if (known.has(id)) continue;
    for (const r of list) waiting.push({ ...chip(r), reason: r.reason ?? `its machine ${id.slice(0, 8)} is not in the cluster` });
  }
  waiting.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const relations: Record<string, Relations> = {};
  for (const r of rows) {
    const req = r.requirements;
    if (!req || (req.peers.length === 0 && req.conflicts.length === 0 && req.replaces.length === 0)) continue;
    const rel: Relations = {};
    if (req.peers.length) rel.machineOf = req.peers;
    if (req.conflicts.length) rel.conflicts = req.conflicts;
    if (req.replaces.length) rel.replaces = req.replaces;
    relations[r.name] = rel;
  }
  const map: ClusterMap = { machines, global, waiting, relations };
  if (options.hide !== undefined) map.whatIf = whatIfHidden(snapshot, options.hide);
  return map;
}

/** Every edge of the map (tests and small clusters; the webview asks `edgesOf` one unit at a time). */
export function mapEdges(map: ClusterMap): MapEdge[] {
  const names = [...map.machines.flatMap(m => (m.chips ?? []).map(c => c.name)), ...map.global.map(c => c.name), ...map.waiting.map(c => c.name)];
  const seen = new Set<string>();
  const out: MapEdge[] = [];
  for (const name of names) {
    for (const e of edgesOf(name, map.relations, names)) {
      const key = `${e.from} ${e.kind} ${e.to}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(e);
      }
    }
  }
  return out;
}

/** The scheduler's input from the explorer's snapshot: units with their target, machines with metadata. */
export function schedulerSnapshot(snapshot: ClusterSnapshot, without?: string): SchedulerSnapshot {
  const machines = snapshot.machines.filter(m => m.id !== without).map(m => ({ id: m.id, metadata: { ...(m.metadata ?? {}) } }));
  const units = snapshot.units.map(u => {
    const req: Requirements = requirements(toUnitOptions(u.options), u.name);
    return {
      name: u.name,
      desiredState: (u.desiredState ?? 'inactive') as DesiredState,
      requirements: req,
      machineId: req.global ? undefined : u.machineID || undefined,
    };
  });
  return { machines, units };
}

/**
 * Where the units go when `machineId` disappears: planCluster on the snapshot without it, compared
 * with where each unit is now. Every unit whose machine changes is listed, with the scheduler's
 * reason (placement or why it waits).
 */
export function whatIfHidden(snapshot: ClusterSnapshot, machineId: string): WhatIf {
  if (!snapshot.machines.some(m => m.id === machineId)) {
    throw new Error(`What if: machine ${machineId} is not in the cluster; pick one of ${snapshot.machines.map(m => m.id.slice(0, 8)).join(', ') || '(none)'}`);
  }
  const input = schedulerSnapshot(snapshot, machineId);
  const before = new Map(input.units.map(u => [u.name, u.machineId]));
  const after = new Map(before);
  const why = new Map<string, string>();
  const plan = planCluster(input);
  for (const a of plan.actions) {
    if (a.kind === 'schedule') after.set(a.unit, a.machineId);
    else if (after.get(a.unit) === a.machineId) after.delete(a.unit);
    why.set(a.unit, a.reason);
  }
  const moves: MapMove[] = [];
  for (const u of input.units) {
    if (u.desiredState === 'inactive' || u.requirements.global) continue;
    const from = before.get(u.name);
    const to = after.get(u.name);
    if (from === to) continue;
    const reason = to === undefined ? (plan.reasons.get(u.name) ?? why.get(u.name) ?? 'no machine can take it') : (why.get(u.name) ?? '');
    moves.push(to === undefined ? { unit: u.name, from, to: undefined, reason } : { unit: u.name, from, to, reason });
  }
  moves.sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0));
  return { hidden: machineId, moves };
}

/** `4d389537/10.0.0.7`: a machine's short label. */
export function shortMachine(id: string, machines: readonly ApiMachine[]): string {
  const ip = machines.find(m => m.id === id)?.primaryIP;
  return ip ? `${id.slice(0, 8)}/${ip}` : id.slice(0, 8);
}
