/**
 * The explorer's tree, as plain data: which nodes exist under which parent (grouping, sorting)
 * and how each node looks (label, description, icon, contextValue, Markdown tooltip). The
 * vscode adapter (clusterTree.ts) only turns an ItemSpec into a TreeItem. Pure; no `vscode`.
 */
import type { ApiMachine, ApiUnitState } from '../../../protocol/src/api';
import { shortHash } from '../../../unitfile/src';
import { machineLabel, metadataLabel, type ClusterSnapshot } from './snapshot';
import { DISPLAY_STATES, failureSummary, systemdSummary, unitRows, type DisplayState, type UnitRow } from './unitRows';
import { filterRows, type GroupBy, type UnitFilter } from './unitFilter';
import type { ConnectionProblem } from './connectionProblem';

export type SortBy = 'name' | 'state' | 'machine';
export const GROUP_BY_VALUES: readonly GroupBy[] = ['machine', 'state', 'flat'];
export const SORT_BY_VALUES: readonly SortBy[] = ['name', 'state', 'machine'];

export interface ExplorerOptions {
  groupBy: GroupBy;
  sortBy: SortBy;
  /** Only the rows this filter matches (Fleet: Filter Units…). */
  filter?: UnitFilter;
  /** Groups start collapsed (the automatic grouping of a large cluster, unitFilter.ts). */
  collapseGroups?: boolean;
}

export namespace ExplorerOptions {
  export const defaults: ExplorerOptions = { groupBy: 'flat', sortBy: 'name' };
  export function from(raw: { groupBy?: unknown; sortBy?: unknown }): ExplorerOptions {
    return {
      groupBy: (GROUP_BY_VALUES as readonly unknown[]).includes(raw.groupBy) ? (raw.groupBy as GroupBy) : defaults.groupBy,
      sortBy: (SORT_BY_VALUES as readonly unknown[]).includes(raw.sortBy) ? (raw.sortBy as SortBy) : defaults.sortBy,
    };
  }
}

/** The model's view of the connection, as the trees need it. */
export type ConnectionView =
  | { kind: 'disconnected' }
  | { kind: 'loading'; label: string }
  | { kind: 'connected'; label: string; snapshot: ClusterSnapshot; error?: string }
  /** Unreachable with nothing read yet: the views show the welcome of `problem` (connectionProblem.ts). */
  | { kind: 'error'; label: string; error: string; problem: ConnectionProblem };

export type ClusterNode =
  | { kind: 'machine'; id: string; machine: ApiMachine }
  | { kind: 'unit'; id: string; row: UnitRow; machines: readonly ApiMachine[] }
  | { kind: 'unitState'; id: string; row: UnitRow; state: ApiUnitState; machines: readonly ApiMachine[] }
  | { kind: 'group'; id: string; label: string; description?: string; icon: Icon; rows: UnitRow[]; machines: readonly ApiMachine[]; options: ExplorerOptions }
  | { kind: 'message'; id: string; label: string; tooltip?: string; icon: Icon; command?: string };

export interface Icon {
  /** A codicon id, e.g. `pass-filled`. */
  id: string;
  /** A theme color id, e.g. `testing.iconPassed`. */
  color?: string;
}

export interface ItemSpec {
  id: string;
  label: string;
  description?: string;
  /** Markdown. */
  tooltip?: string;
  contextValue: string;
  icon: Icon;
  collapsible: 'none' | 'collapsed' | 'expanded';
  /** A command id run on click (message nodes only). */
  command?: string;
}

export const STATE_ICONS: Readonly<Record<DisplayState, Icon>> = {
  failed: { id: 'error', color: 'testing.iconFailed' },
  restarting: { id: 'debug-restart', color: 'problemsWarningIcon.foreground' },
  unplaceable: { id: 'warning', color: 'problemsWarningIcon.foreground' },
  pending: { id: 'sync~spin', color: 'charts.yellow' },
  launched: { id: 'pass-filled', color: 'testing.iconPassed' },
  loaded: { id: 'circle-filled', color: 'charts.blue' },
  inactive: { id: 'circle-outline', color: 'disabledForeground' },
  unknown: { id: 'question', color: 'disabledForeground' },
};

/** Each display state in words, as the Units view's groups and the cluster map's chips name it. */
export const STATE_WORDS: Readonly<Record<DisplayState, string>> = {
  failed: 'Failed',
  restarting: 'Failing and restarting',
  unplaceable: 'Cannot be scheduled',
  pending: 'Pending',
  launched: 'Launched',
  loaded: 'Loaded',
  inactive: 'Inactive',
  unknown: 'Not in the registry',
};

/** Root nodes of the Machines view. */
export function machineRoots(view: ConnectionView): ClusterNode[] {
  const status = statusNodes(view);
  if (status) return status;
  const snapshot = (view as { snapshot: ClusterSnapshot }).snapshot;
  const error = errorNode(view);
  return [...error, ...snapshot.machines.map((machine): ClusterNode => ({ kind: 'machine', id: `machine:${machine.id}`, machine }))];
}

/** Root nodes of the Units view. */
export function unitRoots(view: ConnectionView, options: ExplorerOptions): ClusterNode[] {
  const status = statusNodes(view);
  if (status) return status;
  const snapshot = (view as { snapshot: ClusterSnapshot }).snapshot;
  const rows = options.filter ? filterRows(unitRows(snapshot), options.filter, snapshot.machines) : unitRows(snapshot);
  const error = errorNode(view);
  return [...error, ...groupRows(rows, snapshot.machines, options)];
}

/** Children of a node; the snapshot is passed again so children always reflect the latest read. */
export function childrenOf(node: ClusterNode, view: ConnectionView, options: ExplorerOptions): ClusterNode[] {
  if (view.kind !== 'connected') return [];
  const machines = view.snapshot.machines;
  switch (node.kind) {
    case 'machine': {
      const rows = unitRows(view.snapshot);
      const out: ClusterNode[] = [];
      for (const row of sortRows(rows, { ...options, sortBy: options.sortBy === 'machine' ? 'name' : options.sortBy })) {
        if (row.global) {
          const state = row.states.find(s => s.machineID === node.machine.id);
          if (state) out.push({ kind: 'unitState', id: `${node.id}/unit:${row.name}`, row, state, machines });
        } else if (row.machineId === node.machine.id) {
          out.push({ kind: 'unit', id: `${node.id}/unit:${row.name}`, row, machines });
        }
      }
      return out;
    }
    case 'group':
      return sortRows(node.rows, node.options).map(row => unitNode(row, machines, node.id));
    case 'unit':
      if (!node.row.global) return [];
      return [...node.row.states]
        .sort((a, b) => (a.machineID ?? '').localeCompare(b.machineID ?? ''))
        .map(state => ({ kind: 'unitState', id: `${node.id}/state:${state.machineID ?? '?'}`, row: node.row, state, machines }));
    default:
      return [];
  }
}

function unitNode(row: UnitRow, machines: readonly ApiMachine[], parentId?: string): ClusterNode {
  return { kind: 'unit', id: parentId ? `${parentId}/unit:${row.name}` : `unit:${row.name}`, row, machines };
}

function statusNodes(view: ConnectionView): ClusterNode[] | undefined {
  switch (view.kind) {
    case 'disconnected':
      return []; // the welcome view explains what to do
    case 'loading':
      return [{ kind: 'message', id: 'message:loading', label: `Connecting to ${view.label}…`, icon: { id: 'loading~spin' } }];
    case 'error':
      return []; // the welcome view of the reason (Retry, Edit Cluster, Select Cluster)
    default:
      return undefined;
  }
}

function errorNode(view: ConnectionView): ClusterNode[] {
  return view.kind === 'connected' && view.error ? [staleMessage(view.label, view.error)] : [];
}

/** Above a snapshot kept through a failed read. */
function staleMessage(label: string, error: string): ClusterNode {
  return {
    kind: 'message',
    id: 'message:error',
    label: `Cannot reach fleet at ${label} (showing the last snapshot)`,
    tooltip: `${escapeMarkdown(error)}\n\nClick to retry now.`,
    icon: { id: 'debug-disconnect', color: 'problemsErrorIcon.foreground' },
    command: 'fleet.refreshCluster',
  };
}

/** Groups (or not) and sorts the unit rows for the Units view. */
export function groupRows(rows: UnitRow[], machines: readonly ApiMachine[], options: ExplorerOptions): ClusterNode[] {
  if (options.groupBy === 'flat') return sortRows(rows, options).map(row => unitNode(row, machines));
  const groups = new Map<string, { label: string; description?: string; icon: Icon; rows: UnitRow[]; order: number }>();
  const add = (key: string, make: () => { label: string; description?: string; icon: Icon; order: number }, row: UnitRow) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ...make(), rows: [] }));
    g.rows.push(row);
  };
  for (const row of rows) {
    if (options.groupBy === 'state') {
      add(row.display, () => ({ label: STATE_WORDS[row.display], icon: STATE_ICONS[row.display], order: DISPLAY_STATES.indexOf(row.display) }), row);
    } else if (row.global) {
      add('global', () => ({ label: 'Global units', description: 'on every matching machine', icon: { id: 'globe' }, order: 1e6 }), row);
    } else if (row.machineId) {
      const id = row.machineId;
      const index = machines.findIndex(m => m.id === id);
      add(
        `machine:${id}`,
        () => ({
          label: machineLabel(id, machines),
          ...(metadataLabel(machines[index]?.metadata) !== '-' ? { description: metadataLabel(machines[index]?.metadata) } : {}),
          icon: { id: 'server' },
          order: index < 0 ? 1e5 : index,
        }),
        row,
      );
    } else {
      add('unscheduled', () => ({ label: 'Not scheduled', icon: { id: 'circle-slash' }, order: 2e6 }), row);
    }
  }
  return [...groups.entries()]
    .sort(([ka, a], [kb, b]) => a.order - b.order || ka.localeCompare(kb))
    .map(([key, g]): ClusterNode => ({
      kind: 'group',
      id: `group:${key}`,
      label: g.label,
      ...(g.description ? { description: `${g.description} · ${count(g.rows.length)}` } : { description: count(g.rows.length) }),
      icon: g.icon,
      rows: g.rows,
      machines,
      options,
    }));
}

function count(n: number): string {
  return n === 1 ? '1 unit' : `${n} units`;
}

/** Natural order for names, so `nginx.2.service` comes before `nginx.10.service`. */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
export function compareNames(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function sortRows(rows: readonly UnitRow[], options: ExplorerOptions): UnitRow[] {
  const byName = (a: UnitRow, b: UnitRow) => compareNames(a.name, b.name);
  const cmp =
    options.sortBy === 'state'
      ? (a: UnitRow, b: UnitRow) => DISPLAY_STATES.indexOf(a.display) - DISPLAY_STATES.indexOf(b.display) || byName(a, b)
      : options.sortBy === 'machine'
        ? (a: UnitRow, b: UnitRow) => machineOrder(a).localeCompare(machineOrder(b)) || byName(a, b)
        : byName;
  return [...rows].sort(cmp);
}

function machineOrder(row: UnitRow): string {
  // Scheduled units by machine ID, then global units, then unscheduled ones.
  return row.machineId ? `0${row.machineId}` : row.global ? '1' : '2';
}

/** The context value menus match on: `fleet.unit.<desiredState>[.global][.template]`, `fleet.machine`, … */
export function unitContextValue(row: UnitRow): string {
  if (!row.unit) return 'fleet.unit.orphan';
  return `fleet.unit.${row.desiredState ?? 'inactive'}${row.global ? '.global' : ''}${row.template ? '.template' : ''}`;
}

export function toItem(node: ClusterNode): ItemSpec {
  switch (node.kind) {
    case 'machine':
      return machineItem(node.id, node.machine);
    case 'unit':
      return unitItem(node.id, node.row, node.machines);
    case 'unitState':
      return unitStateItem(node);
    case 'group':
      return {
        id: node.id,
        label: node.label,
        ...(node.description ? { description: node.description } : {}),
        contextValue: 'fleet.group',
        icon: node.icon,
        collapsible: node.options.collapseGroups ? 'collapsed' : 'expanded',
      };
    case 'message':
      return {
        id: node.id,
        label: node.label,
        ...(node.tooltip ? { tooltip: node.tooltip } : {}),
        contextValue: 'fleet.message',
        icon: node.icon,
        collapsible: 'none',
        ...(node.command ? { command: node.command } : {}),
      };
  }
}

export function machineItem(id: string, machine: ApiMachine): ItemSpec {
  const meta = metadataLabel(machine.metadata);
  const lines = [
    `**Machine** \`${machine.id}\``,
    '',
    `- IP: ${machine.primaryIP ? escapeMarkdown(machine.primaryIP) : '-'}`,
    `- Metadata: ${escapeMarkdown(meta)}`,
  ];
  return {
    id,
    label: `${machine.id.slice(0, 8)}${machine.primaryIP ? ` ${machine.primaryIP}` : ''}`,
    ...(meta !== '-' ? { description: meta } : {}),
    tooltip: lines.join('\n'),
    contextValue: 'fleet.machine',
    icon: { id: 'server' },
    collapsible: 'collapsed',
  };
}

export function unitItem(id: string, row: UnitRow, machines: readonly ApiMachine[]): ItemSpec {
  const state = row.global ? undefined : (row.states.find(s => s.machineID === row.machineId) ?? row.states[0]);
  const parts: string[] = [];
  if (row.display === 'unplaceable') parts.push(`not scheduled: ${row.reason}`);
  else if (row.display === 'pending' && !row.global) parts.push(`${row.currentState ?? 'inactive'} → ${row.desiredState}`);
  else parts.push(row.global ? `global, ${row.desiredState ?? 'inactive'}` : (row.currentState ?? row.desiredState ?? 'unknown'));
  // Under its machine (Machines view, or Units grouped by machine) the machine is not repeated.
  const underMachine = id.startsWith('machine:') || id.startsWith('group:machine:');
  if (row.global) parts.push(`${row.states.length} machine${row.states.length === 1 ? '' : 's'}`);
  else if (row.machineId && !underMachine) parts.push(machineLabel(row.machineId, machines));
  const summary = systemdSummary(state);
  if (summary) parts.push(summary);
  // A failing or crash-looping unit says how: its last exit and how often it restarted. A running
  // one that systemd restarted says how often (a crash loop caught between two exits says so).
  if (row.display === 'failed' || row.display === 'restarting') {
    const failure = failureSummary(state?.detail ?? row.states.find(s => s.detail)?.detail);
    if (failure) parts.push(failure);
  } else if (state?.systemdActiveState === 'active') {
    const restarts = /restarted (\d+) time/.exec(state.detail ?? '')?.[1];
    if (restarts) parts.push(`restarted ${restarts}×`);
  }
  return {
    id,
    label: row.name,
    description: parts.join(' · '),
    tooltip: unitTooltip(row, machines),
    contextValue: unitContextValue(row),
    icon: STATE_ICONS[row.display],
    collapsible: row.global && row.states.length > 0 ? 'collapsed' : 'none',
  };
}

function unitStateItem(node: Extract<ClusterNode, { kind: 'unitState' }>): ItemSpec {
  const { row, state, machines } = node;
  const failed = state.systemdActiveState === 'failed';
  const active = state.systemdActiveState === 'active';
  const icon = failed ? STATE_ICONS.failed : active ? STATE_ICONS.launched : STATE_ICONS.loaded;
  const where = state.machineID ? machineLabel(state.machineID, machines) : 'unknown machine';
  const underMachine = node.id.startsWith('machine:');
  const lines = [`**${escapeMarkdown(row.name)}** on \`${state.machineID ?? '?'}\``, '', ...stateLines(state)];
  return {
    id: node.id,
    label: underMachine ? row.name : where,
    description: [underMachine ? 'global' : undefined, systemdSummary(state)].filter(Boolean).join(' · '),
    tooltip: lines.join('\n'),
    contextValue: underMachine ? unitContextValue(row) : 'fleet.unitState',
    icon,
    collapsible: 'none',
  };
}

function stateLines(state: ApiUnitState): string[] {
  const lines = [
    `- systemd: ${escapeMarkdown([state.systemdLoadState ?? '-', state.systemdActiveState ?? '-', state.systemdSubState ?? '-'].join(' / '))} (load / active / sub)`,
  ];
  if (state.hash) lines.push(`- Loaded hash: \`${shortHash(state.hash)}\``);
  if (state.detail) lines.push(`- Detail: ${escapeMarkdown(state.detail)}`);
  return lines;
}

export function unitTooltip(row: UnitRow, machines: readonly ApiMachine[]): string {
  const lines = [`**${escapeMarkdown(row.name)}**${row.description ? ` — ${escapeMarkdown(row.description)}` : ''}`, ''];
  if (!row.unit) lines.push('- Not in the registry (an agent still reports a state for it)');
  else {
    lines.push(`- Desired state: ${row.desiredState ?? 'inactive'}`);
    if (!row.global) lines.push(`- Current state: ${row.currentState ?? 'inactive'}`);
    lines.push(
      `- Machine: ${row.global ? 'global (every matching machine)' : row.machineId ? `\`${machineLabel(row.machineId, machines, true).replace(/`/g, '')}\`` : 'not scheduled'}`,
    );
  }
  if (row.hash) lines.push(`- Hash: \`${shortHash(row.hash)}\``);
  if (row.reason) lines.push('', `$(warning) Not scheduled: ${escapeMarkdown(row.reason)}`);
  for (const state of row.global ? row.states : row.states.filter(s => !row.machineId || s.machineID === row.machineId)) {
    lines.push('', `On \`${state.machineID ? machineLabel(state.machineID, machines) : '?'}\`:`, ...stateLines(state));
  }
  return lines.join('\n');
}

/** Escapes text for a MarkdownString (fleet messages may contain `*`, `_`, `[`…). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>$]/g, ch => `\\${ch}`);
}
