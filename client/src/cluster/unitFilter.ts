/**
 * What keeps the Units view usable with thousands of units: the grouping it uses when the user
 * chose none (flat for a few units, by machine above AUTO_GROUP_THRESHOLD, with the groups
 * collapsed), and the filter of "Fleet: Filter Units…" (terms that narrow the rows, shown in the
 * view's description). Pure; no `vscode` import.
 *
 * A filter is whitespace-separated terms, all of which a row must match (case-insensitive):
 *  - `state:<display state>` (failed, restarting, unplaceable, pending, launched, loaded, inactive, unknown);
 *  - `machine:<ID prefix or IP>`;
 *  - anything else is a unit-name pattern: a glob when it has `*` or `?`, else a substring.
 */
import type { ApiMachine } from '../../../protocol/src/api';
import { DISPLAY_STATES, type DisplayState, type UnitRow } from './unitRows';

/** How the Units view groups its rows. */
export type GroupBy = 'machine' | 'state' | 'flat';

/** Above this many units the Units view groups by machine unless the user chose a grouping. */
export const AUTO_GROUP_THRESHOLD = 500;

export interface GroupingDecision {
  groupBy: GroupBy;
  /** Groups start collapsed (the automatic grouping of a large cluster). */
  collapseGroups: boolean;
}

/**
 * The grouping of the Units view: the user's explicit choice always; otherwise flat, or by
 * machine with collapsed groups above the threshold unless a filter already narrows the rows.
 */
export function decideGrouping(configured: GroupBy | undefined, unitCount: number, filtered: boolean, threshold = AUTO_GROUP_THRESHOLD): GroupingDecision {
  if (configured) return { groupBy: configured, collapseGroups: false };
  if (unitCount > threshold && !filtered) return { groupBy: 'machine', collapseGroups: true };
  return { groupBy: 'flat', collapseGroups: false };
}

type Term = { kind: 'state'; state: DisplayState } | { kind: 'machine'; text: string } | { kind: 'name'; text: string; glob?: RegExp };

export interface UnitFilter {
  /** The text as the user typed it, trimmed. */
  text: string;
  terms: Term[];
}

/** Parses a filter; an empty text is no filter (undefined); a bad term is an error that says the fix. */
export function parseUnitFilter(raw: string): { filter?: UnitFilter; error?: string } {
  const text = raw.trim();
  if (text === '') return {};
  const terms: Term[] = [];
  for (const word of text.split(/\s+/)) {
    const lower = word.toLowerCase();
    if (lower.startsWith('state:')) {
      const state = lower.slice('state:'.length) as DisplayState;
      if (!DISPLAY_STATES.includes(state)) return { error: `unknown state "${word.slice(6)}" in the filter: use one of ${DISPLAY_STATES.join(', ')}` };
      terms.push({ kind: 'state', state });
    } else if (lower.startsWith('machine:')) {
      const m = lower.slice('machine:'.length);
      if (m === '') return { error: 'machine: needs a machine ID prefix or IP, e.g. machine:5911b4a9' };
      terms.push({ kind: 'machine', text: m });
    } else if (/[*?]/.test(lower)) {
      const source = lower
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.');
      terms.push({ kind: 'name', text: lower, glob: new RegExp(`^${source}$`) });
    } else {
      terms.push({ kind: 'name', text: lower });
    }
  }
  return { filter: { text, terms } };
}

function rowMachines(row: UnitRow): string[] {
  if (row.global) return row.states.map(s => s.machineID ?? '').filter(Boolean);
  return row.machineId ? [row.machineId] : [];
}

function matches(row: UnitRow, term: Term, ipOf: ReadonlyMap<string, string>): boolean {
  switch (term.kind) {
    case 'state':
      return row.display === term.state;
    case 'machine':
      return rowMachines(row).some(id => id.toLowerCase().startsWith(term.text) || ipOf.get(id) === term.text);
    case 'name': {
      const name = row.name.toLowerCase();
      return term.glob ? term.glob.test(name) : name.includes(term.text);
    }
  }
}

/** The rows every term of the filter matches (all rows without a filter). */
export function filterRows(rows: readonly UnitRow[], filter: UnitFilter | undefined, machines: readonly ApiMachine[]): UnitRow[] {
  if (!filter || filter.terms.length === 0) return [...rows];
  const ipOf = new Map<string, string>();
  for (const m of machines) if (m.primaryIP) ipOf.set(m.id, m.primaryIP);
  return rows.filter(row => filter.terms.every(t => matches(row, t, ipOf)));
}

const number = new Intl.NumberFormat('en');

/** The Units view's description: the filter and how much it shows, or the automatic grouping. */
export function unitsViewDescription(filter: UnitFilter | undefined, shown: number, total: number, decision: GroupingDecision): string | undefined {
  if (filter) return `filter: ${filter.text} · ${number.format(shown)} of ${number.format(total)}`;
  if (decision.collapseGroups) return `${number.format(total)} units by machine`;
  return undefined;
}
