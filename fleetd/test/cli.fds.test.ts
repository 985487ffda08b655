/**
 * Units inherit no file descriptor but 0-2 (issue 12, item 7): fleetd started with extra open
 * descriptors (as a careless parent leaves them) does not pass them on to its machine processes
 * or to unit processes. Runs the built CLI (dist/fleetd.js, in-memory registry).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { waitFor, stopLeader } from '../../test/support';
import { findMarked } from '../src/cli/reaper';

const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

function fdsOf(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
}

test('a unit process has only descriptors 0-2 even when fleetd was started with more', { timeout: 60_000 }, async () => {
  if (!fs.existsSync(bundle)) throw new Error('dist/fleetd.js is missing: run `npm run build` (scripts/test.sh builds first)');
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-fds-'));
  const clusterId = randomBytes(8).toString('hex');
  // Descriptor 30 reaches fleetd without close-on-exec, as from a shell's `exec 30<file` (Node
  // itself marks the low ones close-on-exec at start, not these).
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(27).fill('ignore'), 'pipe'];
  const child = spawn(process.execPath, [bundle, 'local', '--machines', '1', '--state-dir', stateDir, '--api', '127.0.0.1:0'], {
    stdio,
    detached: true,
    env: { ...process.env, FLEETD_CLUSTER_ID: clusterId },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const api = await waitFor('fleetd to print its ready line', () => /API ready at (\S+)/.exec(out)?.[1], {
      timeoutMs: 30_000,
      abortIf: () => (child.exitCode !== null ? `fleetd exited ${child.exitCode}:\n${out}` : undefined),
    });
    const res = await fetch(`${api}/fleet/v1/units/fds.service`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }] }),
    });
    assert.equal(res.status, 201);
    const [pid] = await waitFor(
      'the unit process to run',
      () => {
        const pids = findMarked({ FLEETD_CLUSTER_ID: clusterId }).filter(p => fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep');
        return pids.length > 0 ? pids : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(fdsOf(pid!), ['0', '1', '2'], `descriptors of the unit process ${pid}`);
  } finally {
    await stopLeader(child);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
