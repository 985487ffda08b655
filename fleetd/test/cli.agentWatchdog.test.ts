/**
 * A standalone `fleetd agent` killed with SIGKILL leaves no unit running (issue 12, item 4): its
 * per-machine watchdog notices at once, runs each unit's ExecStop=, and stops the unit's
 * processes, well within the agent TTL after which the engine would start the units elsewhere.
 * Runs the built CLI (dist/fleetd.js) on a real etcd.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EtcdServer, etcdBinary, skipUnlessAvailable, waitFor } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

/** PIDs whose command line is exactly `argv`. */
function processesRunning(argv: string[]): number[] {
  const want = argv.join('\0');
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0$/, '') === want) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

test('kill -9 of a standalone agent: its units are stopped (ExecStop= runs) within seconds, not left running', { skip: skipUnlessAvailable(etcdBinary()), timeout: 90_000 }, async () => {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
  const etcd = await EtcdServer.start();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-watchdog-'));
  const marker = path.join(stateDir, 'exec-stop-ran');
  const seconds = String(600_000 + Math.floor(Math.random() * 300_000));
  const child = spawn(process.execPath, [bundle, 'agent', '--etcd', etcd.url, '--etcd-key-prefix', '/watchdog/', '--state-dir', path.join(stateDir, 'agent'),
    '--api', '127.0.0.1:0', '--agent-ttl', '10s', '--agent-reconcile-interval', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const fail = (err: unknown) => {
    throw new Error(`${(err as Error).message}\nfleetd's output:\n${out.slice(-4000)}`);
  };
  try {
    const api = await waitFor('fleetd agent to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 30_000, abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    const res = await fetch(`${api}/fleet/v1/units/wd.service`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ desiredState: 'launched', options: [
        { section: 'Service', name: 'ExecStart', value: `/bin/sleep ${seconds}` },
        { section: 'Service', name: 'ExecStop', value: `/bin/sh -c "echo $MESSAGE > ${marker}"` },
        { section: 'Service', name: 'Environment', value: 'MESSAGE=stopped-by-watchdog' },
      ] }),
    });
    assert.equal(res.status, 201);
    await waitFor('the unit process to run', () => {
      const pids = processesRunning(['/bin/sleep', seconds]);
      return pids.length > 0 ? pids : undefined;
    }, { timeoutMs: 30_000 }).catch(fail);

    const exited = new Promise(r => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    await waitFor('the unit process to be stopped', () => processesRunning(['/bin/sleep', seconds]).length === 0, { timeoutMs: 8_000 }).catch(fail);
    assert.ok(Date.now() - t0 < 5_000, `stopped ${Date.now() - t0} ms after the agent died (its TTL is 10 s)`);
    await waitFor('ExecStop= to have run with the unit environment', () => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === 'stopped-by-watchdog', { timeoutMs: 2_000 }).catch(fail);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of processesRunning(['/bin/sleep', seconds])) process.kill(pid, 'SIGKILL');
    await etcd.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
