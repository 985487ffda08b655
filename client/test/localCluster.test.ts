/**
 * The local cluster launcher: command line, metadata defaults, etcd discovery, and the process
 * lifecycle against a fake fleetd script (ready line, a child in its process group, SIGTERM
 * ignored, never ready, early exit). Every process here is started by the test and stopped by
 * its process group.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultMetadata, findEtcd, fleetdArgs, groupAlive, launchFleetd, validateMetadata, type LocalClusterProcess } from '../src/localCluster/launcher';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-local-'));
const started: LocalClusterProcess[] = [];
after(async () => {
  for (const p of started) await p.stop(500);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fake `fleetd local`: prints machine lines and the ready line, keeps a child in its group. */
function fakeFleetd(behaviour: { ignoreTerm?: boolean; ready?: boolean; exitCode?: number }): string {
  const file = path.join(dir, `fake-${Math.random().toString(36).slice(2)}.cjs`);
  fs.writeFileSync(
    file,
    `
const { spawn } = require('node:child_process');
const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--machines') + 1]);
if (${behaviour.exitCode ?? -1} >= 0) { console.error('fleetd: cannot open state dir'); process.exit(${behaviour.exitCode ?? 0}); }
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
console.log('fleetd: child ' + child.pid);
if (${!!behaviour.ignoreTerm}) process.on('SIGTERM', () => console.log('fleetd: ignoring SIGTERM'));
else process.on('SIGTERM', () => { child.kill('SIGTERM'); process.exit(0); });
for (let i = 0; i < n; i++) console.log('fleetd: machine ' + String(i).repeat(32) + ' 127.0.0.' + (i + 1) + ' region=r' + i);
if (${behaviour.ready !== false}) setTimeout(() => console.log('fleetd: API ready at http://127.0.0.1:4' + n + '123'), 50);
setInterval(() => {}, 1000);
`,
  );
  return file;
}

function childPid(output: string[]): number {
  const line = output.find(l => l.startsWith('fleetd: child '));
  assert.ok(line, output.join('\n'));
  return Number(line.slice('fleetd: child '.length));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('command line', () => {
  test('fleetd local flags, one --metadata per machine', () => {
    assert.deepEqual(
      fleetdArgs({
        script: '/ext/dist/fleetd.js',
        machines: 3,
        metadata: ['region=us-east,disk=ssd', 'region=us-west', ''],
        etcd: { kind: 'embedded' },
        stateDir: '/s',
      }),
      [
        '/ext/dist/fleetd.js',
        'local',
        '--machines',
        '3',
        '--metadata',
        'region=us-east,disk=ssd',
        '--metadata',
        'region=us-west',
        '--embedded',
        '--state-dir',
        '/s',
      ],
    );
    assert.deepEqual(
      fleetdArgs({ script: 'f.js', machines: 3, metadata: ['', ' disk=ssd ', '', ''], etcd: { kind: 'embedded' }, stateDir: '/s' }).slice(4, 8),
      ['--metadata', '', '--metadata', 'disk=ssd'],
    );
    assert.deepEqual(fleetdArgs({ script: 'f.js', machines: 1, metadata: ['a=1', 'b=2'], etcd: { kind: 'embedded' }, stateDir: '/s' }).slice(4, 7), [
      '--metadata',
      'a=1',
      '--embedded',
    ]);
    assert.deepEqual(fleetdArgs({ script: 'f.js', machines: 1, metadata: [], etcd: { kind: 'binary', path: '/usr/bin/etcd' }, stateDir: '/s' }).slice(4, 6), [
      '--etcd-binary',
      '/usr/bin/etcd',
    ]);
    assert.deepEqual(
      fleetdArgs({ script: 'f.js', machines: 1, metadata: [], etcd: { kind: 'binary', path: '/usr/bin/etcd' }, stateDir: '/s', etcdApi: 'v2' }).slice(4, 8),
      ['--etcd-binary', '/usr/bin/etcd', '--etcd-api', 'v2'],
    );
    assert.deepEqual(
      fleetdArgs({ script: 'f.js', machines: 1, metadata: [], etcd: { kind: 'embedded' }, stateDir: '/s', etcdApi: 'v2' }).slice(4, 6),
      ['--embedded', '--state-dir'],
      'no etcd: no v2 flag (fleetd would refuse it)',
    );
    assert.deepEqual(
      fleetdArgs({ script: 'f.js', machines: 1, metadata: [], etcd: { kind: 'url', url: 'http://127.0.0.1:2379' }, stateDir: '/s' }).slice(4, 6),
      ['--etcd', 'http://127.0.0.1:2379'],
    );
  });

  test('default metadata is distinct per machine, with disk=ssd on the first', () => {
    assert.deepEqual(defaultMetadata(3), ['region=us-east,disk=ssd', 'region=us-west', 'region=eu-central']);
    const many = defaultMetadata(12);
    assert.equal(new Set(many).size, 12);
    assert.equal(many[5], 'region=us-east-2');
  });

  test('metadata validation names the bad pair', () => {
    assert.equal(validateMetadata('region=us-east,disk=ssd'), undefined);
    assert.equal(validateMetadata('  '), undefined);
    assert.equal(
      validateMetadata('region=us-east,ssd'),
      '"ssd" is not key=value (keys: letters, digits, "_", ".", "-"); separate pairs with commas, e.g. region=us-east,disk=ssd.',
    );
    assert.ok(validateMetadata('a b=c'));
  });

  test('etcd: the setting wins, else PATH, else embedded; a bad setting warns', () => {
    const exe = new Set(['/opt/etcd/etcd', '/usr/bin/etcd']);
    const isExe = (f: string) => exe.has(f);
    assert.deepEqual(findEtcd('/opt/etcd/etcd', '/usr/bin', isExe), { path: '/opt/etcd/etcd' });
    assert.deepEqual(findEtcd(undefined, '/nope:/usr/bin', isExe), { path: '/usr/bin/etcd' });
    assert.deepEqual(findEtcd('', '/nope', isExe), {});
    assert.deepEqual(findEtcd('/missing/etcd', '/usr/bin', isExe), {
      warning: "fleet.localCluster.etcdPath is set to /missing/etcd, which is not an executable file; using fleetd's embedded registry instead.",
    });
  });
});

describe('process lifecycle', () => {
  test('waits for the ready line, parses URL and machines, and stop() ends the whole group', async () => {
    const output: string[] = [];
    const logFile = path.join(dir, 'ok.log');
    const proc = await launchFleetd({
      command: process.execPath,
      args: fleetdArgs({ script: fakeFleetd({}), machines: 3, metadata: [], etcd: { kind: 'embedded' }, stateDir: dir }),
      logFile,
      readyTimeoutMs: 10_000,
      onLine: l => output.push(l),
    });
    started.push(proc);
    assert.equal(proc.url, 'http://127.0.0.1:43123');
    assert.deepEqual(
      proc.machines.map(m => [m.ip, m.metadata]),
      [
        ['127.0.0.1', 'region=r0'],
        ['127.0.0.2', 'region=r1'],
        ['127.0.0.3', 'region=r2'],
      ],
    );
    const child = childPid(output);
    assert.ok(groupAlive(proc.pid));
    assert.ok(alive(child));
    await proc.stop(3000);
    assert.equal(groupAlive(proc.pid), false);
    assert.equal(alive(child), false);
    assert.equal(proc.hasExited(), true);
    assert.match(fs.readFileSync(logFile, 'utf8'), /API ready at/);
  });

  test('a fleetd that ignores SIGTERM is killed after the grace period, with its children', async () => {
    const output: string[] = [];
    const proc = await launchFleetd({
      command: process.execPath,
      args: [fakeFleetd({ ignoreTerm: true }), 'local', '--machines', '1'],
      readyTimeoutMs: 10_000,
      onLine: l => output.push(l),
    });
    started.push(proc);
    const child = childPid(output);
    const t0 = Date.now();
    await proc.stop(300);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 5000, `stop took ${took} ms`);
    assert.equal(groupAlive(proc.pid), false);
    assert.equal(alive(child), false);
    assert.equal(await proc.exited, 'SIGKILL');
  });

  test('no ready line within the timeout: a clear error with the last output, and nothing left running', async () => {
    const output: string[] = [];
    await assert.rejects(
      launchFleetd({
        command: process.execPath,
        args: [fakeFleetd({ ready: false }), 'local', '--machines', '2'],
        readyTimeoutMs: 3000,
        onLine: l => output.push(l),
      }),
      (err: Error) => {
        assert.match(err.message, /^fleetd did not report "API ready" within 3s; it was stopped\.\nLast output:\n/);
        assert.match(err.message, /fleetd: machine 1{32} 127\.0\.0\.2/);
        return true;
      },
    );
    const child = childPid(output);
    assert.equal(alive(child), false);
  });

  test('fleetd exiting before ready: the error has its exit code and output', async () => {
    const logFile = path.join(dir, 'early.log');
    await assert.rejects(
      launchFleetd({ command: process.execPath, args: [fakeFleetd({ exitCode: 3 }), 'local', '--machines', '1'], readyTimeoutMs: 10_000, logFile }),
      /^Error: fleetd exited \(3\) before it was ready\.\nLast output:\nfleetd: cannot open state dir\nFull log: /,
    );
  });

  test('a missing executable is reported, not thrown from spawn', async () => {
    await assert.rejects(launchFleetd({ command: path.join(dir, 'no-such-node'), args: [], readyTimeoutMs: 2000 }), /ENOENT/);
  });
});
