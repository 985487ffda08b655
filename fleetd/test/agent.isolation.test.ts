/**
 * One bad unit never blocks a machine (issue 12, item 1): every name fleet's API accepts runs on
 * the process unit manager (a safe on-disk name stands in for names that cannot be file names), a
 * unit whose task fails reports `failed` with the reason in its state detail, and the pass goes on
 * with the other units. The property test submits random valid names (seeded) next to a sentinel.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { startAgent, type RunningAgent } from '../src/agent';
import { Agent } from '../src/agent/agent';
import { FakeUnitManager } from '../src/agent/unitManager';
import { unitDiskName } from '../src/agent/processUnitManager';
import { API_UNIT_TYPES, validateUnitName, UNIT_NAME_MAX } from '../../unitfile/src/unitName';
import type { UnitOption } from '../../unitfile/src/serialize';
import { waitFor } from '../../test/support/process';
import { random } from '../../scheduler/test/random';
import { scheduleUnit } from '../../registry/test/registryOps';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-isolation-'));
const running: RunningAgent[] = [];
after(async () => {
  await Promise.all(running.map(a => a.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

const M1 = '11111111111111111111111111111111';
const sleeper: UnitOption[] = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 600' }];
const global: UnitOption[] = [...sleeper, { section: 'X-Fleet', name: 'Global', value: 'true' }];

async function start(registry: MemoryRegistry): Promise<RunningAgent> {
  const a = await startAgent({
    registry,
    machine: { id: M1, publicIP: '127.0.0.1', metadata: {} },
    stateDir: path.join(root, `m-${running.length}`),
    intervalMs: 200,
    ttlMs: 5_000,
  });
  running.push(a);
  return a;
}

async function submit(registry: MemoryRegistry, name: string, options = sleeper): Promise<void> {
  assert.equal(validateUnitName(name), undefined, `the test's name ${name} must be valid for fleet`);
  await registry.putUnit({ name, options, desiredState: 'launched' });
  if (!options.some(o => o.name === 'Global')) await scheduleUnit(registry, name, M1);
}

function running_(registry: MemoryRegistry, names: readonly string[], timeoutMs = 15_000) {
  return waitFor(
    `${names.length} unit(s) to be active/running`,
    async () => {
      const states = await registry.listUnitStates();
      const missing = names.filter(n => !states.some(s => s.name === n && s.activeState === 'active' && s.subState === 'running'));
      if (missing.length > 0) throw new Error(`not running: ${missing.join(', ')}; states: ${JSON.stringify(states)}`);
      return true;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

const long = `${'a'.repeat(UNIT_NAME_MAX - '.service'.length)}.service`;

test('names fleet accepts but no file system takes as they are run, and never hold back the units after them', async () => {
  assert.equal(Buffer.byteLength(long), 256);
  const registry = new MemoryRegistry();
  await start(registry);
  await submit(registry, '.x.service');
  await submit(registry, '..\\x.service', global);
  await submit(registry, long);
  await submit(registry, 'after.service');
  await submit(registry, 'after-global.service', global);
  await running_(registry, ['.x.service', '..\\x.service', long, 'after.service', 'after-global.service']);
});

test('unitDiskName: safe, injective, and the name itself when it is already safe', () => {
  assert.equal(unitDiskName('web.service'), 'web.service');
  assert.equal(unitDiskName('a@b:c-d_e.service'), 'a@b:c-d_e.service');
  assert.equal(unitDiskName('.x.service'), '\\x2ex.service');
  assert.equal(unitDiskName('..\\x.service'), '\\x2e.\\x5cx.service');
  assert.notEqual(unitDiskName('\\x2ex.service'), unitDiskName('.x.service'));
  const d = unitDiskName(long);
  assert.ok(Buffer.byteLength(d) <= 255 && d.endsWith('.service'), d);
  assert.notEqual(unitDiskName(`${'a'.repeat(247)}b.service`), unitDiskName(`${'a'.repeat(247)}c.service`));
});

test('a unit whose load fails reports failed with the reason; the pass goes on; a later pass retries it', async () => {
  const registry = new MemoryRegistry();
  const fake = new FakeUnitManager();
  const agent = new Agent({ registry, machine: { id: M1, publicIP: '', metadata: {} }, unitManager: fake, intervalMs: 60_000 });
  await agent.start();
  try {
    await agent.reconcile();
    for (const n of ['a.service', 'b.service']) await submit(registry, n);
    fake.failNext('load', new Error('disk full'));
    await agent.reconcile();
    const states = await registry.listUnitStates();
    const a = states.find(s => s.name === 'a.service');
    assert.equal(a?.activeState, 'failed', JSON.stringify(states));
    assert.match(a?.detail ?? '', /load a\.service failed .*disk full/);
    assert.equal(states.find(s => s.name === 'b.service')?.activeState, 'active', 'b started in the same pass');
    await agent.reconcile();
    const again = await registry.listUnitStates();
    assert.deepEqual(
      again.map(s => [s.name, s.activeState, s.detail ?? '']),
      [
        ['a.service', 'active', ''],
        ['b.service', 'active', ''],
      ],
    );
    // A failed unit destroyed meanwhile leaves no state behind.
    fake.failNext('load', new Error('disk full'));
    await submit(registry, 'c.service');
    await agent.reconcile();
    assert.equal((await registry.listUnitStates()).find(s => s.name === 'c.service')?.activeState, 'failed');
    await registry.deleteUnit('c.service');
    await agent.reconcile();
    await waitFor(
      'the failed state of the destroyed c.service to be removed',
      async () => !(await registry.listUnitStates()).some(s => s.name === 'c.service'),
    );
  } finally {
    await agent.stop();
  }
});

/** A random name fleet's ValidateName accepts: any valid characters, any length up to 256 bytes. */
function randomName(next: () => number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@';
  const types = ['service', 'service', 'service', 'target', 'socket', 'timer', 'mount', 'slice'];
  for (let tries = 0; tries < 1000; tries++) {
    const type = types[Math.floor(next() * types.length)]!;
    const max = UNIT_NAME_MAX - type.length - 1;
    const len = next() < 0.2 ? max : 1 + Math.floor(next() * Math.min(max, next() < 0.5 ? 12 : max));
    let base = '';
    for (let i = 0; i < len; i++) base += chars[Math.floor(next() * chars.length)];
    const name = `${base}.${type}`;
    if (validateUnitName(name) === undefined && (API_UNIT_TYPES as readonly string[]).includes(type)) return name;
  }
  throw new Error('no valid name in 1000 tries');
}

test('property: random valid names (any type, any characters, up to 256 bytes) never block other units', async () => {
  const registry = new MemoryRegistry();
  await start(registry);
  const next = random(12);
  const names = new Set<string>();
  while (names.size < 24) names.add(randomName(next));
  for (const n of names) await submit(registry, n, next() < 0.3 ? global : sleeper);
  await submit(registry, 'sentinel.service');
  await submit(registry, 'sentinel-global.service', global);
  await running_(registry, ['sentinel.service', 'sentinel-global.service']);
  // Every random unit got a state: running when its type runs here, failed with a reason otherwise.
  await waitFor(
    'every random unit to report a state',
    async () => {
      const states = await registry.listUnitStates();
      const missing = [...names].filter(n => !states.some(s => s.name === n && (s.activeState === 'active' || (s.activeState === 'failed' && s.detail))));
      if (missing.length > 0) throw new Error(`no running or failed state for ${missing.join(', ')}; states: ${JSON.stringify(states)}`);
      return true;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
});
