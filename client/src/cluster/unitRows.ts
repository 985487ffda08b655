/**
 * Joins the registry's units with the agents' unit states into one row per unit, and decides
 * the state the explorer shows for it. Pure; no `vscode` import.
 */
import type { ApiUnit, ApiUnitOption, ApiUnitState, JobState } from '../../../protocol/src/api';
import { description, isGlobalUnit, isTemplateName, type UnitOption } from '../../../unitfile/src';
import { registryHash, unitEntries, type ClusterSnapshot } from './snapshot';

/** What the explorer shows for a unit, worst first (the order of the "by state" groups). */
export type DisplayState = 'failed' | 'restarting' | 'unplaceable' | 'pending' | 'launched' | 'loaded' | 'inactive' | 'unknown';
export const DISPLAY_STATES: readonly DisplayState[] = ['failed', 'restarting', 'unplaceable', 'pending', 'launched', 'loaded', 'inactive', 'unknown'];

export interface UnitRow {
  name: string;
  /** undefined for a unit that only has states (its registry entry is gone). */
  unit: ApiUnit | undefined;
  desiredState: JobState | undefined;
  currentState: JobState | undefined;
  machineId: string | undefined;
  reason: string | undefined;
  global: boolean;
  template: boolean;
  states: ApiUnitState[];
  /** The registry copy's hash (40 hex), when it has options. */
  hash: string | undefined;
  description: string | undefined;
  display: DisplayState;
}

export function toUnitOptions(options: readonly ApiUnitOption[] | undefined): UnitOption[] {
  return (options ?? []).map(o => ({ section: o.section, name: o.name, value: o.value ?? '' }));
}

/** Rows per snapshot: a snapshot is never changed once read, and a render asks for its rows many times. */
const rowsOf = new WeakMap<ClusterSnapshot, UnitRow[]>();
/**
 * The row last built for a registry entry (or, for a unit with only states, its first state): the
 * model keeps unchanged units' objects from one read to the next (reuseSnapshot), so a unit whose
 * entry and states are the same objects keeps its row instead of hashing its options again.
 */
const rowOf = new WeakMap<ApiUnit | ApiUnitState, UnitRow>();

export function unitRows(snapshot: ClusterSnapshot): UnitRow[] {
  const known = rowsOf.get(snapshot);
  if (known) return known;
  const rows = computeRows(snapshot);
  rowsOf.set(snapshot, rows);
  return rows;
}

function computeRows(snapshot: ClusterSnapshot): UnitRow[] {
  const rows: UnitRow[] = [];
  for (const [name, { unit, states }] of unitEntries(snapshot)) {
    const key = unit ?? states[0]!;
    const kept = rowOf.get(key);
    if (kept && kept.name === name && kept.unit === unit && kept.states.length === states.length && kept.states.every((s, i) => s === states[i])) {
      rows.push(kept);
      continue;
    }
    const row = makeRow(name, unit, states);
    rowOf.set(key, row);
    rows.push(row);
  }
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
    hash: options.length > 0 ? registryHash(unit!) : states[0]?.hash,
    description: options.length > 0 ? description(options) : undefined,
    display: 'unknown',
  };
  row.display = displayState(row);
  return row;
}

export function displayState(row: Pick<UnitRow, 'unit' | 'desiredState' | 'currentState' | 'reason' | 'global' | 'states' | 'machineId'>): DisplayState {
  const relevant = row.global || !row.machineId ? row.states : row.states.filter(s => s.machineID === row.machineId);
  if (relevant.some(s => s.systemdActiveState === 'failed')) return 'failed';
  // systemd's Restart= loop: the main process exited and a restart is scheduled (crash looping).
  if (relevant.some(s => s.systemdSubState === 'auto-restart')) return 'restarting';
  if (!row.unit) return 'unknown';
  const desired = row.desiredState ?? 'inactive';
  if (row.global) {
    if (desired === 'inactive') return 'inactive';
    if (row.reason && relevant.length === 0) return 'unplaceable';
    if (desired === 'launched') {
      if (stoppedBySystemd(relevant)) return 'inactive';
      if (relevant.length === 0 || relevant.some(s => s.systemdActiveState !== 'active')) return 'pending';
      return 'launched';
    }
    return 'loaded';
  }
  const current = row.currentState ?? 'inactive';
  if (desired !== 'inactive' && current !== desired) return row.reason ? 'unplaceable' : 'pending';
  if (current === 'launched' && relevant.some(s => s.systemdActiveState === 'activating' || s.systemdActiveState === 'deactivating')) return 'pending';
  // fleet still calls it launched, but systemd stopped it (a BindsTo= sidekick whose service
  // stopped, a oneshot that ran): the row shows what runs, never a green icon by `inactive (dead)`.
  if (current === 'launched' && stoppedBySystemd(relevant)) return 'inactive';
  return current;
}

/** Every machine that reports the unit has it inactive: systemd is not running it anywhere. */
function stoppedBySystemd(states: readonly ApiUnitState[]): boolean {
  return states.length > 0 && states.every(s => s.systemdActiveState === 'inactive');
}

/**
 * What a failing or restarting unit's state detail says in a few words: the last exit (`exit 1`,
 * `signal KILL`) and the restart count (`restarted 5×`), for the explorer row.
 */
export function failureSummary(detail: string | undefined): string | undefined {
  if (!detail) return undefined;
  const parts: string[] = [];
  const exit = /code=(exited|killed|dumped), status=(\d+)(?:\/(\w+))?/.exec(detail);
  if (exit) parts.push(exit[1] === 'exited' ? `exit ${exit[2]}` : `signal ${exit[3] ?? exit[2]}`);
  else {
    const status = /status[= ](\d+)/.exec(detail)?.[1];
    if (status !== undefined) parts.push(`exit ${status}`);
  }
  const restarts = /restarted (\d+) time/.exec(detail)?.[1];
  if (restarts) parts.push(`restarted ${restarts}×`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** `active (running)`, `loaded/inactive (dead)`, … from an agent's state; undefined when it has none. */
export function systemdSummary(state: ApiUnitState | undefined): string | undefined {
  if (!state) return undefined;
  const active = state.systemdActiveState;
  const sub = state.systemdSubState;
  if (!active && !sub) return state.systemdLoadState;
  const main = sub ? `${active ?? '-'} (${sub})` : `${active}`;
  return state.systemdLoadState && state.systemdLoadState !== 'loaded' ? `${state.systemdLoadState}/${main}` : main;
}
