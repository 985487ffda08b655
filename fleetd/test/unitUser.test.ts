/**
 * User=, Group= and SupplementaryGroups= (issue 12, item 2): honoured when fleetd runs as root
 * (the processes run with those credentials, a missing user fails the start with a clear detail,
 * as systemd's 217/USER does); when fleetd is not root, a unit asking for another user fails with
 * a clear detail instead of running as the caller. The non-root case runs the manager as a
 * second uid (nobody, 65534). Needs root to switch users: a loud skip otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { Journal } from '../src/agent/journal';
import { ProcessUnitManager } from '../src/agent/processUnitManager';
import type { UnitOption } from '../../unitfile/src/serialize';
import { waitFor } from '../../test/support';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root to run units as other users (CI runs as root)';
if (!isRoot) {
  if (process.env.CI === 'true') throw new Error('unitUser.test.ts must run as root under CI');
  process.stderr.write('# SKIP unitUser.test.ts: not root\n');
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-user-'));
fs.chmodSync(root, 0o755);
const managers: ProcessUnitManager[] = [];
after(async () => {
  await Promise.all(managers.map(m => m.close()));
  fs.rmSync(root, { recursive: true, force: true });
});

function manager(name: string) {
  const journal = new Journal({ machineId: 'b'.repeat(32) });
  const m = new ProcessUnitManager({ machineId: 'b'.repeat(32), journal, stateDir: path.join(root, name) });
  managers.push(m);
  return { m, journal };
}

const svc = (...kv: [string, string][]): UnitOption[] => kv.map(([name, value]) => ({ section: 'Service', name, value }));

async function finished(m: ProcessUnitManager, unit: string) {
  return waitFor(
    `${unit} to finish`,
    async () => {
      const s = (await m.states()).find(x => x.name === unit);
      return s && (s.activeState === 'failed' || (s.activeState === 'inactive' && s.subState === 'dead' && s.detail)) ? s : undefined;
    },
    { timeoutMs: 10_000 },
  );
}

test('as root: User=, Group= and SupplementaryGroups= set the credentials of every process; HOME, USER, LOGNAME, SHELL follow the user', { skip }, async () => {
  const { m, journal } = manager('root-user');
  await m.load(
    'who.service',
    svc(
      ['Type', 'oneshot'],
      ['User', 'nobody'],
      ['Group', 'nogroup'],
      ['SupplementaryGroups', 'daemon'],
      ['ExecStart', '/bin/sh -c "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) user=$USER home=$HOME"'],
    ),
    'h',
  );
  await m.start('who.service');
  await waitFor('who.service to print its credentials', () => journal.read('who.service', 50).find(l => l.text.startsWith('uid=')), { timeoutMs: 10_000 });
  const line = journal.read('who.service', 50).find(l => l.text.startsWith('uid='))!.text;
  assert.equal(line, 'uid=65534 gid=65534 groups=65534 1 user=nobody home=/nonexistent');
});

test('as root: a User= that does not exist fails the start with a clear detail (systemd: 217/USER)', { skip }, async () => {
  const { m } = manager('root-missing');
  await m.load('ghost.service', svc(['User', 'no-such-user-x'], ['ExecStart', '/bin/sleep 60']), 'h');
  await m.start('ghost.service');
  const s = await finished(m, 'ghost.service');
  assert.equal(s.activeState, 'failed');
  assert.match(s.detail ?? '', /User=no-such-user-x: no such user/);
  assert.deepEqual(m.processGroups('ghost.service'), []);
});

test('not root: a unit asking for another user fails with a clear detail instead of running as the caller', { skip }, () => {
  // The manager runs as uid 65534 in a child process; its unit asks for root.
  const stateDir = path.join(root, 'as-nobody');
  fs.mkdirSync(stateDir, { mode: 0o700 });
  fs.chownSync(stateDir, 65534, 65534);
  const script = path.join(root, 'as-nobody.ts');
  fs.writeFileSync(
    script,
    `
    import { ProcessUnitManager } from ${JSON.stringify(path.resolve(__dirname, '../src/agent/processUnitManager'))};
    import { Journal } from ${JSON.stringify(path.resolve(__dirname, '../src/agent/journal'))};
    (async () => {
      const m = new ProcessUnitManager({ machineId: 'c'.repeat(32), journal: new Journal({ machineId: 'c'.repeat(32) }), stateDir: ${JSON.stringify(stateDir)} });
      await m.load('root.service', [{ section: 'Service', name: 'User', value: 'root' }, { section: 'Service', name: 'ExecStart', value: '/bin/sleep 60' }], 'h');
      await m.load('me.service', [{ section: 'Service', name: 'User', value: 'nobody' }, { section: 'Service', name: 'Type', value: 'oneshot' }, { section: 'Service', name: 'ExecStart', value: '/bin/true' }], 'h');
      await m.start('root.service');
      await m.start('me.service');
      for (let i = 0; i < 100; i++) {
        const states = await m.states();
        if (states.every(s => s.activeState === 'failed' || s.subState === 'dead')) break;
        await new Promise(r => setTimeout(r, 50));
      }
      console.log(JSON.stringify(await m.states()));
      await m.close();
    })();
  `,
  );
  fs.chmodSync(script, 0o644);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
    uid: 65534,
    gid: 65534,
    cwd: path.resolve(__dirname, '..', '..'),
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOME: '/tmp' },
  });
  assert.equal(r.status, 0, r.stderr);
  const states = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; activeState: string; detail?: string }[];
  const asRoot = states.find(s => s.name === 'root.service');
  assert.equal(asRoot?.activeState, 'failed', r.stdout);
  assert.match(asRoot?.detail ?? '', /User=root: fleetd runs as uid 65534, not as root, so it cannot run units as another user/);
  const asMe = states.find(s => s.name === 'me.service');
  assert.notEqual(asMe?.activeState, 'failed', `User= naming fleetd's own user runs: ${r.stdout}`);
});
