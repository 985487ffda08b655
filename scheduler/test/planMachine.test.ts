import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planMachine,
  planPurge,
  desiredUnitsForMachine,
  TaskReason,
  type CurrentUnit,
  type DesiredUnit,
  type MachineTask,
  type MachineUnitState,
  type MachineUnitInput,
} from '../src/planMachine';
import type { UnitOption } from '../../unitfile/src/serialize';

const H1 = '1'.repeat(40);
const H2 = '2'.repeat(40);
const OPTS: UnitOption[] = [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }];

const want = (name: string, targetState: MachineUnitState, hash = H1): DesiredUnit => ({ name, hash, options: OPTS, targetState });
const have = (name: string, state: MachineUnitState, hash = H1): CurrentUnit => ({ name, hash, state });

/** Compact rendering: `Unload(a)`, `Load(a)`, `ReloadUnitFiles()`, ... as fleet's tests print them. */
function render(tasks: MachineTask[]): string[] {
  return tasks.map(t => {
    switch (t.kind) {
      case 'unload':
        return `UnloadUnit(${t.unit})`;
      case 'load':
        return `LoadUnit(${t.unit})`;
      case 'reloadUnitFiles':
        return 'ReloadUnitFiles()';
      case 'stop':
        return `StopUnit(${t.unit})`;
      case 'start':
        return `StartUnit(${t.unit})`;
    }
  });
}

// §5.7's table: desired (rows) × current (columns), for one unit `u`.
const table: { desired: MachineUnitState | 'none'; current: MachineUnitState | 'none'; tasks: string[] }[] = [
  { desired: 'none', current: 'none', tasks: [] },
  { desired: 'none', current: 'inactive', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'none', current: 'loaded', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'none', current: 'launched', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'inactive', current: 'none', tasks: [] },
  { desired: 'inactive', current: 'inactive', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'inactive', current: 'loaded', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'inactive', current: 'launched', tasks: ['UnloadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'loaded', current: 'none', tasks: ['LoadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'loaded', current: 'inactive', tasks: ['LoadUnit(u)', 'ReloadUnitFiles()'] },
  { desired: 'loaded', current: 'loaded', tasks: [] },
  { desired: 'loaded', current: 'launched', tasks: ['StopUnit(u)'] },
  { desired: 'launched', current: 'none', tasks: ['LoadUnit(u)', 'ReloadUnitFiles()', 'StartUnit(u)'] },
  { desired: 'launched', current: 'inactive', tasks: ['LoadUnit(u)', 'ReloadUnitFiles()', 'StartUnit(u)'] },
  { desired: 'launched', current: 'loaded', tasks: ['StartUnit(u)'] },
  { desired: 'launched', current: 'launched', tasks: [] },
];

for (const row of table) {
  test(`planMachine: desired ${row.desired} × current ${row.current}`, () => {
    const desired = row.desired === 'none' ? [] : [want('u', row.desired)];
    const current = row.current === 'none' ? [] : [have('u', row.current)];
    assert.deepEqual(render(planMachine(desired, current)), row.tasks);
  });
}

test('planMachine: a changed hash reloads the unit (and restarts it when launched)', () => {
  assert.deepEqual(render(planMachine([want('u', 'launched', H2)], [have('u', 'launched', H1)])), [
    'UnloadUnit(u)',
    'LoadUnit(u)',
    'ReloadUnitFiles()',
    'StartUnit(u)',
  ]);
  assert.deepEqual(render(planMachine([want('u', 'loaded', H2)], [have('u', 'launched', H1)])), ['UnloadUnit(u)', 'LoadUnit(u)', 'ReloadUnitFiles()']);
  assert.deepEqual(render(planMachine([want('u', 'loaded', H2)], [have('u', 'inactive', H1)])), ['UnloadUnit(u)', 'LoadUnit(u)', 'ReloadUnitFiles()']);
  // A changed hash does not matter when the unit is going away.
  assert.deepEqual(render(planMachine([want('u', 'inactive', H2)], [have('u', 'launched', H1)])), ['UnloadUnit(u)', 'ReloadUnitFiles()']);
});

test('planMachine: the mixed case sorts by task type (fleet reference example)', () => {
  const tasks = planMachine([want('a', 'launched'), want('b', 'loaded')], [have('b', 'launched'), have('c', 'loaded')]);
  assert.deepEqual(render(tasks), ['UnloadUnit(c)', 'LoadUnit(a)', 'ReloadUnitFiles()', 'StopUnit(b)', 'StartUnit(a)']);
});

test("planMachine: reasons are fleet's, and load carries the desired content", () => {
  const tasks = planMachine([want('a', 'launched', H2), want('b', 'loaded')], [have('a', 'launched', H1), have('b', 'launched'), have('z', 'loaded')]);
  assert.deepEqual(tasks, [
    { kind: 'unload', unit: 'a', reason: TaskReason.loadedButHashDiffers },
    { kind: 'unload', unit: 'z', reason: TaskReason.loadedButNotScheduled },
    { kind: 'load', unit: 'a', hash: H2, options: OPTS, reason: TaskReason.scheduledButUnloaded },
    { kind: 'reloadUnitFiles', reason: TaskReason.alwaysReloadUnitFiles },
    { kind: 'stop', unit: 'b', reason: TaskReason.launchedDesiredStateLoaded },
    { kind: 'start', unit: 'a', reason: TaskReason.loadedDesiredStateLaunched },
  ]);
});

test('planMachine: name order within a type regardless of input order; no ReloadUnitFiles without load/unload', () => {
  const tasks = planMachine(
    [want('c', 'launched'), want('a', 'launched'), want('b', 'launched')],
    [have('c', 'loaded'), have('b', 'loaded'), have('a', 'loaded')],
  );
  assert.deepEqual(render(tasks), ['StartUnit(a)', 'StartUnit(b)', 'StartUnit(c)']);
  assert.deepEqual(planMachine([], []), []);
});

test('planPurge: unloads everything in name order', () => {
  assert.deepEqual(planPurge([have('b', 'launched'), have('a', 'inactive')]), [
    { kind: 'unload', unit: 'a', reason: TaskReason.purgingAgent },
    { kind: 'unload', unit: 'b', reason: TaskReason.purgingAgent },
  ]);
});

// ---- desiredUnitsForMachine ----

const unit = (name: string, xfleet: [string, string][] = [], desiredState: MachineUnitState = 'launched'): MachineUnitInput => ({
  name,
  hash: H1,
  desiredState,
  options: [...OPTS, ...xfleet.map(([n, value]) => ({ section: 'X-Fleet', name: n, value }))],
});

test('desiredUnitsForMachine: scheduled-here units and matching global units; conflicts dropped in name order', () => {
  const schedule = new Map([
    ['a.service', 'm1'],
    ['b.service', 'm2'],
    ['c.service', 'm1'],
    ['d.service', 'm1'],
  ]);
  const units = [
    unit('d.service', [['Conflicts', 'c.service']]),
    unit('c.service'),
    unit('b.service'),
    unit('a.service', [], 'loaded'),
    unit('g.service', [
      ['Global', 'true'],
      ['MachineMetadata', 'role=web'],
    ]),
    unit('h.service', [
      ['Global', 'yes'],
      ['MachineMetadata', 'role=db'],
    ]),
    unit('z.service'),
  ];
  const result = desiredUnitsForMachine(units, n => schedule.get(n), { id: 'm1', metadata: { role: 'web' } });
  assert.deepEqual(
    result.units.map(u => [u.name, u.targetState]),
    [
      ['a.service', 'loaded'],
      ['c.service', 'launched'],
      ['g.service', 'launched'],
    ],
  );
  assert.deepEqual(result.dropped, [
    { kind: 'conflict', unit: 'd.service', with: 'c.service', message: 'unit d.service conflicts with c.service, already on machine m1; it is not run here' },
    { kind: 'metadata', unit: 'h.service', message: 'global unit h.service needs metadata role=db, which machine m1 does not have' },
  ]);
});

test('desiredUnitsForMachine: conflicts are symmetric and apply to global units; specifiers are expanded', () => {
  const units = [
    unit('a@1.service', [['Conflicts', 'a@*.service']]),
    unit('a@2.service', [['Conflicts', 'a@*.service']]),
    unit('b.service'),
    unit('glob.service', [
      ['Global', 'true'],
      ['Conflicts', 'b.service'],
    ]),
    unit('w@x.service', [
      ['Global', 'true'],
      ['MachineMetadata', 'inst=%i'],
    ]),
  ];
  const result = desiredUnitsForMachine(units, () => 'm1', { id: 'm1', metadata: { inst: 'x' } });
  assert.deepEqual(
    result.units.map(u => u.name),
    ['a@1.service', 'b.service', 'w@x.service'],
  );
  assert.deepEqual(
    result.dropped.map(d => [d.unit, d.kind === 'conflict' ? d.with : '']),
    [
      ['a@2.service', 'a@1.service'],
      ['glob.service', 'b.service'],
    ],
  );
});

test('desiredUnitsForMachine: the clash it reports is the pairwise definition, on random machines of units with and without Conflicts=', () => {
  // fleet's rule, pair by pair: the first accepted unit (in name order) whose globs match the
  // unit, or that the unit's globs match. The planner checks fewer pairs; the answer must not move.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const names = Array.from({ length: 40 }, (_, i) => `${['web', 'db', 'cache', 'job'][i % 4]}${i}.service`);
  const globs = ['web*.service', 'db1*.service', '*3.service', 'cache?.service', 'job20.service', 'nothing*.service'];
  for (let round = 0; round < 200; round++) {
    const units = names
      .filter(() => random(3) > 0)
      .map(name =>
        unit(name, random(4) === 0 ? Array.from({ length: 1 + random(2) }, () => ['Conflicts', globs[random(globs.length)]!] as [string, string]) : []),
      );
    const result = desiredUnitsForMachine(units, () => 'm1', { id: 'm1', metadata: {} });
    // The reference: every pair, in name order.
    const accepted: { name: string; conflicts: string[] }[] = [];
    const expected: [string, string][] = [];
    const globOf = (u: MachineUnitInput) => u.options.filter(o => o.name === 'Conflicts').map(o => o.value);
    const matches = (glob: string, name: string) => new RegExp(`^${glob.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(name);
    for (const u of [...units].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const clash = accepted.find(a => a.name !== u.name && (a.conflicts.some(g => matches(g, u.name)) || globOf(u).some(g => matches(g, a.name))));
      if (clash) expected.push([u.name, clash.name]);
      else accepted.push({ name: u.name, conflicts: globOf(u) });
    }
    assert.deepEqual(
      result.dropped.map(d => [d.unit, d.kind === 'conflict' ? d.with : '']),
      expected,
      `round ${round}`,
    );
    assert.deepEqual(
      result.units.map(u => u.name),
      accepted.map(a => a.name),
    );
  }
});
