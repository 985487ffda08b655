/**
 * Removing a machine of a local cluster: LocalMachines' decisions (a clean stop of the machine;
 * 404 naming the machine for an unknown or already removed one; 409 for the last one), and the API
 * route `DELETE /fleet/v1/machines/{id}`, which only `fleetd local` serves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
  assert.match(await refusal('c'.repeat(32)), /^404 machine c{32} is not a running machine of this local cluster \(its machines: bbbbbbbb\); give a full machine ID/);
  assert.match(await refusal(B), /^409 machine b{32} is the last machine of this local cluster: .*stop the local cluster instead/);
  machines.gone(B);
  assert.match(await refusal(B), /^404 .*its machines: none/);
  assert.deepEqual(stopped, [A], 'nothing else was stopped');
});

test('DELETE /fleet/v1/machines/{id}: 204 through the local cluster\'s remover; 405 with the reason where there is none (fleetd agent)', async () => {
  const removed: string[] = [];
  const local = await createApiServer({ registry: new MemoryRegistry(), listen: [{ host: '127.0.0.1', port: 0 }], removeMachine: async id => void removed.push(id) });
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
