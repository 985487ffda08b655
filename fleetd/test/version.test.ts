/**
 * One version, as each place reports it at run time: `fleetd --version` (the CLI run from
 * source), the HTTP API's `Server:` header on a real answer, and the version an agent advertises
 * in its machine record, all equal to package.json's "version".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { createApiServer } from '../src/api/server';
import { Agent } from '../src/agent/agent';
import { FakeUnitManager } from '../src/agent/unitManager';
import { ApiClient } from './apiHarness';

const root = path.resolve(__dirname, '..', '..');
const packageVersion = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

test("fleetd --version says package.json's version", () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'fleetd', 'src', 'main.ts'), '--version'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(out.trim(), `fleetd ${packageVersion}`);
});

test("the API's Server header and a machine's advertised version are package.json's version", async () => {
  const registry = new MemoryRegistry();
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
  try {
    const reply = await new ApiClient(server.urls[0]!).get('/fleet/v1/machines');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.server, `fleetd/${packageVersion}`);
  } finally {
    await server.close();
  }
  const agent = new Agent({ registry, machine: { id: 'm1', publicIP: '', metadata: {} }, unitManager: new FakeUnitManager(), intervalMs: 60_000 });
  await agent.start();
  try {
    assert.deepEqual(
      (await registry.listMachines()).map(m => [m.id, m.version]),
      [['m1', packageVersion]],
    );
  } finally {
    await agent.stop();
  }
});
