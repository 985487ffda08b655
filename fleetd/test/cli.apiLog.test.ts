/**
 * The CLI gives the API its logger (issue 12, item 6): a 503 while etcd is down is in fleetd's
 * log with the request line and its cause. Runs the built CLI (dist/fleetd.js) on a real etcd.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdServer, etcdBinary, skipUnlessAvailable, waitFor } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

test('fleetd local logs every 503 with its request line and cause', { skip: skipUnlessAvailable(etcdBinary()), timeout: 90_000 }, async () => {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
  const etcd = await EtcdServer.start();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-apilog-'));
  const child = spawn(
    process.execPath,
    [bundle, 'local', '--machines', '1', '--etcd', etcd.url, '--state-dir', stateDir, '--api', '127.0.0.1:0', '--etcd-key-prefix', '/apilog/'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const api = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 60_000,
      abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    await etcd.halt('SIGKILL');
    const res = await fetch(`${api}/fleet/v1/units?probe=1`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 503);
    await waitFor(
      'the 503 to be logged with its request line and cause',
      () => {
        const line = out.split('\n').find(l => l.includes('GET /fleet/v1/units?probe=1'));
        return line && /503|unable to communicate with etcd/.test(line) && /: .+: .+/.test(line) ? line : undefined;
      },
      { timeoutMs: 5_000 },
    ).catch(err => {
      throw new Error(`${(err as Error).message}\nfleetd's output:\n${out.slice(-4000)}`);
    });
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise(r => child.once('exit', r));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
    await etcd.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
