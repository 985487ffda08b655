/**
 * Removing a machine of a local cluster: LocalMachines' decisions (a clean stop of the machine;
 * 404 naming the machine for an unknown or already removed one; 409 for the last one), and the API
 * route `DELETE /fleet/v1/machines/{id}`, which only `fleetd local` serves, and the removal on a
 * local cluster with the embedded registry (agents in fleetd's process; the etcd cluster's case
 * is in cluster.article.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../../test/support';
import { findMarked } from '../src/cli/reaper';
import { Cluster } from './clusterHarness';
import { createApiServer } from '../src/api';
import { LocalMachines } from '../src/cli/localMachines';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { ApiError } from '../../registry/src/api/errors';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

test('LocalMachines.remove stops the machine once; unknown, removed and last machines are refused with the fix', async () => {
  const stopped: string[] = [];
  const machines = new LocalMachines();
  for (const id of [A, B]) machines.add({ id, stop: async () => void stopped.push(id) });
  await machines.remove(A);
  assert.deepEqual(stopped, [A]);
  assert.ok(machines.wasRemoved(A));
  const refusal = async (id: string) => {
    try {
      await machines.remove(id);
    } catch (err) {
      assert.ok(err instanceof ApiError);
      return `${err.status} ${err.message}`;
    }
    assert.fail(`removing ${id} was not refused`);
  };
  assert.match(await refusal(A), /^404 machine a{32} was already removed/);
  assert.match(
    await refusal('c'.repeat(32)),
    /^404 machine c{32} is not a running machine of this local cluster \(its machines: bbbbbbbb\); give a full machine ID/,
  );
  assert.match(await refusal(B), /^409 machine b{32} is the last machine of this local cluster: .*stop the local cluster instead/);
  machines.gone(B);
  assert.match(await refusal(B), /^404 .*its machines: none/);
  assert.deepEqual(stopped, [A], 'nothing else was stopped');
});

test("DELETE /fleet/v1/machines/{id}: 204 through the local cluster's remover; 405 with the reason where there is none (fleetd agent)", async () => {
  const removed: string[] = [];
  const local = await createApiServer({
    registry: new MemoryRegistry(),
    listen: [{ host: '127.0.0.1', port: 0 }],
    removeMachine: async id => void removed.push(id),
  });
  const agent = await createApiServer({ registry: new MemoryRegistry(), listen: [{ host: '127.0.0.1', port: 0 }] });
  try {
    assert.equal((await fetch(`${local.urls[0]}/fleet/v1/machines/${A}`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(removed, [A]);
    const res = await fetch(`${agent.urls[0]}/fleet/v1/machines/${A}`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /only a local cluster \(fleetd local\) removes machines/);
    // Other methods on a machine stay fleet's 404.
    assert.equal((await fetch(`${local.urls[0]}/fleet/v1/machines/${A}`)).status, 404);
  } finally {
    await local.close();
    await agent.close();
  }
});

test('fleetd local --embedded: removing a machine stops its unit (ExecStop=, ExecStopPost=) and the engine moves it', { timeout: 90_000 }, async () => {
  const cluster = await Cluster.start([
    '--embedded',
    '--machines',
    '2',
    '--agent-ttl',
    '3s',
    '--engine-reconcile-interval',
    '1',
    '--agent-reconcile-interval',
    '1',
  ]);
  try {
    const marks = path.join(cluster.stateDir, 'marks');
    fs.mkdirSync(marks);
    await cluster.put('app.service', {
      Service: [
        ['ExecStart', '/bin/sleep 600'],
        ['ExecStop', `/bin/sh -c 'echo $COREOS_PUBLIC_IPV4 >> ${marks}/stop'`],
        ['ExecStopPost', `/bin/sh -c 'echo $SERVICE_RESULT >> ${marks}/stoppost'`],
      ],
    });
    const victim = (await cluster.activeOn(['app.service'])).get('app.service')![0]!;
    const ip = (await cluster.machines()).find(m => m.id === victim)!.primaryIP;
    const res = await fetch(`${cluster.api}/fleet/v1/machines/${victim}`, { method: 'DELETE', signal: AbortSignal.timeout(60_000) });
    assert.equal(res.status, 204, await res.text());
    assert.equal(fs.readFileSync(`${marks}/stop`, 'utf8').trim(), ip);
    assert.equal(fs.readFileSync(`${marks}/stoppost`, 'utf8').trim(), 'success');
    assert.deepEqual(findMarked({ FLEETD_CLUSTER_ID: cluster.clusterId, FLEETD_MACHINE_ID: victim }), []);
    const moved = await waitFor(
      'app.service to run on the other machine',
      async () => (await cluster.states()).find(s => s.name === 'app.service' && s.systemdActiveState === 'active' && s.machineID !== victim),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.notEqual(moved.machineID, victim);
    assert.deepEqual(
      (await cluster.machines()).map(m => m.id).filter(id => id === victim),
      [],
    );
    const last = await fetch(`${cluster.api}/fleet/v1/machines/${moved.machineID}`, { method: 'DELETE' });
    assert.equal(last.status, 409);
    assert.match(((await last.json()) as { error: { message: string } }).error.message, /is the last machine of this local cluster/);
  } finally {
    await cluster.stop();
  }
});
