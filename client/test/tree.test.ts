/**
 * The explorer's pure layer: unit rows and display states, tree items (labels, descriptions,
 * icons, contextValues, tooltips with fleetd's reasons), grouping and sorting, snapshot diffing,
 * the language server's cluster context and the status bar text.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState } from '../../protocol/src/api';
import { ClusterSnapshot, clusterContextOf, diffSnapshots, machineLabel, metadataLabel } from '../src/cluster/snapshot';
import {
  childrenOf,
  escapeMarkdown,
  ExplorerOptions,
  groupRows,
  machineRoots,
  sortRows,
  toItem,
  unitRoots,
  type ClusterNode,
  type ConnectionView,
} from '../src/cluster/treeItems';
import { displayState, unitRows } from '../src/cluster/unitRows';
import { statusText } from '../src/status/statusText';

const M1 = '4d389537d9d14bdabe8be54a9c29f68d';
const M2 = '85c0e1a2b3c4d5e6f708192a3b4c5d6e';
const M3 = 'f00dfeedf00dfeedf00dfeedf00dfeed';
const HASH = 'ea7c01234567890abcdef01234567890abcdef01';

const svc = (extra: { section: string; name: string; value: string }[] = []) => [
  { section: 'Unit', name: 'Description', value: 'Web' },
  { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' },
  ...extra,
];

/** A unit; a field given as `undefined` is left out (e.g. `machineID: undefined`: not scheduled). */
function unit(name: string, fields: { [K in keyof ApiUnit]?: ApiUnit[K] | undefined } = {}): ApiUnit {
  const u: Record<string, unknown> = { name, options: svc(), desiredState: 'launched', currentState: 'launched', machineID: M1, ...fields };
  for (const [k, v] of Object.entries(u)) if (v === undefined) delete u[k];
  return u as unknown as ApiUnit;
}

function state(name: string, machineID: string, active = 'active', sub = 'running', extra: Partial<ApiUnitState> = {}): ApiUnitState {
  return { name, machineID, hash: HASH, systemdLoadState: 'loaded', systemdActiveState: active, systemdSubState: sub, ...extra };
}

const machines: ApiMachine[] = [
  { id: M1, primaryIP: '10.1.1.7', metadata: { region: 'us-east', disk: 'ssd' } },
  { id: M2, primaryIP: '10.1.1.8', metadata: { region: 'us-west' } },
  { id: M3 },
];

const snapshot: ClusterSnapshot = ClusterSnapshot.normalize({
  machines,
  units: [
    unit('nginx.10.service', { machineID: M2 }),
    unit('nginx.2.service'),
    unit('nginx.1.service', { machineID: M2, currentState: 'inactive', desiredState: 'launched', reason: undefined }),
    unit('db.service', { machineID: undefined, currentState: 'inactive', reason: 'no machine has metadata region=moon' }),
    unit('idle.service', { desiredState: 'inactive', currentState: 'inactive', machineID: undefined }),
    unit('loaded.service', { desiredState: 'loaded', currentState: 'loaded', machineID: M2 }),
    unit('monitor.service', { options: svc([{ section: 'X-Fleet', name: 'Global', value: 'true' }]), currentState: 'inactive', machineID: undefined }),
    unit('web@.service', { desiredState: 'inactive', currentState: 'inactive', machineID: undefined }),
  ],
  states: [
    state('nginx.10.service', M2),
    state('nginx.2.service', M1, 'failed', 'failed', { detail: 'ExecStart exited with status 1' }),
    state('loaded.service', M2, 'inactive', 'dead'),
    state('monitor.service', M1),
    state('monitor.service', M2, 'activating', 'start'),
    state('ghost.service', M3, 'active', 'running'),
  ],
});

const connected: ConnectionView = { kind: 'connected', label: 'http://127.0.0.1:1', snapshot };
const flat = ExplorerOptions.defaults;

function row(name: string) {
  const r = unitRows(snapshot).find(x => x.name === name);
  assert.ok(r, name);
  return r;
}

describe('unit rows and display states', () => {
  test('every unit and every orphan state gets a row', () => {
    assert.deepEqual(
      unitRows(snapshot).map(r => [r.name, r.display]),
      [
        ['db.service', 'unplaceable'],
        ['idle.service', 'inactive'],
        ['loaded.service', 'loaded'],
        ['monitor.service', 'pending'],
        ['nginx.1.service', 'pending'],
        ['nginx.10.service', 'launched'],
        ['nginx.2.service', 'failed'],
        ['web@.service', 'inactive'],
        ['ghost.service', 'unknown'],
      ],
    );
  });

  test('global, template, hash and description are derived from the options', () => {
    const m = row('monitor.service');
    assert.equal(m.global, true);
    assert.equal(m.template, false);
    assert.equal(row('web@.service').template, true);
    assert.match(row('nginx.2.service').hash!, /^[0-9a-f]{40}$/);
    assert.equal(row('nginx.2.service').description, 'Web');
  });

  test('a global unit is launched only when every machine reports active', () => {
    const base = {
      unit: unit('g'),
      desiredState: 'launched' as const,
      currentState: 'inactive' as const,
      reason: undefined,
      global: true,
      machineId: undefined,
    };
    assert.equal(displayState({ ...base, states: [state('g', M1), state('g', M2)] }), 'launched');
    assert.equal(displayState({ ...base, states: [state('g', M1), state('g', M2, 'activating', 'start')] }), 'pending');
    assert.equal(displayState({ ...base, states: [] }), 'pending');
    assert.equal(displayState({ ...base, states: [], reason: 'no machine matches' }), 'unplaceable');
    assert.equal(displayState({ ...base, desiredState: 'inactive', states: [] }), 'inactive');
  });

  test("only the target machine's state counts for a scheduled unit", () => {
    const r = { unit: unit('a'), desiredState: 'launched' as const, currentState: 'launched' as const, reason: undefined, global: false, machineId: M1 };
    assert.equal(displayState({ ...r, states: [state('a', M2, 'failed', 'failed'), state('a', M1)] }), 'launched');
    assert.equal(displayState({ ...r, states: [state('a', M1, 'failed', 'failed')] }), 'failed');
  });

  test('launched in fleet but stopped by systemd (a BindsTo= sidekick whose service stopped) shows as inactive, not launched', () => {
    const r = { unit: unit('side'), desiredState: 'launched' as const, currentState: 'launched' as const, reason: undefined, global: false, machineId: M1 };
    assert.equal(displayState({ ...r, states: [state('side', M1, 'inactive', 'dead')] }), 'inactive');
    assert.equal(displayState({ ...r, states: [state('side', M1)] }), 'launched');
    // No state yet (the agent has not reported): fleet's word stands.
    assert.equal(displayState({ ...r, states: [] }), 'launched');
    const g = { ...r, unit: unit('g'), global: true, machineId: undefined, currentState: 'inactive' as const };
    assert.equal(displayState({ ...g, states: [state('g', M1, 'inactive', 'dead'), state('g', M2, 'inactive', 'dead')] }), 'inactive');
    assert.equal(displayState({ ...g, states: [state('g', M1, 'inactive', 'dead'), state('g', M2)] }), 'pending');
  });
});

describe('tree items', () => {
  test('a launched unit: label, description with machine and systemd state, icon, context value', () => {
    const item = toItem({ kind: 'unit', id: 'unit:nginx.10.service', row: row('nginx.10.service'), machines });
    assert.equal(item.label, 'nginx.10.service');
    assert.equal(item.description, 'launched · 85c0e1a2.../10.1.1.8 · active (running)');
    // Inside a code span Markdown escapes show literally: the machine line must have none.
    assert.match(item.tooltip!, /- Machine: `85c0e1a2[0-9a-f]*\/10\.1\.1\.8`/);
    assert.deepEqual(item.icon, { id: 'pass-filled', color: 'testing.iconPassed' });
    assert.equal(item.contextValue, 'fleet.unit.launched');
    assert.equal(item.collapsible, 'none');
  });

  test("an unplaceable unit shows fleetd's reason in the description and the tooltip", () => {
    const item = toItem({ kind: 'unit', id: 'unit:db.service', row: row('db.service'), machines });
    assert.equal(item.description, 'not scheduled: no machine has metadata region=moon');
    assert.deepEqual(item.icon, { id: 'warning', color: 'problemsWarningIcon.foreground' });
    assert.match(item.tooltip!, /\$\(warning\) Not scheduled: no machine has metadata region=moon/);
    assert.match(item.tooltip!, /- Machine: not scheduled/);
  });

  test("a failed unit carries the agent's detail in its tooltip", () => {
    const item = toItem({ kind: 'unit', id: 'unit:nginx.2.service', row: row('nginx.2.service'), machines });
    assert.deepEqual(item.icon, { id: 'error', color: 'testing.iconFailed' });
    assert.equal(item.description, 'launched · 4d389537.../10.1.1.7 · failed (failed) · exit 1');
    assert.match(item.tooltip!, /Detail: ExecStart exited with status 1/);
    assert.match(item.tooltip!, /- Desired state: launched\n- Current state: launched/);
    assert.match(item.tooltip!, /- Hash: `[0-9a-f]{7}`/);
  });

  test('a crash-looping unit looks failing: a warning icon, its last exit and restart count, never a green "launched"', () => {
    const looping = ClusterSnapshot.normalize({
      machines,
      units: [unit('loop.service')],
      states: [
        state('loop.service', M1, 'activating', 'auto-restart', {
          detail: 'Main process exited, code=exited, status=3/NOTIMPLEMENTED (result: exit-code); restarted 5 times',
        }),
      ],
    });
    const r = unitRows(looping)[0]!;
    assert.equal(r.display, 'restarting');
    const item = toItem({ kind: 'unit', id: 'unit:loop.service', row: r, machines });
    assert.deepEqual(item.icon, { id: 'debug-restart', color: 'problemsWarningIcon.foreground' });
    assert.equal(item.description, 'launched · 4d389537.../10.1.1.7 · activating (auto-restart) · exit 3, restarted 5×');
    const killed = ClusterSnapshot.normalize({
      machines,
      units: [unit('k.service')],
      states: [state('k.service', M1, 'failed', 'failed', { detail: 'Main process exited, code=killed, status=9/KILL (result: signal)' })],
    });
    assert.match(toItem({ kind: 'unit', id: 'u', row: unitRows(killed)[0]!, machines }).description!, / · signal KILL$/);
    // Caught running between two exits: still the restart count.
    const between = ClusterSnapshot.normalize({
      machines,
      units: [unit('loop.service')],
      states: [state('loop.service', M1, 'active', 'running', { detail: 'restarted 6 times' })],
    });
    assert.equal(
      toItem({ kind: 'unit', id: 'u', row: unitRows(between)[0]!, machines }).description,
      'launched · 4d389537.../10.1.1.7 · active (running) · restarted 6×',
    );
  });

  test('a pending unit shows the transition; loaded and inactive units their own icons', () => {
    assert.equal(toItem({ kind: 'unit', id: 'x', row: row('nginx.1.service'), machines }).description, 'inactive → launched · 85c0e1a2.../10.1.1.8');
    assert.deepEqual(toItem({ kind: 'unit', id: 'x', row: row('loaded.service'), machines }).icon, { id: 'circle-filled', color: 'charts.blue' });
    const idle = toItem({ kind: 'unit', id: 'x', row: row('idle.service'), machines });
    assert.deepEqual(idle.icon, { id: 'circle-outline', color: 'disabledForeground' });
    assert.equal(idle.contextValue, 'fleet.unit.inactive');
  });

  test('context values encode desired state, global and template', () => {
    assert.equal(toItem({ kind: 'unit', id: 'x', row: row('monitor.service'), machines }).contextValue, 'fleet.unit.launched.global');
    assert.equal(toItem({ kind: 'unit', id: 'x', row: row('web@.service'), machines }).contextValue, 'fleet.unit.inactive.template');
    assert.equal(toItem({ kind: 'unit', id: 'x', row: row('ghost.service'), machines }).contextValue, 'fleet.unit.orphan');
  });

  test("a global unit expands into one child per machine, with that machine's state", () => {
    const node: ClusterNode = { kind: 'unit', id: 'unit:monitor.service', row: row('monitor.service'), machines };
    const item = toItem(node);
    assert.equal(item.collapsible, 'collapsed');
    assert.equal(item.description, 'global, launched · 2 machines');
    const children = childrenOf(node, connected, flat).map(toItem);
    assert.deepEqual(
      children.map(c => [c.label, c.description, c.icon.id, c.contextValue]),
      [
        ['4d389537.../10.1.1.7', 'active (running)', 'pass-filled', 'fleet.unitState'],
        ['85c0e1a2.../10.1.1.8', 'activating (start)', 'circle-filled', 'fleet.unitState'],
      ],
    );
  });

  test('machines: short ID and IP as label, metadata as description, their units as children', () => {
    const roots = machineRoots(connected);
    assert.deepEqual(
      roots.map(toItem).map(i => [i.label, i.description, i.contextValue, i.collapsible]),
      [
        ['4d389537 10.1.1.7', 'disk=ssd,region=us-east', 'fleet.machine', 'collapsed'],
        ['85c0e1a2 10.1.1.8', 'region=us-west', 'fleet.machine', 'collapsed'],
        ['f00dfeed', undefined, 'fleet.machine', 'collapsed'],
      ],
    );
    assert.match(toItem(roots[0]!).tooltip!, /Metadata: disk=ssd,region=us\\-east/);
    const children = childrenOf(roots[1]!, connected, flat).map(toItem);
    assert.deepEqual(
      children.map(c => [c.label, c.description]),
      [
        ['loaded.service', 'loaded · inactive (dead)'],
        ['monitor.service', 'global · activating (start)'],
        ['nginx.1.service', 'inactive → launched'],
        ['nginx.10.service', 'launched · active (running)'],
      ],
    );
    // A global unit under a machine keeps the unit's context value, so its menu works there too.
    assert.equal(children[1]!.contextValue, 'fleet.unit.launched.global');
    // Node ids are unique across the whole tree.
    const ids = [...roots, ...roots.flatMap(r => childrenOf(r, connected, flat))].map(n => n.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('connection states: nothing when disconnected or unreachable (the welcome views speak), a spinner while loading, a retry node above a stale snapshot', () => {
    assert.deepEqual(unitRoots({ kind: 'disconnected' }, flat), []);
    assert.deepEqual(
      machineRoots({ kind: 'loading', label: 'prod' })
        .map(toItem)
        .map(i => [i.label, i.icon.id]),
      [['Connecting to prod…', 'loading~spin']],
    );
    const unreachable: ConnectionView = { kind: 'error', label: 'http://10.0.0.1:49153', error: 'connect ECONNREFUSED 10.0.0.1:49153', problem: 'refused' };
    assert.deepEqual(unitRoots(unreachable, flat), []);
    assert.deepEqual(machineRoots(unreachable), []);
    // A stale snapshot stays visible under the error node.
    const stale = unitRoots({ ...connected, error: 'connect ETIMEDOUT' } as ConnectionView, flat).map(toItem);
    assert.equal(stale[0]!.label, 'Cannot reach fleet at http://127.0.0.1:1 (showing the last snapshot)');
    assert.equal(stale[0]!.command, 'fleet.refreshCluster');
    assert.match(stale[0]!.tooltip!, /ETIMEDOUT/);
    assert.equal(stale.length, 10);
  });
});

describe('grouping and sorting', () => {
  const rows = unitRows(snapshot);

  test('flat, by name, in natural order', () => {
    assert.deepEqual(
      sortRows(rows, flat).map(r => r.name),
      [
        'db.service',
        'ghost.service',
        'idle.service',
        'loaded.service',
        'monitor.service',
        'nginx.1.service',
        'nginx.2.service',
        'nginx.10.service',
        'web@.service',
      ],
    );
  });

  test('by state: problems first, then by name', () => {
    assert.deepEqual(
      sortRows(rows, { groupBy: 'flat', sortBy: 'state' }).map(r => `${r.display}:${r.name}`),
      [
        'failed:nginx.2.service',
        'unplaceable:db.service',
        'pending:monitor.service',
        'pending:nginx.1.service',
        'launched:nginx.10.service',
        'loaded:loaded.service',
        'inactive:idle.service',
        'inactive:web@.service',
        'unknown:ghost.service',
      ],
    );
  });

  test('by machine: scheduled units by machine ID, then global, then unscheduled', () => {
    assert.deepEqual(
      sortRows(rows, { groupBy: 'flat', sortBy: 'machine' }).map(r => r.name),
      [
        'nginx.2.service',
        'loaded.service',
        'nginx.1.service',
        'nginx.10.service',
        'ghost.service',
        'monitor.service',
        'db.service',
        'idle.service',
        'web@.service',
      ],
    );
  });

  test('grouped by machine: one group per machine in machine order, then global, then not scheduled', () => {
    const groups = groupRows(rows, machines, { groupBy: 'machine', sortBy: 'name' });
    assert.deepEqual(
      groups.map(toItem).map(g => [g.label, g.description]),
      [
        ['4d389537.../10.1.1.7', 'disk=ssd,region=us-east · 1 unit'],
        ['85c0e1a2.../10.1.1.8', 'region=us-west · 3 units'],
        ['f00dfeed...', '1 unit'],
        ['Global units', 'on every matching machine · 1 unit'],
        ['Not scheduled', '3 units'],
      ],
    );
    assert.deepEqual(
      childrenOf(groups[1]!, connected, flat).map(n => [toItem(n).label, toItem(n).description]),
      [
        ['loaded.service', 'loaded · inactive (dead)'],
        ['nginx.1.service', 'inactive → launched'],
        ['nginx.10.service', 'launched · active (running)'],
      ],
    );
    // Grouped by state, the machine stays in the description.
    const byState = groupRows(rows, machines, { groupBy: 'state', sortBy: 'name' });
    assert.equal(toItem(childrenOf(byState[3]!, connected, flat)[0]!).description, 'launched · 85c0e1a2.../10.1.1.8 · active (running)');
  });

  test('grouped by state, in the order of severity', () => {
    const groups = groupRows(rows, machines, { groupBy: 'state', sortBy: 'name' });
    assert.deepEqual(
      groups.map(g => toItem(g).label),
      ['Failed', 'Cannot be scheduled', 'Pending', 'Launched', 'Loaded', 'Inactive', 'Not in the registry'],
    );
    assert.deepEqual(
      groups.map(g => toItem(g).icon.id),
      ['error', 'warning', 'sync~spin', 'pass-filled', 'circle-filled', 'circle-outline', 'question'],
    );
  });

  test('ExplorerOptions.from falls back to defaults for unknown values', () => {
    assert.deepEqual(ExplorerOptions.from({ groupBy: 'state', sortBy: 'machine' }), { groupBy: 'state', sortBy: 'machine' });
    assert.deepEqual(ExplorerOptions.from({ groupBy: 'bogus', sortBy: 3 }), ExplorerOptions.defaults);
  });
});

describe('snapshot diffing and cluster context', () => {
  test('equal clusters with different field and list order are not a change', () => {
    const shuffled = ClusterSnapshot.normalize({
      machines: [...snapshot.machines].reverse().map(m => ({
        ...(m.metadata ? { metadata: Object.fromEntries(Object.entries(m.metadata).reverse()) } : {}),
        ...(m.primaryIP ? { primaryIP: m.primaryIP } : {}),
        id: m.id,
      })),
      units: [...snapshot.units].reverse(),
      states: [...snapshot.states].reverse(),
    });
    assert.deepEqual(diffSnapshots(snapshot, shuffled), { changed: false, machinesChanged: false, addedUnits: [], removedUnits: [], changedUnits: [] });
  });

  test('added, removed and changed units, state changes and machine metadata changes', () => {
    const next = ClusterSnapshot.normalize({
      machines: snapshot.machines.map(m => (m.id === M2 ? { ...m, metadata: { region: 'eu-central' } } : m)),
      units: [...snapshot.units.filter(u => u.name !== 'idle.service'), unit('new.service')].map(u =>
        u.name === 'nginx.1.service' ? { ...u, currentState: 'launched' as const } : u,
      ),
      states: snapshot.states.map(s => (s.name === 'loaded.service' ? { ...s, systemdSubState: 'exited' } : s)),
    });
    assert.deepEqual(diffSnapshots(snapshot, next), {
      changed: true,
      machinesChanged: true,
      addedUnits: ['new.service'],
      removedUnits: ['idle.service'],
      changedUnits: ['loaded.service', 'nginx.1.service'],
    });
    assert.equal(diffSnapshots(undefined, ClusterSnapshot.empty).changed, false);
    assert.deepEqual(diffSnapshots(undefined, snapshot).addedUnits.length, 9);
  });

  test('the clusterContext payload lists machines, unit names and unit details', () => {
    const { unitDetails, ...rest } = clusterContextOf(snapshot);
    const nginx = unitDetails?.find(u => u.name === 'nginx.1.service');
    assert.equal(unitDetails?.length, snapshot.units.length);
    assert.equal(nginx?.desiredState, snapshot.units.find(u => u.name === 'nginx.1.service')?.desiredState);
    assert.match(nginx?.hash ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(rest, {
      machines: [
        { id: M1, primaryIP: '10.1.1.7', metadata: { region: 'us-east', disk: 'ssd' } },
        { id: M2, primaryIP: '10.1.1.8', metadata: { region: 'us-west' } },
        { id: M3, metadata: {} },
      ],
      units: ['db.service', 'idle.service', 'loaded.service', 'monitor.service', 'nginx.1.service', 'nginx.10.service', 'nginx.2.service', 'web@.service'],
    });
  });

  test("fleetctl's machine and metadata columns", () => {
    assert.equal(machineLabel(M1, machines), '4d389537.../10.1.1.7');
    assert.equal(machineLabel(M3, machines), 'f00dfeed...');
    assert.equal(machineLabel(M1, machines, true), `${M1}/10.1.1.7`);
    assert.equal(metadataLabel({ b: '2', a: '1' }), 'a=1,b=2');
    assert.equal(metadataLabel(undefined), '-');
  });

  test('markdown in fleet messages is escaped', () => {
    assert.equal(escapeMarkdown('a*b_[c](d) $(x)'), 'a\\*b\\_\\[c\\]\\(d\\) \\$\\(x\\)');
  });
});

describe('status bar text', () => {
  test('no cluster, loading, healthy, unreachable', () => {
    assert.equal(statusText(undefined, { kind: 'disconnected' }).text, '$(server-environment) Fleet: no cluster');
    assert.equal(statusText('prod', { kind: 'loading', label: 'x' }).text, '$(loading~spin) Fleet: prod');
    const ok = statusText('prod', connected);
    assert.equal(ok.text, '$(server-environment) Fleet: prod (3/8)');
    assert.match(ok.tooltip, /3 machines, 8 units/);
    assert.equal(ok.warning, false);
    const down = statusText('prod', { kind: 'error', label: 'x', error: 'connect ECONNREFUSED', problem: 'refused' });
    assert.equal(down.text, '$(debug-disconnect) Fleet: prod unreachable');
    assert.equal(down.warning, true);
    assert.match(statusText('prod', { ...connected, error: 'timeout' } as ConnectionView).tooltip, /Last snapshot: 3 machines, 8 units/);
  });
});
