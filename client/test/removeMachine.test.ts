/**
 * Fleet: Remove Machine's request against fleetd's API server on a unix socket, as the local
 * cluster serves it: 204 resolves; a refusal rejects with fleetd's own message.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createApiServer } from '../../fleetd/src/api';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import { ApiError } from '../../registry/src/api/errors';
import { removeLocalMachine } from '../src/localCluster/removeMachine';

test("removeLocalMachine: DELETE /fleet/v1/machines/{id} over the socket; fleetd's refusal becomes the error message", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-remove-'));
  const removed: string[] = [];
  const server = await createApiServer({
    registry: new MemoryRegistry(),
    listen: [{ socketPath: path.join(dir, 'fleet.sock') }],
    removeMachine: async id => {
      if (id === 'last')
        throw new ApiError(409, 'machine last is the last machine of this local cluster: its units would have nowhere to run; stop the local cluster instead');
      removed.push(id);
    },
  });
  try {
    const url = server.urls[0]!;
    assert.match(url, /^unix:\/\//);
    await removeLocalMachine(url, 'a'.repeat(32));
    assert.deepEqual(removed, ['a'.repeat(32)]);
    await assert.rejects(
      removeLocalMachine(url, 'last'),
      /^Error: Could not remove machine last: machine last is the last machine of this local cluster: .*stop the local cluster instead$/,
    );
    await assert.rejects(
      removeLocalMachine(`unix://${dir}/nothing.sock`, 'x'),
      /Could not reach the local cluster at unix:\/\/.*nothing\.sock to remove machine x: .*ENOENT/,
    );
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
