/**
 * Stopping as systemd stops: a main process that fails while its unit stops leaves the unit failed
 * (systemd's service_sigchld_event), and the units of a dead agent are stopped from its state
 * directory with ExecStop=, the stop signal and ExecStopPost= (orphans.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessUnitManager } from '../src/agent/processUnitManager';
import { Journal } from '../src/agent/journal';
import { statFields, groupAlive } from '../src/agent/processes';
import { orphanedGroups, stopOrphanedUnits } from '../src/agent/orphans';
import { serializeOptions, type UnitOption } from '../../unitfile/src/serialize';
import { waitFor } from '../../test/support/process';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-stop-'));
const managers: ProcessUnitManager[] = [];
const spawned: number[] = [];
after(async () => {
  await Promise.all(managers.map(m => m.close()));
  for (const pid of spawned) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

const MACHINE = 'abcdefabcdefabcdefabcdefabcdefab';
const HASH = 'c'.repeat(40);
const opts = (...kv: [string, string][]): UnitOption[] => kv.map(([name, value]) => ({ section: 'Service', name, value }));

function manager(name: string) {
  const m = new ProcessUnitManager({ machineId: MACHINE, journal: new Journal({ machineId: MACHINE }), stateDir: path.join(root, name) });
  managers.push(m);
  const until = (unit: string, active: string, sub: string) =>
    waitFor(
      `${unit} ${active}/${sub}`,
      async () => {
        const s = (await m.states()).find(x => x.name === unit);
        return s && s.activeState === active && s.subState === sub ? s : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20 },
    );
  return { m, until };
}

test('a main process that exits non-zero during ExecStop= (docker run exiting 137 after docker stop) leaves the unit failed, as systemd does', async () => {
  const { m, until } = manager('fails-on-stop');
  await m.load(
    'c.service',
    opts(
      ['ExecStart', `/bin/sh -c 'trap "exit 137" USR1; while :; do sleep 0.05; done'`],
      ['ExecStop', "/bin/sh -c 'kill -USR1 $MAINPID; while kill -0 $MAINPID 2>/dev/null; do sleep 0.05; done'"],
    ),
    HASH,
  );
  await m.start('c.service');
  await until('c.service', 'active', 'running');
  await m.stop('c.service');
  const s = await until('c.service', 'failed', 'failed');
  assert.match(s.detail!, /Main process exited while stopping, code=exited, status=137.*\(result: exit-code\)/);
});

test('a main process ended by the stop signal (SIGTERM) or exiting 0 during ExecStop= leaves the unit inactive/dead', async () => {
  const { m, until } = manager('clean-stop');
  await m.load('t.service', opts(['ExecStart', '/bin/sleep 600']), HASH);
  await m.load(
    'z.service',
    opts(['ExecStart', `/bin/sh -c 'trap "exit 0" USR1; while :; do sleep 0.05; done'`], ['ExecStop', '/bin/kill -USR1 $MAINPID']),
    HASH,
  );
  await m.start('t.service');
  await m.start('z.service');
  await until('t.service', 'active', 'running');
  await until('z.service', 'active', 'running');
  await m.stop('t.service');
  await m.stop('z.service');
  await until('t.service', 'inactive', 'dead');
  await until('z.service', 'inactive', 'dead');
});

test("stopOrphanedUnits: a dead agent's unit is stopped from its state dir — ExecStop=, SIGKILL after TimeoutStopSec=, ExecStopPost= — and nothing is left", async () => {
  const stateDir = path.join(root, 'dead-agent');
  fs.mkdirSync(path.join(stateDir, 'units'), { recursive: true });
  fs.mkdirSync(path.join(stateDir, 'groups'), { recursive: true });
  const marks = path.join(root, 'marks');
  fs.mkdirSync(marks);
  // The unit's main process ignores SIGTERM: only the SIGKILL after TimeoutStopSec= ends it.
  const child = spawn('/bin/sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], { detached: true, stdio: 'ignore' });
  spawned.push(child.pid!);
  await waitFor('the group to exist', () => groupAlive(child.pid!) || undefined, { timeoutMs: 5_000, intervalMs: 10 });
  fs.writeFileSync(path.join(stateDir, 'groups', String(child.pid)), `${statFields(child.pid!)![19]} web.service`);
  fs.writeFileSync(path.join(stateDir, 'groups', '999999'), '1 gone.service'); // a stale record: ignored
  fs.writeFileSync(
    path.join(stateDir, 'units', 'web.service'),
    serializeOptions(
      opts(
        ['ExecStart', '/bin/sleep 600'],
        ['ExecStop', `/bin/sh -c 'echo "$COREOS_PUBLIC_IPV4" > ${marks}/stop'`],
        ['ExecStopPost', `/bin/sh -c 'echo "$SERVICE_RESULT" > ${marks}/stoppost'`],
        ['TimeoutStopSec', '1s'],
      ),
    ),
  );
  assert.deepEqual([...orphanedGroups(stateDir)], [['web.service', [child.pid]]]);
  const lines: string[] = [];
  const t0 = Date.now();
  const n = await stopOrphanedUnits({ stateDir, machineId: MACHINE, env: { COREOS_PUBLIC_IPV4: '127.0.0.7' }, log: (_l, text) => lines.push(text) });
  assert.equal(n, 1);
  assert.ok(Date.now() - t0 < 4_000, `stopped in ${Date.now() - t0} ms`);
  assert.equal(groupAlive(child.pid!), false);
  assert.equal(fs.readFileSync(`${marks}/stop`, 'utf8').trim(), '127.0.0.7');
  // systemd: processes that needed SIGKILL after the timeout make the result "timeout".
  assert.equal(fs.readFileSync(`${marks}/stoppost`, 'utf8').trim(), 'timeout');
  assert.ok(
    lines.some(l => /web\.service: State 'stop-sigterm' timed out\. Killing\./.test(l)),
    lines.join('\n'),
  );
});
