/**
 * The local cluster's API is a unix socket by default (issue 12, item 2): mode 0600 in the 0700
 * state dir, so another local user (uid 65534 here, when the tests run as root) cannot connect
 * and submit a unit that would run as fleetd's user. TCP only when asked (`--api HOST:PORT`), and
 * then fleetd warns that every local user can use it. Runs the built CLI (dist/fleetd.js).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { waitFor, stopLeader } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

async function withFleetd(args: string[], fn: (ready: string, output: () => string, stateDir: string) => Promise<void>, stateName = 'state'): Promise<void> {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-sock-'));
  fs.chmodSync(root, 0o755);
  const stateDir = path.join(root, stateName);
  const child = spawn(process.execPath, [bundle, 'local', '--machines', '1', '--state-dir', stateDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const ready = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 30_000,
      abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    await fn(ready, () => out, stateDir);
  } finally {
    await stopLeader(child);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function getOverSocket(socketPath: string, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: p, method: 'GET' }, res => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('fleetd local serves its API on a unix socket (0600) in its state dir by default; another user cannot connect', { timeout: 60_000 }, async () => {
  await withFleetd([], async (ready, output, stateDir) => {
    const socket = path.join(stateDir, 'fleet.sock');
    assert.equal(ready, `unix://${socket}`);
    assert.ok(fs.statSync(socket).isSocket());
    assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
    assert.equal(await getOverSocket(socket, '/fleet/v1/machines'), 200);
    assert.doesNotMatch(output(), /any local user/);
    if (process.getuid?.() === 0) {
      const r = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', e => { console.log(e.code); process.exit(1); })`,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
      );
      assert.equal(r.stdout.trim(), 'EACCES', `uid 65534 must not reach the API: ${r.stdout}${r.stderr}`);
    }
  });
});

test('fleetd local --api HOST:PORT serves TCP, with a warning that any local user can use it', { timeout: 60_000 }, async () => {
  await withFleetd(['--api', '127.0.0.1:0'], async (ready, output) => {
    assert.match(ready, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(output(), /warn .*API on TCP 127\.0\.0\.1:\d+ is open to every local user/);
  });
});

test('a state dir too deep for a socket path: the socket goes to a private directory under the temp dir', { timeout: 60_000 }, async () => {
  let socketDir: string | undefined;
  await withFleetd(
    [],
    async ready => {
      socketDir = path.dirname(ready.slice('unix://'.length));
      assert.match(ready, new RegExp(`^unix://${os.tmpdir().replace(/[.*+?^${'$'}{}()|[\]\\]/g, '\\$&')}/fleetd-\\d+-[0-9a-f]{12}/fleet\\.sock$`));
      const socket = ready.slice('unix://'.length);
      assert.equal(fs.statSync(path.dirname(socket)).mode & 0o777, 0o700);
      assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
      assert.equal(await getOverSocket(socket, '/fleet/v1/machines'), 200);
    },
    'd'.repeat(100),
  ).finally(() => socketDir && fs.rmSync(socketDir, { recursive: true, force: true }));
});

test('fleetd local --etcd-binary: the private etcd listens on unix sockets in the state dir, which another user cannot reach', { timeout: 90_000 }, async t => {
  const etcdPath = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find(p => fs.existsSync(p));
  if (!etcdPath) {
    if (process.env.CI === 'true') throw new Error('etcd is missing (apt-get install etcd-server)');
    t.skip('no etcd binary (apt-get install etcd-server)');
    return;
  }
  await withFleetd(['--etcd-binary', etcdPath], async (ready, output, stateDir) => {
    const url = /private etcd at (\S+) \(pid/.exec(output())?.[1];
    assert.equal(url, `unix://${stateDir}/etcd.sock:0`, output());
    const socket = url!.slice('unix://'.length);
    assert.ok(fs.statSync(socket).isSocket());
    // No TCP client port: nothing in the state dir names one.
    assert.ok(!fs.existsSync(path.join(stateDir, 'etcd-ports.json')));
    assert.equal(await getOverSocket(ready.slice('unix://'.length), '/fleet/v1/machines'), 200);
    if (process.getuid?.() === 0) {
      const r = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', e => { console.log(e.code); process.exit(1); })`,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
      );
      assert.equal(r.stdout.trim(), 'EACCES', `uid 65534 must not reach etcd: ${r.stdout}${r.stderr}`);
    }
  });
});

test('each machine serves its journal on a unix socket in its state dir; the API proxies it; another user cannot read it', { timeout: 60_000 }, async () => {
  await withFleetd([], async (ready, _output, stateDir) => {
    const api = ready.slice('unix://'.length);
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        { socketPath: api, path: '/fleet/v1/units/hello.service', method: 'PUT', headers: { 'Content-Type': 'application/json' } },
        res => {
          res.resume();
          if (res.statusCode === 201) resolve();
          else reject(new Error(`PUT: ${res.statusCode}`));
        },
      );
      req.end(
        JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: "/bin/sh -c 'echo hello-journal; sleep 600'" }] }),
      );
    });
    const text = await waitFor(
      "the journal to show the unit's output through the API",
      async () => {
        const body = await new Promise<string>((resolve, reject) => {
          http
            .get({ socketPath: api, path: '/fleet/v1/journal/hello.service?lines=10' }, res => {
              let t = '';
              res.setEncoding('utf8');
              res.on('data', c => (t += c));
              res.on('end', () => resolve(t));
            })
            .on('error', reject);
        });
        return body.includes('hello-journal') ? body : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.match(text, /hello-journal/);
    const journalSocket = path.join(stateDir, 'machine-1', 'journal.sock');
    assert.ok(fs.statSync(journalSocket).isSocket(), "the journal listens on a socket in the machine's state dir");
    assert.equal(fs.statSync(journalSocket).mode & 0o777, 0o600);
    if (process.getuid?.() === 0) {
      const r = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').connect(${JSON.stringify(journalSocket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', e => { console.log(e.code); process.exit(1); })`,
        ],
        { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
      );
      assert.equal(r.stdout.trim(), 'EACCES', `uid 65534 must not read the journal: ${r.stdout}${r.stderr}`);
    }
  });
});
