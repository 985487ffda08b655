/**
 * Table tests for the dependency planner (fleetd/src/agent/dependencies.ts): each case is a
 * machine (units, their [Unit] dependencies, states and jobs) and what systemd does, quoted from
 * systemd.unit(5) in the case's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  boundToInactive,
  emptyDeps,
  failedDependents,
  parseDependencyValue,
  planStart,
  planStop,
  runnableJobs,
  startCheck,
  type Activity,
  type Job,
  type JobType,
  type Machine,
  type PlanUnit,
  type UnitDeps,
} from '../src/agent/dependencies';

type Spec = Partial<UnitDeps> & { state?: Activity; job?: JobType };

function machine(units: Record<string, Spec>): Machine {
  return new Map(
    Object.entries(units).map(([name, s]) => {
      const deps = emptyDeps();
      for (const k of Object.keys(deps) as (keyof UnitDeps)[]) deps[k] = s[k] ?? [];
      const u: PlanUnit = { name, deps, state: s.state ?? 'inactive', ...(s.job ? { job: s.job } : {}) };
      return [name, u];
    }),
  );
}

const jobs = (list: Job[]) => list.map(j => `${j.unit}/${j.type}`).sort();

const startCases: { name: string; units: Record<string, Spec>; anchor: string; jobs?: string[]; error?: RegExp; notes?: RegExp[] }[] = [
  {
    name: 'Requires=: "If this unit gets activated, the units listed will be activated as well"',
    units: { 'a.service': { Requires: ['b.service'] }, 'b.service': {} },
    anchor: 'a.service',
    jobs: ['a.service/start', 'b.service/start'],
  },
  {
    name: 'Requires= on a unit that is not on this machine fails the start like a unit that does not exist',
    units: { 'a.service': { Requires: ['b.service'] } },
    anchor: 'a.service',
    error: /^Unit b\.service not found \(a\.service has Requires=b\.service; it is not loaded on this machine\)\.$/,
  },
  {
    name: 'BindsTo= pulls the bound unit in like Requires=, and a missing one fails the start',
    units: { 'side.service': { BindsTo: ['web.service'], After: ['web.service'] }, 'web.service': {} },
    anchor: 'side.service',
    jobs: ['side.service/start', 'web.service/start'],
  },
  {
    name: 'BindsTo= on a missing unit: "Unit … not found"',
    units: { 'side.service': { BindsTo: ['web.service'] } },
    anchor: 'side.service',
    error: /Unit web\.service not found/,
  },
  {
    name: 'Requisite=: "the units listed here … will not be started"; a missing one fails the start',
    units: { 'a.service': { Requisite: ['b.service'] }, 'b.service': {} },
    anchor: 'a.service',
    jobs: ['a.service/start'],
  },
  {
    name: 'Requisite= on a unit not on this machine fails',
    units: { 'a.service': { Requisite: ['b.service'] } },
    anchor: 'a.service',
    error: /Unit b\.service not found/,
  },
  {
    name: 'Wants=: a weaker Requires=; a missing wanted unit is ignored',
    units: { 'a.service': { Wants: ['b.service', 'gone.service'] }, 'b.service': {} },
    anchor: 'a.service',
    jobs: ['a.service/start', 'b.service/start'],
  },
  {
    name: 'Wants= of a unit whose own Requires= is missing: the wanted unit is dropped, the anchor starts',
    units: { 'a.service': { Wants: ['b.service'] }, 'b.service': { Requires: ['gone.service'] } },
    anchor: 'a.service',
    jobs: ['a.service/start'],
    notes: [/b\.service.*Unit gone\.service not found/],
  },
  {
    name: 'Requires= is transitive: a → b → c',
    units: { 'a.service': { Requires: ['b.service'] }, 'b.service': { Requires: ['c.service'] }, 'c.service': {} },
    anchor: 'a.service',
    jobs: ['a.service/start', 'b.service/start', 'c.service/start'],
  },
  {
    name: 'Conflicts=: "starting this unit will stop the other unit" (and the units that require it)',
    units: { 'a.service': { Conflicts: ['b.service'] }, 'b.service': { state: 'active' }, 'c.service': { Requires: ['b.service'], state: 'active' } },
    anchor: 'a.service',
    jobs: ['a.service/start', 'b.service/stop', 'c.service/stop'],
  },
  {
    name: 'Conflicts= works both ways: starting b stops a, which names b',
    units: { 'a.service': { Conflicts: ['b.service'], state: 'active' }, 'b.service': {} },
    anchor: 'b.service',
    jobs: ['a.service/stop', 'b.service/start'],
  },
  {
    name: 'Conflicts= with a unit the start requires: the transaction contains conflicting jobs',
    units: { 'a.service': { Requires: ['b.service', 'c.service'] }, 'b.service': { Conflicts: ['c.service'] }, 'c.service': {} },
    anchor: 'a.service',
    error: /conflicting jobs 'start' and 'stop' for c\.service/,
  },
  {
    name: 'After= cycle among required units: "Transaction order is cyclic", naming the cycle',
    units: { 'a.service': { Requires: ['b.service'], After: ['b.service'] }, 'b.service': { After: ['a.service'] } },
    anchor: 'a.service',
    error:
      /^Transaction order is cyclic: (a\.service\/start → b\.service\/start → a\.service\/start|b\.service\/start → a\.service\/start → b\.service\/start) \(After=\/Before=\)/,
  },
  {
    name: 'After= cycle through a merely wanted unit: its job is deleted to break the cycle, the anchor starts',
    units: { 'a.service': { Wants: ['b.service'], After: ['b.service'] }, 'b.service': { After: ['a.service'] } },
    anchor: 'a.service',
    jobs: ['a.service/start'],
    notes: [/Job b\.service\/start deleted to break ordering cycle starting with a\.service\/start/],
  },
  {
    name: 'Before= is After= seen from the other side: a cycle through Before= is found too',
    units: { 'a.service': { Requires: ['b.service'], Before: ['b.service'] }, 'b.service': { Before: ['a.service'] } },
    anchor: 'a.service',
    error: /Transaction order is cyclic/,
  },
  {
    name: 'After= alone pulls nothing in (ordering is not a requirement)',
    units: { 'a.service': { After: ['b.service'] }, 'b.service': {} },
    anchor: 'a.service',
    jobs: ['a.service/start'],
  },
];

for (const c of startCases) {
  test(`planStart: ${c.name}`, () => {
    const t = planStart(machine(c.units), c.anchor);
    if (c.error) {
      assert.equal(t.ok, false, `expected a failed transaction, got ${JSON.stringify(t)}`);
      if (!t.ok) assert.match(t.error, c.error);
      return;
    }
    assert.ok(t.ok, t.ok ? '' : t.error);
    if (!t.ok) return;
    assert.deepEqual(jobs(t.jobs), c.jobs);
    for (const n of c.notes ?? [])
      assert.ok(
        t.notes.some(x => n.test(`${x.unit}: ${x.text}`)),
        `a note matching ${n} in ${JSON.stringify(t.notes)}`,
      );
  });
}

const stopCases: { name: string; units: Record<string, Spec>; anchor: string; jobs: string[] }[] = [
  {
    name: 'Requires=: "If one of the other units is explicitly stopped, this unit will be stopped too"',
    units: { 'a.service': { Requires: ['b.service'], state: 'active' }, 'b.service': { state: 'active' } },
    anchor: 'b.service',
    jobs: ['a.service/stop', 'b.service/stop'],
  },
  {
    name: 'BindsTo=, Requisite= and PartOf= propagate a stop; Wants= does not',
    units: {
      'web.service': { state: 'active' },
      'bound.service': { BindsTo: ['web.service'], state: 'active' },
      'req.service': { Requisite: ['web.service'], state: 'active' },
      'part.service': { PartOf: ['web.service'], state: 'activating' },
      'wants.service': { Wants: ['web.service'], state: 'active' },
    },
    anchor: 'web.service',
    jobs: ['bound.service/stop', 'part.service/stop', 'req.service/stop', 'web.service/stop'],
  },
  {
    name: 'PartOf= is one way: stopping the part does not stop the whole',
    units: { 'whole.service': { state: 'active' }, 'part.service': { PartOf: ['whole.service'], state: 'active' } },
    anchor: 'part.service',
    jobs: ['part.service/stop'],
  },
  {
    name: 'units already inactive get no stop job; propagation is transitive',
    units: {
      'a.service': { Requires: ['b.service'], state: 'active' },
      'b.service': { Requires: ['c.service'], state: 'active' },
      'c.service': { state: 'active' },
      'd.service': { Requires: ['c.service'] },
    },
    anchor: 'c.service',
    jobs: ['a.service/stop', 'b.service/stop', 'c.service/stop'],
  },
];

for (const c of stopCases) {
  test(`planStop: ${c.name}`, () => {
    assert.deepEqual(jobs(planStop(machine(c.units), c.anchor)), c.jobs);
  });
}

test('boundToInactive: BindsTo= "if the unit bound to is stopped or fails, this unit is stopped too" — only active units without a job', () => {
  const m = machine({
    'web.service': { state: 'failed' },
    'side.service': { BindsTo: ['web.service'], state: 'active' },
    'busy.service': { BindsTo: ['web.service'], state: 'active', job: 'start' },
    'req.service': { Requires: ['web.service'], state: 'active' },
  });
  assert.deepEqual(boundToInactive(m, 'web.service'), ['side.service']);
  // A unit with a job of its own (e.g. about to restart) does not stop what is bound to it.
  assert.deepEqual(
    boundToInactive(
      machine({ 'web.service': { state: 'inactive', job: 'start' }, 'side.service': { BindsTo: ['web.service'], state: 'active' } }),
      'web.service',
    ),
    [],
  );
  assert.deepEqual(
    boundToInactive(machine({ 'web.service': { state: 'activating' }, 'side.service': { BindsTo: ['web.service'], state: 'active' } }), 'web.service'),
    [],
  );
});

test('failedDependents: a failed start fails the pending starts that Require=, Requisite= or BindsTo= it, transitively; Wants= does not', () => {
  const m = machine({
    'web.service': {},
    'side.service': { BindsTo: ['web.service'], job: 'start' },
    'top.service': { Requires: ['side.service'], job: 'start' },
    'wants.service': { Wants: ['web.service'], job: 'start' },
    'done.service': { Requires: ['web.service'], state: 'active' },
  });
  assert.deepEqual(failedDependents(m, 'web.service').sort(), ['side.service', 'top.service']);
});

test('startCheck: Requisite= needs the unit active (waits while it activates); BindsTo= with After= needs it active', () => {
  assert.equal(startCheck(machine({ 'a.service': { Requisite: ['b.service'] }, 'b.service': { state: 'active' } }), 'a.service'), undefined);
  assert.equal(startCheck(machine({ 'a.service': { Requisite: ['b.service'] }, 'b.service': { state: 'activating' } }), 'a.service'), 'wait');
  assert.match(
    startCheck(machine({ 'a.service': { Requisite: ['b.service'] }, 'b.service': {} }), 'a.service') as string,
    /Requisite=b\.service is not active \(inactive\); start b\.service first/,
  );
  assert.match(
    startCheck(machine({ 'a.service': { BindsTo: ['b.service'], After: ['b.service'] }, 'b.service': { state: 'failed' } }), 'a.service') as string,
    /bound to inactive unit b\.service/,
  );
  // Without After= the bound unit starts alongside: no check.
  assert.equal(startCheck(machine({ 'a.service': { BindsTo: ['b.service'] }, 'b.service': {} }), 'a.service'), undefined);
});

test('runnableJobs: After= makes a start wait for the job of the unit it comes after; stops go in reverse order, before starts', () => {
  const m = machine({ 'side.service': { BindsTo: ['web.service'], After: ['web.service'] }, 'web.service': {} });
  const side = { unit: 'side.service', type: 'start' as const };
  const web = { unit: 'web.service', type: 'start' as const };
  assert.deepEqual(runnableJobs(m, [side, web], []).jobs, [web]);
  assert.deepEqual(runnableJobs(m, [side], [web]).jobs, []);
  assert.deepEqual(runnableJobs(m, [side], []).jobs, [side]);
  const sideStop = { unit: 'side.service', type: 'stop' as const };
  const webStop = { unit: 'web.service', type: 'stop' as const };
  assert.deepEqual(runnableJobs(m, [webStop, sideStop], []).jobs, [sideStop], 'side (After=web) stops first');
  // A stop always goes before a start it is ordered with, whichever way the ordering points.
  assert.deepEqual(runnableJobs(m, [side, webStop], []).jobs, [webStop]);
  assert.deepEqual(runnableJobs(m, [web, sideStop], []).jobs, [sideStop], 'web waits for the stop of side, which comes after it');
});

test('runnableJobs: jobs of separate starts waiting on each other in a cycle run anyway, oldest first, with the cycle named', () => {
  const m = machine({ 'a.service': { After: ['b.service'] }, 'b.service': { After: ['a.service'] } });
  const a = { unit: 'a.service', type: 'start' as const };
  const b = { unit: 'b.service', type: 'start' as const };
  const r = runnableJobs(m, [a, b], []);
  assert.deepEqual(r.jobs, [a]);
  assert.match(r.cycle!, /a\.service\/start → b\.service\/start → a\.service\/start/);
});

test('parseDependencyValue: templates, globs and malformed names are dropped with a note naming the fix; duplicates and self once', () => {
  const r = parseDependencyValue('Requires', 'web@.service nginx.*.service docker web.service web.service me.service', 'me.service');
  assert.deepEqual(r.names, ['web.service']);
  assert.equal(r.notes.length, 3);
  assert.match(r.notes[0]!, /^Requires=web@\.service is a template, which cannot run, so the dependency is ignored; name an instance such as web@1\.service$/);
  assert.match(r.notes[1]!, /^Requires=nginx\.\*\.service is a glob; .*ignored; list each unit$/);
  assert.match(r.notes[2]!, /^Requires=docker is not a valid unit name \(unit name must contain "\."\).*write a full name such as docker\.service$/);
});
