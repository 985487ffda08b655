/**
 * systemd's dependencies between units on one machine, with real processes: the ProcessUnitManager
 * runs the jobs dependencies.ts plans. Each test names the systemd.unit(5) behaviour it checks.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessUnitManager } from '../src/agent/processUnitManager';
import { Journal } from '../src/agent/journal';
import type { UnitManagerState } from '../src/agent/unitManager';
import type { UnitOption } from '../../unitfile/src/serialize';
import { waitFor } from '../../test/support/process';
import { alive } from './processes';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-deps-'));
const managers: ProcessUnitManager[] = [];
after(async () => {
  await Promise.all(managers.map(m => m.close()));
  fs.rmSync(root, { recursive: true, force: true });
});

const MACHINE = 'fedcba9876543210fedcba9876543210';
const HASH = 'b'.repeat(40);

function setup(name: string) {
  const journal = new Journal({ machineId: MACHINE });
  const stateDir = path.join(root, name);
  const m = new ProcessUnitManager({ machineId: MACHINE, journal, stateDir, hostname: 'host1', bootId: 'b'.repeat(32) });
  managers.push(m);
  const state = async (unit: string): Promise<UnitManagerState> => {
    const s = (await m.states()).find(x => x.name === unit);
    assert.ok(s, `${unit} is loaded`);
    return s;
  };
  const until = (unit: string, active: string, sub: string, timeoutMs = 10_000) =>
    waitFor(
      `${unit} to be ${active}/${sub}`,
      async () => {
        const s = await state(unit);
        return s.activeState === active && s.subState === sub ? s : undefined;
      },
      { timeoutMs, intervalMs: 20 },
    );
  const lines = (unit: string) => journal.read(unit, 1000).map(l => l.text);
  const load = (unit: string, opts: [string, string, string][]) =>
    m.load(
      unit,
      opts.map(([section, n, value]): UnitOption => ({ section, name: n, value })),
      HASH,
    );
  return { m, state, until, lines, load, dir: stateDir };
}

/** A web server stand-in that takes a moment to come up (ExecStartPre=) and says when it is up (ExecStartPost=). */
function web(dir: string, extra: [string, string, string][] = []): [string, string, string][] {
  return [
    ['Service', 'ExecStartPre', '/bin/sleep 0.3'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
    ['Service', 'ExecStartPost', `/bin/touch ${dir}/web-up`],
    ['Service', 'ExecStopPost', `/bin/rm -f ${dir}/web-up`],
    ...extra,
  ];
}

/** The article's sidekick shape: BindsTo= and After= its service; reports whether the service was up when it started. */
function sidekick(dir: string): [string, string, string][] {
  return [
    ['Unit', 'BindsTo', 'web.service'],
    ['Unit', 'After', 'web.service'],
    ['Service', 'ExecStart', `/bin/sh -c 'if test -e ${dir}/web-up; then echo web was up; else echo web was down; fi; exec sleep 600'`],
  ];
}

test('BindsTo=+After= (systemd.unit(5): the sidekick is started with its service, only after it is up, and stopped when it stops)', async () => {
  const { m, until, lines, load, dir } = setup('sidekick');
  await load('web.service', web(dir));
  await load('web-discovery.service', sidekick(dir));
  // The agent starts units in name order: the sidekick first. BindsTo= pulls web in; After= makes the sidekick wait.
  await m.start('web-discovery.service');
  await until('web.service', 'active', 'running');
  await until('web-discovery.service', 'active', 'running');
  await waitFor('the sidekick to report', () => lines('web-discovery.service').some(l => l.startsWith('web was')), { timeoutMs: 5_000, intervalMs: 20 });
  assert.ok(lines('web-discovery.service').includes('web was up'), lines('web-discovery.service').join('\n'));

  // "If one of the other units is explicitly stopped, this unit will be stopped too" — and stopped first (reverse After= order).
  const sidePid = m.mainPid('web-discovery.service')!;
  await m.stop('web.service');
  const side = await until('web-discovery.service', 'inactive', 'dead');
  assert.equal(alive(sidePid), false);
  assert.ok(side);
});

test("BindsTo=: when the service's process dies on its own (kill -9) the sidekick is stopped too; Requires= alone would not", async () => {
  const { m, until, load, dir, state } = setup('bound-dies');
  await load('web.service', web(dir));
  await load('web-discovery.service', sidekick(dir));
  await load('req.service', [
    ['Unit', 'Requires', 'web.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await m.start('web-discovery.service');
  await m.start('req.service');
  await until('web-discovery.service', 'active', 'running');
  await until('req.service', 'active', 'running');
  process.kill(m.mainPid('web.service')!, 'SIGKILL');
  await until('web.service', 'failed', 'failed');
  const s = await until('web-discovery.service', 'inactive', 'dead');
  assert.match(s.detail!, /bound to web\.service, which is failed \(BindsTo=\)/);
  // The job queue has handled web's failure and its consequences (a state change is settled on
  // the next turn), and has nothing left to do.
  await new Promise(resolve => setImmediate(resolve));
  await waitFor('the job queue to be empty', () => m.queuedJobs().length === 0, { intervalMs: 20 });
  assert.equal((await state('req.service')).activeState, 'active', 'Requires= does not stop a unit when the required one merely exits');
});

test('BindsTo=: a service that restarts automatically (Restart=always) keeps its sidekick (it is activating, not inactive)', async () => {
  const { m, until, load, dir, state } = setup('bound-restarts');
  await load('web.service', [
    ['Service', 'ExecStart', '/bin/sleep 600'],
    ['Service', 'Restart', 'always'],
    ['Service', 'RestartSec', '200ms'],
  ]);
  await load('web-discovery.service', sidekick(dir));
  await m.start('web-discovery.service');
  await until('web-discovery.service', 'active', 'running');
  const pid = m.mainPid('web.service')!;
  process.kill(pid, 'SIGKILL');
  await waitFor('web to restart', () => (m.mainPid('web.service') ?? pid) !== pid, { timeoutMs: 5_000, intervalMs: 20 });
  await until('web.service', 'active', 'running');
  assert.equal((await state('web-discovery.service')).activeState, 'active');
});

test('Requires=+After= on a unit whose start fails: "Dependency failed", the unit stays inactive and runs nothing', async () => {
  const { m, until, load, state, dir } = setup('dep-failed');
  await load('db.service', [
    ['Service', 'ExecStartPre', '/bin/false'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('app.service', [
    ['Unit', 'Requires', 'db.service'],
    ['Unit', 'After', 'db.service'],
    ['Service', 'ExecStart', `/bin/touch ${dir}/app-ran`],
  ]);
  await m.start('app.service');
  await until('db.service', 'failed', 'failed');
  const s = await waitFor(
    'app to report the failed dependency',
    async () => {
      const st = await state('app.service');
      return st.detail?.includes('Dependency failed') ? st : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 20 },
  );
  assert.equal(s.activeState, 'inactive');
  assert.match(s.detail!, /Dependency failed for app\.service: db\.service did not start/);
  assert.equal(fs.existsSync(`${dir}/app-ran`), false);
});

test('a Requires= on a unit not on this machine fails the start with "not found"; Wants= on one does not; the machine\'s other units run', async () => {
  const { m, until, load, state } = setup('missing');
  await load('needs.service', [
    ['Unit', 'Requires', 'elsewhere.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('wants.service', [
    ['Unit', 'Wants', 'elsewhere.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('other.service', [['Service', 'ExecStart', '/bin/sleep 600']]);
  await m.start('needs.service');
  await m.start('wants.service');
  await m.start('other.service');
  await until('wants.service', 'active', 'running');
  await until('other.service', 'active', 'running');
  const s = await state('needs.service');
  assert.equal(s.activeState, 'inactive');
  assert.match(
    s.detail!,
    /Failed to start needs\.service: Unit elsewhere\.service not found \(needs\.service has Requires=elsewhere\.service; it is not loaded on this machine\)\./,
  );
});

test('an After= cycle among required units: the start is refused with the cycle named (systemd: "Transaction order is cyclic"); other units run', async () => {
  const { m, until, load, state } = setup('cycle');
  await load('a.service', [
    ['Unit', 'Requires', 'b.service'],
    ['Unit', 'After', 'b.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('b.service', [
    ['Unit', 'After', 'a.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('c.service', [['Service', 'ExecStart', '/bin/sleep 600']]);
  await m.start('a.service');
  await m.start('c.service');
  await until('c.service', 'active', 'running');
  const s = await state('a.service');
  assert.equal(s.activeState, 'inactive');
  assert.match(s.detail!, /Transaction order is cyclic: .*a\.service\/start.*b\.service\/start.* \(After=\/Before=\); remove one of these orderings/);
  assert.equal((await state('b.service')).activeState, 'inactive');
});

test("Requires= on a template, a glob or a malformed name: the dependency is ignored (as systemd does) and the detail says why; the machine's other units run", async () => {
  const { m, until, load } = setup('bad-names');
  await load('x.service', [
    ['Unit', 'Requires', 'web@.service nginx.*.service docker'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('y.service', [
    ['Unit', 'After', 'x.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await m.start('x.service');
  await m.start('y.service');
  await until('y.service', 'active', 'running');
  const s = await until('x.service', 'active', 'running');
  assert.match(s.detail!, /Requires=web@\.service is a template.*name an instance such as web@1\.service/);
  assert.match(s.detail!, /Requires=nginx\.\*\.service is a glob/);
  assert.match(s.detail!, /Requires=docker is not a valid unit name/);
});

test('Conflicts= (systemd.unit(5): "starting this unit will stop the other unit and vice versa"); PartOf= stops the part with the whole', async () => {
  const { m, until, load } = setup('conflicts');
  await load('blue.service', [['Service', 'ExecStart', '/bin/sleep 600']]);
  await load('green.service', [
    ['Unit', 'Conflicts', 'blue.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await load('blue-log.service', [
    ['Unit', 'PartOf', 'blue.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
  ]);
  await m.start('blue.service');
  await m.start('blue-log.service');
  await until('blue-log.service', 'active', 'running');
  await m.start('green.service');
  await until('green.service', 'active', 'running');
  await until('blue.service', 'inactive', 'dead');
  await until('blue-log.service', 'inactive', 'dead');
  await m.start('blue.service');
  await until('blue.service', 'active', 'running');
  await until('green.service', 'inactive', 'dead');
});

test('After= orders stops in reverse: on unload of both, the unit that comes after stops first', async () => {
  const { m, until, load, dir } = setup('stop-order');
  await load('first.service', [
    ['Service', 'ExecStart', '/bin/sleep 600'],
    ['Service', 'ExecStopPost', `/bin/sh -c 'echo first >> ${dir}/order'`],
  ]);
  await load('second.service', [
    ['Unit', 'After', 'first.service'],
    ['Service', 'ExecStart', '/bin/sleep 600'],
    ['Service', 'ExecStop', '/bin/sleep 0.3'],
    ['Service', 'ExecStopPost', `/bin/sh -c 'echo second >> ${dir}/order'`],
  ]);
  await m.start('first.service');
  await m.start('second.service');
  await until('second.service', 'active', 'running');
  await Promise.all([m.unload('first.service'), m.unload('second.service')]);
  assert.deepEqual(fs.readFileSync(`${dir}/order`, 'utf8').trim().split('\n'), ['second', 'first']);
});

test('a start refused for a missing required unit is retried when that unit is loaded (as fleet retries a failed StartUnit on every pass)', async () => {
  const { m, until, load, state, dir } = setup('retry');
  await load('web-discovery.service', sidekick(dir));
  await m.start('web-discovery.service');
  assert.match((await state('web-discovery.service')).detail!, /Unit web\.service not found/);
  await load('web.service', web(dir));
  await until('web.service', 'active', 'running');
  const s = await until('web-discovery.service', 'active', 'running');
  assert.equal(s.detail, undefined);
});
