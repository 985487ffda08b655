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
import { after, describe, test } from 'node:test';
import { adoptLocalCluster, findLocalClusters, isFleetdLocal } from '../src/localCluster/discovery';
import { launchFleetd } from '../src/localCluster/launcher';
import { etcdBinary, FleetdLocal, requireBinary, skipUnlessAvailable, waitFor } from '../../test/support';

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
});
