/**
 * Deploy end to end against a real fleetd in this process: MemoryRegistry, the v1 API on
 * 127.0.0.1 (port chosen by the kernel), the engine and three agents running the sample units
 * as processes, reached through HttpFleetApi, exactly as the extension reaches a cluster.
 * Checks the seed scenario: conflicts spread nginx over three machines, the sidekick follows
 * nginx.1, an unplaceable unit stops the wait with fleetd's reason, stop/destroy clean up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiServer, type ApiServer } from '../../fleetd/src/api';
import { startAgent, type RunningAgent } from '../../fleetd/src/agent';
import { startEngine, type Engine } from '../../fleetd/src/engine';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import { HttpFleetApi } from '../src/api/fleetApi';
import { ClusterSnapshot } from '../src/cluster/snapshot';
import { unitRows } from '../src/cluster/unitRows';
import { runDeploy, type LocalUnit } from '../src/deploy/deploy';
import { localUnitFromText } from '../src/deploy/localUnit';

const samples = path.join(__dirname, '..', '..', 'media', 'samples');
const MACHINES: { id: string; publicIP: string; metadata: Record<string, string> }[] = [
  { id: 'a'.repeat(32), publicIP: '127.0.0.11', metadata: { region: 'us-east', disk: 'ssd' } },
  { id: 'b'.repeat(32), publicIP: '127.0.0.12', metadata: { region: 'us-west' } },
  { id: 'c'.repeat(32), publicIP: '127.0.0.13', metadata: { region: 'eu-central' } },
];

function sample(name: string): LocalUnit {
  const r = localUnitFromText(name, fs.readFileSync(path.join(samples, name), 'utf8'));
  assert.ok('unit' in r, JSON.stringify(r));
  return r.unit;
}

describe('deploy against an in-process fleetd', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-deploy-'));
  const registry = new MemoryRegistry();
  let server: ApiServer;
  let engine: Engine;
  const agents: RunningAgent[] = [];
  let api: HttpFleetApi;
  const quiet = () => undefined;

  before(async () => {
    server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }] });
    engine = await startEngine({ registry, machineId: MACHINES[0]!.id, intervalMs: 100, log: quiet });
    for (const machine of MACHINES) {
      agents.push(await startAgent({ registry, machine, stateDir: path.join(root, machine.id.slice(0, 4)), intervalMs: 100, ttlMs: 5000, log: quiet }));
    }
    api = new HttpFleetApi({ endpoint: server.urls[0]!, requestTimeoutMs: 5000 });
  });

  after(async () => {
    api?.dispose();
    await Promise.all(agents.map(a => a.stop()));
    await engine?.stop();
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('the seed scenario: three conflicting nginx units land on three machines, the sidekick next to nginx.1', async () => {
    const names = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service', 'nginx-announce.1.service'];
    const results = await runDeploy(
      api,
      'start',
      names.map(n => ({ name: n, local: sample(n) })),
      { timeoutMs: 30_000, pollMs: 100 },
    );
    for (const r of results) assert.equal(r.ok, true, r.message);
    const byName = new Map(results.map(r => [r.name, r.message]));
    assert.match(byName.get('nginx.1.service')!, /^Unit nginx\.1\.service launched on [abc]{8}\.\.\.\/127\.0\.0\.1[123]$/);
    const snapshot = await ClusterSnapshot.fetch(api);
    const rows = new Map(unitRows(snapshot).map(r => [r.name, r]));
    const nginxMachines = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service'].map(n => rows.get(n)!.machineId);
    assert.equal(new Set(nginxMachines).size, 3, `nginx spread: ${nginxMachines.join(', ')}`);
    assert.equal(rows.get('nginx-announce.1.service')!.machineId, rows.get('nginx.1.service')!.machineId);
    for (const n of names) assert.equal(rows.get(n)!.display, 'launched', n);
  });

  test('a global unit is triggered and ends up on every machine', async () => {
    const [r] = await runDeploy(api, 'start', [{ name: 'monitor.service', local: sample('monitor.service') }], { timeoutMs: 30_000, pollMs: 100 });
    assert.equal(r!.message, 'Triggered global unit monitor.service start');
    for (let i = 0; i < 100; i++) {
      const states = (await api.listUnitStates()).filter(s => s.name === 'monitor.service' && s.systemdActiveState === 'active');
      if (states.length === 3) return;
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    assert.fail('monitor.service did not become active on all three machines within 10 s');
  });

  test('an unplaceable unit stops the wait at once with the reason fleetd publishes', async () => {
    const text = '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nMachineMetadata=region=moon\n';
    const local = localUnitFromText('moon.service', text);
    assert.ok('unit' in local);
    const started = Date.now();
    const [r] = await runDeploy(api, 'start', [{ name: 'moon.service', local: local.unit }], { timeoutMs: 60_000, pollMs: 100 });
    assert.equal(r!.ok, false);
    assert.equal(r!.unplaceable, true);
    assert.match(r!.message, /^Unit moon\.service cannot be placed: .*region=moon/);
    assert.ok(Date.now() - started < 5_000, `reported after ${Date.now() - started} ms, not after the 60 s budget`);
  });

  test("the API refuses what the editor refuses, with fleet's message", async () => {
    const bad: LocalUnit = {
      name: 'bad.service',
      options: [
        { section: 'X-Fleet', name: 'MachineID', value: 'x' },
        { section: 'X-Fleet', name: 'Global', value: 'true' },
      ],
    };
    const [r] = await runDeploy(api, 'submit', [{ name: 'bad.service', local: bad }], { timeoutMs: 5000, pollMs: 100 });
    assert.equal(r!.ok, false);
    assert.match(r!.message, /MachineID/);
  });

  test('stop, then destroy everything', async () => {
    const [s] = await runDeploy(api, 'stop', [{ name: 'nginx.2.service' }], { timeoutMs: 30_000, pollMs: 100 });
    assert.match(s!.message, /^Unit nginx\.2\.service stopped on /);
    const names = (await api.listUnits()).map(u => u.name);
    const results = await runDeploy(
      api,
      'destroy',
      names.map(name => ({ name })),
      { timeoutMs: 0 },
    );
    assert.ok(results.every(r => r.ok && r.message === `Destroyed ${r.name}`));
    assert.deepEqual(await api.listUnits(), []);
  });
});
