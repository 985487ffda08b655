/**
 * The private etcd of `fleetd local --etcd-binary` is supervised (issue 12, item 3): after a
 * kill -9 of etcd, fleetd logs it, restarts it on the same data dir, and the cluster recovers by
 * itself (units kept, new units run). Runs the built CLI (dist/fleetd.js) with Debian's etcd.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { etcdBinary, requireBinary, skipUnlessAvailable, waitFor, stopLeader } from '../../test/support';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

test(
  'kill -9 of the private etcd: logged, restarted on the same data, the cluster recovers by itself',
  { skip: skipUnlessAvailable(etcdBinary()), timeout: 120_000 },
  async () => {
    if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-etcdsup-'));
    const child = spawn(
      process.execPath,
      [bundle, 'local', '--machines', '1', '--etcd-binary', requireBinary('etcd', 'etcd-server'), '--state-dir', stateDir, '--api', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const fail = (err: unknown) => {
      throw new Error(`${(err as Error).message}\nfleetd's output:\n${out.slice(-5000)}`);
    };
    try {
      const api = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
        timeoutMs: 60_000,
        abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
      });
      const put = (name: string) =>
        fetch(`${api}/fleet/v1/units/${name}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }] }),
          signal: AbortSignal.timeout(10_000),
        });
      const runningUnits = async () => {
        const res = await fetch(`${api}/fleet/v1/state`, { signal: AbortSignal.timeout(5_000) });
        if (res.status !== 200) return [];
        const body = (await res.json()) as { states?: { name: string; systemdSubState: string }[] };
        return (body.states ?? []).filter(s => s.systemdSubState === 'running').map(s => s.name);
      };
      assert.equal((await put('before.service')).status, 201);
      await waitFor('before.service to run', async () => (await runningUnits()).includes('before.service'), { timeoutMs: 30_000 }).catch(fail);

      const guard = Number(/private etcd at \S+ \(pid (\d+)\)/.exec(out)?.[1]);
      const etcdPid = childrenOf(guard).find(p => commOf(p) === 'etcd');
      assert.ok(etcdPid, `no etcd process under the guard ${guard}`);
      process.kill(etcdPid, 'SIGKILL');

      await waitFor('fleetd to log that etcd died and was restarted', () => /etcd \(pid \d+\) exited[^\n]*SIGKILL[\s\S]*etcd restarted/.test(out), {
        timeoutMs: 30_000,
      }).catch(fail);
      await waitFor('the API to answer again', async () => (await fetch(`${api}/fleet/v1/units`, { signal: AbortSignal.timeout(5_000) })).status === 200, {
        timeoutMs: 30_000,
      }).catch(fail);
      // The registry kept its data (same data dir) and the cluster schedules again.
      assert.equal((await put('after.service')).status, 201);
      await waitFor(
        'before.service and after.service to run',
        async () => {
          const names = await runningUnits();
          return names.includes('before.service') && names.includes('after.service');
        },
        { timeoutMs: 40_000 },
      ).catch(fail);
      assert.ok(childrenOf(guard).length === 0 || !childrenOf(guard).includes(etcdPid), 'the killed etcd is gone');
    } finally {
      await stopLeader(child);
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  },
);
