/**
 * One local cluster, whoever started it: a `fleetd local` started outside the editor (as
 * `npm start` does) records itself, the extension's discovery finds it (and drops records of
 * dead clusters), and the adopted handle stops it in order — machines release their units and
 * presence before its etcd goes — so a restart on the same state finds no machine "already
 * registered". The same orderly stop for a cluster the extension launched itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { adoptLocalCluster, findLocalClusters, isFleetdLocal } from '../src/localCluster/discovery';
import { launchFleetd } from '../src/localCluster/launcher';
import { etcdBinary, FleetdLocal, processesWhere, requireBinary, skipUnlessAvailable, waitFor } from '../../test/support';

const skip = skipUnlessAvailable(etcdBinary());
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-run-'));
const previous = process.env.FLEETD_RUNTIME_DIR;
process.env.FLEETD_RUNTIME_DIR = runDir;
after(() => {
  if (previous === undefined) delete process.env.FLEETD_RUNTIME_DIR;
  else process.env.FLEETD_RUNTIME_DIR = previous;
  fs.rmSync(runDir, { recursive: true, force: true });
});
const bundle = path.resolve(__dirname, '..', '..', 'dist', 'fleetd.js');

describe('local cluster discovery and adoption', { skip }, () => {
  test('a stale record (dead pid) is removed; a garbage one is ignored', () => {
    fs.writeFileSync(path.join(runDir, '999999.json'), JSON.stringify({ pid: 999999, url: 'http://127.0.0.1:1', machines: 3, stateDir: '/x', startedAt: 1 }));
    fs.writeFileSync(path.join(runDir, '12.json'), 'not json');
    assert.deepEqual(findLocalClusters(runDir), []);
    assert.equal(fs.existsSync(path.join(runDir, '999999.json')), false);
  });

  test('a cluster started outside the editor is found, adopted, and stopped in order; a restart is clean', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-adopt-'));
    const etcd = requireBinary('etcd', 'etcd-server');
    const first = await FleetdLocal.start(['--machines', '2', '--etcd-binary', etcd], { stateDir });
    try {
      const [record] = findLocalClusters(runDir);
      assert.ok(record, 'found');
      assert.equal(record.url, first.api);
      assert.equal(record.pid, first.child.pid);
      assert.equal(record.machines, 2);
      assert.equal(record.etcd, first.etcd);
      const adopted = adoptLocalCluster(record, 100);
      await adopted.stop(30_000);
      assert.equal(isFleetdLocal(record.pid), false);
      assert.deepEqual(findLocalClusters(runDir), [], 'the record goes with the cluster');
      const out = first.output();
      assert.doesNotMatch(out, /shutdown incomplete|unable to communicate with etcd/, `an orderly stop:\n${out.slice(-3000)}`);
      assert.match(out, /purged/);
      // The next start on the same state: every machine registers at once (no stale presence).
      const second = await FleetdLocal.start(['--machines', '2', '--etcd-binary', etcd], { stateDir });
      try {
        assert.doesNotMatch(second.output(), /already registered/, second.output().slice(-2000));
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test("the extension's own launch stops in order too (fleetd first, then what is left of its group)", async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-launch-'));
    const lines: string[] = [];
    const proc = await launchFleetd({
      command: process.execPath,
      args: [bundle, 'local', '--machines', '2', '--etcd-binary', requireBinary('etcd', 'etcd-server'), '--api', '127.0.0.1:0', '--state-dir', stateDir],
      onLine: line => lines.push(line),
      readyTimeoutMs: 60_000,
    });
    try {
      await waitFor('the record', () => findLocalClusters(runDir).some(r => r.pid === proc.pid), { timeoutMs: 5_000 });
      await proc.stop(30_000);
      assert.doesNotMatch(lines.join('\n'), /shutdown incomplete|unable to communicate with etcd/, lines.slice(-40).join('\n'));
      assert.equal(lines.filter(l => /purged/.test(l)).length, 2, 'both machines purged');
    } finally {
      await proc.stop(1_000);
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('an extension host that exits without stopping its cluster leaves no unit process running', async () => {
    // The extension host can exit before its dispose() finishes the orderly stop. Its exit hook
    // used to SIGKILL fleetd's whole group: the machines died before stopping their units, which
    // run in process groups of their own, so the units' processes were left running.
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-host-exit-'));
    const marker = String(700_000 + Math.floor(Math.random() * 200_000));
    const script = path.join(stateDir, 'host.ts');
    fs.writeFileSync(
      script,
      `
      import { launchFleetd } from ${JSON.stringify(path.resolve(__dirname, '..', 'src', 'localCluster', 'launcher.ts'))};
      async function main() {
        const proc = await launchFleetd({
          command: process.execPath,
          args: [${JSON.stringify(bundle)}, 'local', '--machines', '1', '--etcd-binary', ${JSON.stringify(requireBinary('etcd', 'etcd-server'))}, '--api', '127.0.0.1:0', '--state-dir', ${JSON.stringify(path.join(stateDir, 'cluster'))}],
          env: { ...process.env, FLEETD_PARENT_PIPE: '1' },
          readyTimeoutMs: 60_000,
        });
        const body = { desiredState: 'launched', options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep ${marker}' }] };
        const res = await fetch(proc.url + '/fleet/v1/units/host-exit.service', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        if (res.status >= 300) throw new Error('PUT: ' + res.status + ' ' + (await res.text()));
        process.stdout.write('PID ' + proc.pid + '\\n');
        // Told to go (once the unit runs), exit as a host does: process.exit, with no stop().
        process.on('SIGTERM', () => process.exit(0));
        setInterval(() => {}, 1000);
      }
      main().catch(err => { console.error(err); process.exit(1); });
    `,
    );
    const host = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    host.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const sleeping = () => isRunning(`/bin/sleep ${marker}`);
    let fleetdPid = 0;
    try {
      await waitFor('the unit to run under the host-launched cluster', () => /PID (\d+)/.test(out) && sleeping(), { timeoutMs: 60_000, intervalMs: 100 });
      fleetdPid = Number(/PID (\d+)/.exec(out)![1]);
      const exited = new Promise(resolve => host.once('exit', resolve));
      host.kill('SIGTERM'); // the host exits (process.exit); its exit hook runs
      await exited;
      await waitFor('the unit process to stop after the host exited', () => !sleeping(), { timeoutMs: 30_000, intervalMs: 100 });
      await waitFor('fleetd to stop after the host exited', () => !isFleetdLocal(fleetdPid), { timeoutMs: 30_000, intervalMs: 100 });
    } finally {
      if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
      if (fleetdPid && isFleetdLocal(fleetdPid)) process.kill(-fleetdPid, 'SIGKILL');
      for (const pid of pidsRunning(`/bin/sleep ${marker}`)) process.kill(pid, 'SIGKILL');
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

function pidsRunning(cmdline: string): number[] {
  return processesWhere(argv => argv.join(' ') === cmdline).map(p => p.pid);
}

function isRunning(cmdline: string): boolean {
  return pidsRunning(cmdline).length > 0;
}
