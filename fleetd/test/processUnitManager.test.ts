/**
 * ProcessUnitManager against real child processes: systemd's service semantics (types, prefixes,
 * restarts, start limit, timeouts, environment, specifiers), and no process left behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessUnitManager } from '../src/agent/processUnitManager';
import { Journal } from '../src/agent/journal';
import { groupAlive, processesInGroup } from '../src/agent/processes';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { UnitManagerState } from '../src/agent/unitManager';
import { waitFor } from '../../test/support/process';
import { alive } from './processes';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-pum-'));
const managers: ProcessUnitManager[] = [];
after(async () => {
  await Promise.all(managers.map(m => m.close()));
  fs.rmSync(root, { recursive: true, force: true });
});

const MACHINE = '0123456789abcdef0123456789abcdef';

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
  const lines = (unit: string, stream?: string) =>
    journal
      .read(unit, 1000)
      .filter(l => !stream || l.stream === stream)
      .map(l => l.text);
  return { m, journal, stateDir, state, until, lines };
}

const svc = (...kv: [string, string][]) => kv.map(([name, value]) => ({ section: 'Service', name, value }));
const HASH = 'a'.repeat(40);

async function gone(pids: number[]): Promise<void> {
  await waitFor(`processes ${pids.join(',')} to be gone`, () => pids.every(p => !alive(p)), { timeoutMs: 5_000, intervalMs: 20 });
}

test('simple: starts, reports active/running with the hash, logs output, stops to inactive/dead and kills its group', async () => {
  const { m, until, lines, stateDir } = setup('simple');
  await m.load(
    'web.service',
    [{ section: 'Unit', name: 'Description', value: 'Web %i' }, ...svc(['ExecStart', `/bin/sh -c "echo hello; sleep 60 & sleep 60"`])],
    HASH,
  );
  assert.equal(
    fs.readFileSync(path.join(stateDir, 'units', 'web.service'), 'utf8'),
    '[Unit]\nDescription=Web %i\n\n[Service]\nExecStart=/bin/sh -c "echo hello; sleep 60 & sleep 60"\n',
  );
  await m.start('web.service');
  const s = await until('web.service', 'active', 'running');
  assert.equal(s.hash, HASH);
  assert.equal(s.loadState, 'loaded');
  await waitFor('output', () => lines('web.service', 'stdout').includes('hello'));
  const pid = m.mainPid('web.service')!;
  assert.ok(pid > 0 && alive(pid));
  const groups = m.processGroups('web.service');
  assert.deepEqual(groups, [pid]);
  await m.stop('web.service');
  const stopped = await until('web.service', 'inactive', 'dead');
  assert.equal(stopped.detail, undefined);
  assert.deepEqual(m.processGroups('web.service'), []);
  assert.deepEqual(processesInGroup(pid), [], 'the whole group (the backgrounded sleep too) is gone');
  assert.deepEqual(lines('web.service', 'system'), ['Starting Web ...', 'Started Web .', 'Stopping Web ...', 'Stopped Web .']);
});

test('Restart=on-failure restarts a crashing process, counts restarts, then hits the start limit', async () => {
  const { m, until, lines } = setup('restart');
  await m.load(
    'crash.service',
    svc(['ExecStart', '/bin/sh -c "echo boom >&2; exit 3"'], ['Restart', 'on-failure'], ['RestartSec', '20ms'], ['StartLimitBurst', '3']),
    HASH,
  );
  await m.start('crash.service');
  const s = await until('crash.service', 'failed', 'failed');
  assert.equal(m.restarts('crash.service'), 3);
  assert.match(s.detail!, /Start request repeated too quickly/);
  assert.match(s.detail!, /restarted 3 times/);
  assert.deepEqual(lines('crash.service', 'stderr'), ['boom', 'boom', 'boom']);
  const sys = lines('crash.service', 'system');
  assert.ok(sys.includes('crash.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED'));
  assert.ok(sys.includes('crash.service: Scheduled restart job, restart counter is at 3.'));
  assert.equal(sys.at(-2), 'crash.service: Start request repeated too quickly.');
  // Unload resets the failed state (fleet's ResetFailedUnit), so a new load can start again.
  await m.unload('crash.service');
  assert.deepEqual(await m.states(), []);
});

test('Restart=on-failure does not restart a clean exit; Restart=always does; Restart=no leaves a crash failed', async () => {
  const { m, until } = setup('restart-policies');
  await m.load('clean.service', svc(['ExecStart', '/bin/true'], ['Restart', 'on-failure'], ['RestartSec', '10ms']), HASH);
  await m.start('clean.service');
  await until('clean.service', 'inactive', 'dead');
  assert.equal(m.restarts('clean.service'), 0);

  await m.load('always.service', svc(['ExecStart', '/bin/true'], ['Restart', 'always'], ['RestartSec', '10ms'], ['StartLimitBurst', '2']), HASH);
  await m.start('always.service');
  await until('always.service', 'failed', 'failed');
  assert.equal(m.restarts('always.service'), 2);

  await m.load('no.service', svc(['ExecStart', '/bin/false']), HASH);
  await m.start('no.service');
  const s = await until('no.service', 'failed', 'failed');
  assert.equal(s.detail, 'Main process exited, code=exited, status=1/FAILURE (result: exit-code)');
  assert.equal(m.restarts('no.service'), 0);
});

test('oneshot + RemainAfterExit: active/exited after all ExecStart lines; stop runs ExecStop; without it, back to inactive', async () => {
  const { m, until, lines, stateDir } = setup('oneshot');
  const marker = path.join(stateDir, 'stopped');
  await m.load(
    'setup.service',
    svc(
      ['Type', 'oneshot'],
      ['RemainAfterExit', 'yes'],
      ['ExecStart', '/bin/echo one'],
      ['ExecStart', '/bin/echo two'],
      ['ExecStop', `/bin/sh -c 'echo $SERVICE_RESULT > ${marker}'`],
    ),
    HASH,
  );
  await m.start('setup.service');
  await until('setup.service', 'active', 'exited');
  assert.deepEqual(lines('setup.service', 'stdout'), ['one', 'two']);
  await m.stop('setup.service');
  await until('setup.service', 'inactive', 'dead');
  assert.equal(fs.readFileSync(marker, 'utf8'), 'success\n');

  await m.load('task.service', svc(['Type', 'oneshot'], ['ExecStart', '/bin/echo done']), HASH);
  await m.start('task.service');
  await until('task.service', 'inactive', 'dead');
  assert.ok(lines('task.service', 'system').includes('Finished task.service.'));
});

test('ExecStartPre failure fails the unit without running ExecStart; the "-" prefix ignores a failure', async () => {
  const { m, until, lines } = setup('pre');
  await m.load('pre.service', svc(['ExecStartPre', '/bin/sh -c "exit 7"'], ['ExecStart', '/bin/echo main'], ['ExecStopPost', '/bin/echo post']), HASH);
  await m.start('pre.service');
  const s = await until('pre.service', 'failed', 'failed');
  assert.equal(s.detail, '/bin/sh exited, code=exited, status=7/NOTRUNNING (result: exit-code)');
  assert.deepEqual(lines('pre.service', 'stdout'), ['post'], 'ExecStart never ran; ExecStopPost did');
  assert.ok(lines('pre.service', 'system').includes('Failed to start pre.service.'));

  await m.load('dash.service', svc(['ExecStartPre', '-/bin/false'], ['ExecStartPre', '-/nonexistent/program'], ['ExecStart', '/bin/sleep 60']), HASH);
  await m.start('dash.service');
  await until('dash.service', 'active', 'running');
  assert.ok(lines('dash.service', 'system').includes('dash.service: Failed to execute /nonexistent/program: No such file or directory'));
  await m.stop('dash.service');
});

test('a program that does not exist: main process exits 203/EXEC and the unit fails', async () => {
  const { m, until } = setup('exec');
  await m.load('missing.service', svc(['ExecStart', '/nonexistent/daemon --flag']), HASH);
  await m.start('missing.service');
  const s = await until('missing.service', 'failed', 'failed');
  assert.match(s.detail!, /status=203\/EXEC/);
});

test('TimeoutStopSec: a process ignoring SIGTERM is SIGKILLed with its whole group; nothing leaks', async () => {
  const { m, until, lines } = setup('timeout-stop');
  await m.load(
    'stubborn.service',
    svc(['ExecStart', `/bin/sh -c "trap '' TERM; sleep 60 & echo child $$!; while true; do sleep 0.05; done"`], ['TimeoutStopSec', '300ms']),
    HASH,
  );
  await m.start('stubborn.service');
  await until('stubborn.service', 'active', 'running');
  const childLine = await waitFor('the child pid', () => lines('stubborn.service', 'stdout').find(l => l.startsWith('child ')));
  const child = Number(childLine.split(' ')[1]);
  const main = m.mainPid('stubborn.service')!;
  const t0 = Date.now();
  await m.stop('stubborn.service');
  assert.ok(Date.now() - t0 >= 250, 'waited for the stop timeout before SIGKILL');
  const s = await until('stubborn.service', 'failed', 'failed');
  assert.match(s.detail ?? '', /result: timeout/);
  assert.ok(lines('stubborn.service', 'system').includes("stubborn.service: State 'stop-sigterm' timed out. Killing."));
  await gone([main, child]);
});

test('TimeoutStartSec: a hanging ExecStartPre is killed and the unit fails with result timeout', async () => {
  const { m, until } = setup('timeout-start');
  await m.load('slow.service', svc(['ExecStartPre', '/bin/sleep 60'], ['ExecStart', '/bin/sleep 60'], ['TimeoutStartSec', '700ms']), HASH);
  await m.start('slow.service');
  await waitFor('the pre process', () => m.processGroups('slow.service').length === 1);
  const [pre] = m.processGroups('slow.service');
  const s = await until('slow.service', 'failed', 'failed');
  assert.match(s.detail!, /start operation timed out after 700ms \(TimeoutStartSec=\) \(result: timeout\)/);
  await gone([pre!]);
});

test('stop during start (ExecStartPre running) aborts the start and kills it', async () => {
  const { m, until } = setup('stop-during-start');
  await m.load('s.service', svc(['ExecStartPre', '/bin/sleep 60'], ['ExecStart', '/bin/sleep 60']), HASH);
  await m.start('s.service');
  await waitFor('the pre process', () => m.processGroups('s.service').length === 1);
  const [pre] = m.processGroups('s.service');
  await m.stop('s.service');
  await until('s.service', 'inactive', 'dead');
  await gone([pre!]);
});

test('Environment= (quoted, several), EnvironmentFile= (with "-"), $VAR and ${VAR}, specifiers, WorkingDirectory=, @argv0', async () => {
  const { m, until, lines, stateDir } = setup('env');
  const envFile = path.join(stateDir, 'env');
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(envFile, '# comment\nFROM_FILE="file value"\nexport OVERRIDE=file\n');
  await m.load(
    'app@blue\\x2dgreen.service',
    svc(
      ['Environment', '"GREETING=hello world" WORDS="a b  c" OVERRIDE=env'],
      ['Environment', 'EMPTY='],
      ['EnvironmentFile', envFile],
      ['EnvironmentFile', '-/nonexistent/env'],
      ['WorkingDirectory', stateDir],
      ['Type', 'oneshot'],
      ['ExecStart', '/usr/bin/printf "[%%s]" ${GREETING} $WORDS "${FROM_FILE}" $OVERRIDE x$$y'],
      ['ExecStart', '/bin/echo n=%n N=%N p=%p i=%i I=%I H=%H m=%m b=%b f=%f pct=%%'],
      ['ExecStart', '/bin/sh -c "pwd"'],
      ['ExecStart', '@/bin/sh myname -c "echo $0"'],
      ['ExecStart', ':/bin/echo $GREETING'],
    ),
    HASH,
  );
  await m.start('app@blue\\x2dgreen.service');
  await until('app@blue\\x2dgreen.service', 'inactive', 'dead');
  assert.deepEqual(lines('app@blue\\x2dgreen.service', 'stdout'), [
    '[hello world][a][b][c][file value][file][x$y]',
    // As in systemd, specifiers expand before the line is unquoted, so the \x2d escape becomes "-" in %n %N %i.
    `n=app@blue-green.service N=app@blue-green p=app i=blue-green I=blue-green H=host1 m=${MACHINE} b=${'b'.repeat(32)} f=/blue-green pct=%`,
    stateDir,
    'myname',
    '$GREETING',
  ]);
});

test('a missing EnvironmentFile without "-" fails the start with a message naming the file', async () => {
  const { m, until } = setup('envfile');
  await m.load('e.service', svc(['EnvironmentFile', '/nonexistent/app.env'], ['ExecStart', '/bin/true']), HASH);
  await m.start('e.service');
  const s = await until('e.service', 'failed', 'failed');
  assert.match(s.detail!, /Failed to load environment file \/nonexistent\/app\.env: .*prefix the path with "-"/);
});

test('forking: PIDFile= names the daemon, which is supervised and stopped', async () => {
  const { m, until, stateDir } = setup('forking');
  fs.mkdirSync(stateDir, { recursive: true });
  const pidFile = path.join(stateDir, 'd.pid');
  await m.load('d.service', svc(['Type', 'forking'], ['PIDFile', pidFile], ['ExecStart', `/bin/sh -c "sleep 60 & echo $$! > ${pidFile}"`]), HASH);
  await m.start('d.service');
  await until('d.service', 'active', 'running');
  const daemon = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.equal(m.mainPid('d.service'), daemon);
  assert.ok(alive(daemon));
  await m.stop('d.service');
  await until('d.service', 'inactive', 'dead');
  await gone([daemon]);
});

test('forking: when the daemon exits on its own the unit goes inactive', async () => {
  const { m, until, lines } = setup('forking-exit');
  await m.load('f.service', svc(['Type', 'forking'], ['ExecStart', '/bin/sh -c "sleep 0.5 &"']), HASH);
  await m.start('f.service');
  // The running window is short (and shorter on a loaded machine): assert the outcome and the journal.
  await until('f.service', 'inactive', 'dead');
  assert.deepEqual(lines('f.service', 'system').slice(0, 2), ['Starting f.service...', 'Started f.service.']);
});

test('bad settings and unsupported directives are reported in the state detail, not ignored', async () => {
  const { m, state, until } = setup('detail');
  await m.load('bad.service', svc(['ExecStart', '/bin/true'], ['ExecStart', '/bin/true']), HASH);
  let s = await state('bad.service');
  assert.equal(s.loadState, 'bad-setting');
  assert.match(s.detail!, /more than one ExecStart= setting, which is only allowed for Type=oneshot/);
  await m.start('bad.service');
  s = await until('bad.service', 'failed', 'failed');
  assert.match(s.detail!, /bad unit file setting/);

  await m.load(
    'odd.service',
    [
      { section: 'Unit', name: 'Requires', value: 'docker.service' },
      { section: 'Unit', name: 'After', value: 'docker.service' },
      ...svc(
        ['ExecStart', '/bin/sleep 60'],
        ['PrivateTmp', 'true'],
        ['ExecReload', '/bin/kill -HUP $MAINPID'],
        ['Restart', 'sometimes'],
        ['TimeoutStopSec', 'soon'],
      ),
      { section: 'X-Fleet', name: 'Global', value: 'true' },
      { section: 'Install', name: 'WantedBy', value: 'multi-user.target' },
    ],
    HASH,
  );
  s = await state('odd.service');
  assert.equal(s.loadState, 'loaded');
  assert.equal(
    s.detail,
    'not supported by the process unit manager: PrivateTmp=, ExecReload=, ' +
      '[Install] (the unit is started only by fleet, never enabled); ' +
      'Restart=sometimes is not one of no, on-success, on-failure, on-abnormal, on-abort, on-watchdog, always; using no; ' +
      'TimeoutStopSec=soon is not a time span (e.g. 90s, 1min 30s, infinity); ignored',
  );

  await m.load('t.timer', [{ section: 'Timer', name: 'OnCalendar', value: 'daily' }], HASH);
  await m.start('t.timer');
  s = await until('t.timer', 'failed', 'failed');
  assert.match(s.detail!, /cannot run \.timer units/);
});

test('an empty unit file is masked, as in systemd, and does not start', async () => {
  const { m, state, until } = setup('masked');
  await m.load('empty.service', [], HASH);
  assert.equal((await state('empty.service')).loadState, 'masked');
  await m.start('empty.service');
  const s = await until('empty.service', 'failed', 'failed');
  assert.match(s.detail!, /Unit empty\.service is masked: its unit file is empty; submit the unit with its options/);
});

test('start on a unit that is not loaded names the unit and the fix', async () => {
  const { m } = setup('notloaded');
  await assert.rejects(m.start('ghost.service'), /cannot start unit ghost\.service: it is not loaded on this machine; load it first/);
});

test('"-" on ExecStart: a failing main process counts as success', async () => {
  const { m, until } = setup('dash-main');
  await m.load('d.service', svc(['ExecStart', '-/bin/sh -c "exit 4"'], ['Restart', 'on-failure'], ['RestartSec', '10ms']), HASH);
  await m.start('d.service');
  await until('d.service', 'inactive', 'dead');
  assert.equal(m.restarts('d.service'), 0);
});

test('Type=exec runs like simple; KillSignal= is the stop signal', async () => {
  const { m, until, lines } = setup('killsignal');
  await m.load(
    'k.service',
    svc(
      ['Type', 'exec'],
      ['KillSignal', 'USR1'],
      ['ExecStart', `/bin/sh -c "trap 'echo got USR1; exit 0' USR1; trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done"`],
    ),
    HASH,
  );
  await m.start('k.service');
  await until('k.service', 'active', 'running');
  await waitFor('ready', () => lines('k.service', 'stdout').includes('ready'));
  await m.stop('k.service');
  await until('k.service', 'inactive', 'dead');
  assert.ok(lines('k.service', 'stdout').includes('got USR1'));
  assert.ok(!lines('k.service', 'stdout').includes('got TERM'));
});

test('ExecStartPost failure stops the started main process (running ExecStop) and fails the unit', async () => {
  const { m, until, lines } = setup('post');
  await m.load('p.service', svc(['ExecStart', '/bin/sleep 60'], ['ExecStartPost', '/bin/sh -c "sleep 0.3; exit 1"'], ['ExecStop', '/bin/echo stop ran']), HASH);
  await m.start('p.service');
  await waitFor('the main process', () => m.mainPid('p.service'));
  const main = m.mainPid('p.service')!;
  const s = await until('p.service', 'failed', 'failed');
  assert.match(s.detail!, /\/bin\/sh exited, code=exited, status=1\/FAILURE \(result: exit-code\)/);
  assert.ok(lines('p.service', 'stdout').includes('stop ran'));
  await gone([main]);
});

test('stop during auto-restart cancels the restart; start while stopping starts again afterwards', async () => {
  const { m, until, lines } = setup('restart-cancel');
  await m.load('r.service', svc(['ExecStart', '/bin/false'], ['Restart', 'always'], ['RestartSec', '10s']), HASH);
  await m.start('r.service');
  await until('r.service', 'activating', 'auto-restart');
  await m.stop('r.service');
  await until('r.service', 'failed', 'failed');
  assert.equal(m.restarts('r.service'), 0);

  await m.load('slowstop.service', svc(['ExecStart', '/bin/sleep 60'], ['ExecStop', '/bin/sleep 0.3']), HASH);
  await m.start('slowstop.service');
  await until('slowstop.service', 'active', 'running');
  const first = m.mainPid('slowstop.service')!;
  const stopping = m.stop('slowstop.service');
  await until('slowstop.service', 'deactivating', 'stop');
  await m.start('slowstop.service');
  await stopping;
  await until('slowstop.service', 'active', 'running');
  assert.notEqual(m.mainPid('slowstop.service'), first);
  assert.equal(lines('slowstop.service', 'system').filter(l => l === 'Starting slowstop.service...').length, 2);
  await m.stop('slowstop.service');
});

test('targets only change state; start is idempotent while running', async () => {
  const { m, until } = setup('target');
  await m.load('all.target', [{ section: 'Unit', name: 'Description', value: 'All' }], HASH);
  await m.start('all.target');
  await until('all.target', 'active', 'running');
  await m.stop('all.target');
  await until('all.target', 'inactive', 'dead');
  await m.load('s.service', svc(['ExecStart', '/bin/sleep 60']), HASH);
  await m.start('s.service');
  await until('s.service', 'active', 'running');
  const pid = m.mainPid('s.service');
  await m.start('s.service');
  assert.equal(m.mainPid('s.service'), pid);
  assert.equal(m.processGroups('s.service').length, 1);
  await m.unload('s.service');
});

test('process groups left behind by a crashed fleetd are killed by the next manager on the same stateDir', async () => {
  const stateDir = path.join(root, 'orphans');
  const journal = new Journal({ machineId: MACHINE });
  const first = new ProcessUnitManager({ machineId: MACHINE, journal, stateDir });
  await first.load('o.service', svc(['ExecStart', '/bin/sh -c "sleep 60 & sleep 60"']), HASH);
  await first.start('o.service');
  await waitFor('the process group', () => first.processGroups('o.service').length === 1);
  const [pgid] = first.processGroups('o.service');
  // While `first` holds the directory, a second manager refuses it.
  assert.throws(
    () => new ProcessUnitManager({ machineId: MACHINE, journal, stateDir }),
    /state directory .*orphans is in use by another fleetd agent \(pid \d+\); give every machine its own state directory \(--state-dir\)/,
  );
  // Simulate a crash of `first`: its lock now names a process that is gone.
  fs.writeFileSync(path.join(stateDir, 'lock'), '2147483647 crashed\n');
  const second = new ProcessUnitManager({ machineId: MACHINE, journal, stateDir });
  managers.push(second);
  await waitFor('the orphaned group to be gone', () => processesInGroup(pgid!).length === 0, { timeoutMs: 5_000 });
  assert.ok(journal.read('o.service', 100).some(l => l.text === `Killed process group ${pgid} left behind by a previous fleetd.`));
  await first.close();
});

test('stop right after start (any phase) always ends stopped with nothing left running', async () => {
  const { m, state } = setup('start-stop-race');
  await m.load('race.service', svc(['ExecStart', '/bin/sleep 60'], ['ExecStartPost', '/bin/true'], ['StartLimitIntervalSec', '0']), HASH);
  const seen = new Set<number>();
  for (let i = 0; i < 8; i++) {
    await m.start('race.service');
    if (i % 2 === 1) await new Promise(r => setTimeout(r, i * 5));
    for (const g of m.processGroups('race.service')) seen.add(g);
    await m.stop('race.service');
    const s = await state('race.service');
    assert.deepEqual([s.activeState, s.subState], ['inactive', 'dead'], `round ${i}`);
    assert.deepEqual(m.processGroups('race.service'), [], `round ${i}`);
  }
  for (const g of seen) assert.deepEqual(processesInGroup(g), []);
});

test('Restart=on-abnormal restarts after a kill by signal but not after an exit code; SuccessExitStatus= counts as success', async () => {
  const { m, until } = setup('abnormal');
  await m.load(
    'sig.service',
    svc(['ExecStart', '/bin/sh -c "sleep 0.2; kill -KILL $$$$"'], ['Restart', 'on-abnormal'], ['RestartSec', '10ms'], ['StartLimitBurst', '2']),
    HASH,
  );
  await m.start('sig.service');
  const s = await until('sig.service', 'failed', 'failed');
  assert.equal(m.restarts('sig.service'), 2);
  assert.match(s.detail!, /restarted 2 times/);

  await m.load('code.service', svc(['ExecStart', '/bin/sh -c "exit 5"'], ['Restart', 'on-abnormal'], ['RestartSec', '10ms']), HASH);
  await m.start('code.service');
  const c = await until('code.service', 'failed', 'failed');
  assert.equal(c.detail, 'Main process exited, code=exited, status=5/NOTINSTALLED (result: exit-code)');
  assert.equal(m.restarts('code.service'), 0);

  await m.load('ok.service', svc(['ExecStart', '/bin/sh -c "exit 5"'], ['SuccessExitStatus', '5']), HASH);
  await m.start('ok.service');
  await until('ok.service', 'inactive', 'dead');
});

test('forking without PIDFile=: the single process left in the group is the main PID', async () => {
  const { m, until } = setup('forking-guess');
  await m.load('g.service', svc(['Type', 'forking'], ['ExecStart', '/bin/sh -c "sleep 60 &"']), HASH);
  await m.start('g.service');
  await until('g.service', 'active', 'running');
  const main = m.mainPid('g.service');
  assert.ok(main && alive(main));
  assert.match(fs.readFileSync(`/proc/${main}/cmdline`, 'utf8'), /^sleep\x0060/);
  await m.stop('g.service');
  await until('g.service', 'inactive', 'dead');
  await gone([main]);
});

test('groupAlive: one /proc scan serves calls in quick succession, yet a group started since is alive and a killed one soon dead', async () => {
  const start = async () => {
    const child = spawn('/bin/sleep', ['30'], { detached: true, stdio: 'ignore' });
    await once(child, 'spawn');
    return child;
  };
  const a = await start();
  const b = await start();
  try {
    assert.equal(groupAlive(a.pid!), true);
    // Within the scan's lifetime: a group the scan (possibly) missed is looked up again.
    const c = await start();
    try {
      assert.equal(groupAlive(c.pid!), true, 'a group started after the last scan');
      assert.equal(groupAlive(b.pid!), true);
    } finally {
      process.kill(-c.pid!, 'SIGKILL');
    }
    process.kill(-b.pid!, 'SIGKILL');
    await once(b, 'exit');
    await waitFor('the killed group to be dead', () => (groupAlive(b.pid!) ? undefined : true), { timeoutMs: 2_000, intervalMs: 5 });
    assert.equal(groupAlive(a.pid!), true, 'the other one still alive');
  } finally {
    process.kill(-a.pid!, 'SIGKILL');
  }
});

test('groupAlive: a leader that died but is not reaped yet is our child: alive until node reaps it, then dead (no /proc scan meanwhile)', async () => {
  const child = spawn('/bin/sh', ['-c', 'exit 0'], { detached: true, stdio: 'ignore' });
  await once(child, 'spawn');
  const pgid = child.pid!;
  // Without giving the event loop a turn, node cannot reap it: wait (synchronously, bounded) for the zombie.
  const until = Date.now() + 5_000;
  let state = '';
  while (Date.now() < until) {
    try {
      const stat = fs.readFileSync(`/proc/${pgid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
    } catch {
      state = 'gone';
    }
    if (state === 'Z') break;
  }
  assert.equal(state, 'Z', 'the child is a zombie of ours');
  assert.equal(groupAlive(pgid), true);
  await once(child, 'exit');
  assert.equal(groupAlive(pgid), false, 'dead once reaped');
});
