/**
 * The state dir and everything in it are 0700/0600 (issue 12, item 2): unit files hold
 * `Environment=` secrets. Checked on the modes and, when the tests run as root, by reading as a
 * second uid (nobody, 65534), which must be refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Journal } from '../src/agent/journal';
import { ProcessUnitManager, writePrivate } from '../src/agent/processUnitManager';
import { waitFor, stopLeader } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');
const NOBODY = 65534;

/** Every path under `dir` (itself included) whose mode lets group or others in. */
function openToOthers(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return out;
}

/** A second uid reading `file`: undefined when refused, else what it read. Only as root. */
function readAsNobody(file: string): string | undefined {
  const r = spawnSync('/bin/cat', [file], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}

test("the process manager keeps its state 0700/0600; another user cannot read a unit's secrets", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-perms-'));
  fs.chmodSync(root, 0o755); // as /tmp-like parents are: the manager's own dir must close itself
  const stateDir = path.join(root, 'machine');
  const m = new ProcessUnitManager({ machineId: 'a'.repeat(32), journal: new Journal({ machineId: 'a'.repeat(32) }), stateDir });
  try {
    await m.load(
      'secret.service',
      [
        { section: 'Service', name: 'ExecStart', value: '/bin/sleep 60' },
        { section: 'Service', name: 'Environment', value: 'TOKEN=hunter2' },
      ],
      'h',
    );
    await m.start('secret.service');
    await waitFor('the unit to run', async () => (await m.states())[0]?.subState === 'running');
    assert.deepEqual(openToOthers(stateDir), []);
    if (process.getuid?.() === 0) {
      assert.equal(readAsNobody(path.join(stateDir, 'units', 'secret.service')), undefined, 'uid 65534 read the unit file');
    } else {
      process.stderr.write('# stateDir.perms: not root, so the read as a second uid is not tried (the modes are checked)\n');
    }
  } finally {
    await m.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('fleetd local --state-dir: the directory and everything in it are closed to other users', { timeout: 60_000 }, async () => {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-perms-cli-'));
  fs.chmodSync(root, 0o755);
  const stateDir = path.join(root, 'state');
  const child = spawn(process.execPath, [bundle, 'local', '--machines', '2', '--state-dir', stateDir, '--api', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const api = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 30_000,
      abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    const res = await fetch(`${api}/fleet/v1/units/secret.service`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        desiredState: 'launched',
        options: [
          { section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' },
          { section: 'Service', name: 'Environment', value: 'TOKEN=hunter2' },
        ],
      }),
    });
    assert.equal(res.status, 201);
    const unitFile = await waitFor(
      'the unit file to be written',
      () => {
        const found: string[] = [];
        const walk = (p: string) => {
          for (const e of fs.readdirSync(p, { withFileTypes: true })) {
            if (e.isDirectory()) walk(path.join(p, e.name));
            else if (e.name === 'secret.service') found.push(path.join(p, e.name));
          }
        };
        walk(stateDir);
        return found[0];
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(openToOthers(stateDir), []);
    if (process.getuid?.() === 0) assert.equal(readAsNobody(unitFile), undefined, 'uid 65534 read the unit file');
  } finally {
    await stopLeader(child);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('writePrivate: a new file is created 0600 whatever the umask; an existing 0644 file is rewritten and closed to 0600', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-write-private-'));
  const old = process.umask(0);
  try {
    const fresh = path.join(dir, 'fresh.service');
    writePrivate(fresh, 'one');
    assert.equal(fs.statSync(fresh).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(fresh, 'utf8'), 'one');
    const existing = path.join(dir, 'existing.service');
    fs.writeFileSync(existing, 'a longer old text', { mode: 0o644 });
    fs.chmodSync(existing, 0o644);
    writePrivate(existing, 'two');
    assert.equal(fs.statSync(existing).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(existing, 'utf8'), 'two');
  } finally {
    process.umask(old);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
