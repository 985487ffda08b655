/**
 * The agent end to end on one process: MemoryRegistry + startAgent (ProcessUnitManager, real
 * child processes, the journal over HTTP), and the task/failure semantics with FakeUnitManager.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { RegistryUnavailableError } from '../../registry/src/registry';
import { startAgent, type RunningAgent } from '../src/agent';
import { Agent, heartbeatInterval } from '../src/agent/agent';
import { FakeUnitManager } from '../src/agent/unitManager';
import type { ProcessUnitManager } from '../src/agent/processUnitManager';
import { processesInGroup } from '../src/agent/processes';
import type { UnitOption } from '../../unitfile/src/serialize';
import { unitHash } from '../../unitfile/src/serialize';
import type { JournalLine } from '../../protocol/src/api';
import { waitFor } from '../../test/support/process';
import { alive } from './processes';
import { scheduleUnit } from '../../registry/test/registryOps';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-agent-'));
const running: RunningAgent[] = [];
after(async () => {
  await Promise.all(running.map(a => a.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

const M1 = '11111111111111111111111111111111';
const M2 = '22222222222222222222222222222222';

const service = (exec: string, ...more: [string, string, string][]): UnitOption[] => [
  { section: 'Service', name: 'ExecStart', value: exec },
  ...more.map(([section, name, value]) => ({ section, name, value })),
];

async function start(registry: MemoryRegistry, id = M1, metadata: Record<string, string> = {}, journal = false): Promise<RunningAgent> {
  const a = await startAgent({
    registry,
    machine: { id, publicIP: '127.0.0.1', metadata },
    stateDir: path.join(root, `${id}-${running.length}`),
    intervalMs: 100,
    ttlMs: 2_000,
    ...(journal ? { journal: { host: '127.0.0.1', port: 0 } } : {}),
  });
  running.push(a);
  return a;
}

async function stateOf(registry: MemoryRegistry, name: string, machineId = M1) {
  return (await registry.listUnitStates()).find(s => s.name === name && s.machineId === machineId);
}

function until(registry: MemoryRegistry, name: string, active: string, sub: string, machineId = M1) {
  return waitFor(
    `${name} on ${machineId} to be ${active}/${sub}`,
    async () => {
      const s = await stateOf(registry, name, machineId);
      return s && s.activeState === active && s.subState === sub ? s : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
}

test('a scheduled unit starts and reports active/running with its hash; loaded stops it; new content restarts it; deletion unloads it', async () => {
  const registry = new MemoryRegistry();
  const agent = await start(registry);
  const pum = agent.unitManager as ProcessUnitManager;
  const v1 = service('/bin/sleep 60');
  await registry.putUnit({ name: 'web.service', options: v1, desiredState: 'launched' });
  await scheduleUnit(registry, 'web.service', M1);
  const s = await until(registry, 'web.service', 'active', 'running');
  assert.deepEqual(s, { name: 'web.service', machineId: M1, hash: unitHash(v1), loadState: 'loaded', activeState: 'active', subState: 'running' });
  await waitFor('the launched heartbeat', async () => (await registry.getSchedule()).get('web.service')?.launchedOn === M1);
  const pid1 = pum.mainPid('web.service')!;
  assert.ok(alive(pid1));

  await registry.setDesiredState('web.service', 'loaded');
  await until(registry, 'web.service', 'inactive', 'dead');
  assert.equal((await registry.getSchedule()).get('web.service')?.launchedOn, undefined);
  await waitFor('the old process to be gone', () => !alive(pid1));

  await registry.setDesiredState('web.service', 'launched');
  await until(registry, 'web.service', 'active', 'running');
  const pid2 = pum.mainPid('web.service')!;

  const v2 = service('/bin/sleep 61');
  await registry.putUnit({ name: 'web.service', options: v2, desiredState: 'launched' });
  await waitFor('the new hash running', async () => {
    const st = await stateOf(registry, 'web.service');
    return st?.hash === unitHash(v2) && st.subState === 'running';
  });
  assert.ok(!alive(pid2), 'the old content was stopped before the new one started');
  const pid3 = pum.mainPid('web.service')!;

  await registry.deleteUnit('web.service');
  await waitFor('the state to be removed', async () => !(await stateOf(registry, 'web.service')));
  assert.deepEqual(await pum.states(), []);
  await waitFor('the process to be gone', () => !alive(pid3));
  assert.ok(agent.journal.read('web.service', 100).some(l => l.text === 'Stopped web.service.'));
});

test('published states for systemd semantics: oneshot+RemainAfterExit, ExecStartPre failure, "-" prefix, start timeout (no leaked process)', async () => {
  const registry = new MemoryRegistry();
  const agent = await start(registry);
  const pum = agent.unitManager as ProcessUnitManager;
  const S = (name: string, value: string): [string, string, string] => ['Service', name, value];
  const cases: { name: string; options: UnitOption[]; active: string; sub: string; detail?: RegExp }[] = [
    { name: 'oneshot.service', options: service('/bin/true', S('Type', 'oneshot'), S('RemainAfterExit', 'yes')), active: 'active', sub: 'exited' },
    {
      name: 'prefail.service',
      options: service('/bin/sleep 60', S('ExecStartPre', '/bin/sh -c "exit 2"')),
      active: 'failed',
      sub: 'failed',
      detail: /^\/bin\/sh exited, code=exited, status=2\/INVALIDARGUMENT \(result: exit-code\)$/,
    },
    { name: 'dash.service', options: service('/bin/sleep 60', S('ExecStartPre', '-/bin/false')), active: 'active', sub: 'running' },
    {
      name: 'slow.service',
      options: service('/bin/sleep 60', S('ExecStartPre', '/bin/sleep 60'), S('TimeoutStartSec', '1s')),
      active: 'failed',
      sub: 'failed',
      detail: /start operation timed out after 1s/,
    },
  ];
  for (const c of cases) {
    await registry.putUnit({ name: c.name, options: c.options, desiredState: 'launched' });
    await scheduleUnit(registry, c.name, M1);
  }
  await waitFor('the pre process of slow.service', () => pum.processGroups('slow.service').length > 0);
  const slowGroups = pum.processGroups('slow.service');
  for (const c of cases) {
    const s = await until(registry, c.name, c.active, c.sub);
    assert.equal(s.hash, unitHash(c.options), c.name);
    if (c.detail) assert.match(s.detail ?? '', c.detail, c.name);
    else assert.equal(s.detail, undefined, c.name);
  }
  for (const g of slowGroups) assert.deepEqual(processesInGroup(g), [], 'the timed-out ExecStartPre was killed with its group');
  // fleet does not restart a failed unit whose target is still launched: two more passes (run
  // here, after the loop's), and the unit was not started again and is still failed.
  const starts = () => agent.journal.read('prefail.service', 1_000).filter(l => l.stream === 'system' && l.text.startsWith('Starting ')).length;
  assert.equal(starts(), 1);
  await agent.agent.reconcile();
  await agent.agent.reconcile();
  assert.equal(starts(), 1, 'prefail.service was started again');
  assert.equal((await stateOf(registry, 'prefail.service'))?.activeState, 'failed');
});

test('units scheduled elsewhere are ignored; global units run where the metadata matches; local conflicts are enforced', async () => {
  const registry = new MemoryRegistry();
  await start(registry, M1, { role: 'web' });
  await registry.putUnit({ name: 'other.service', options: service('/bin/sleep 60'), desiredState: 'launched' });
  await scheduleUnit(registry, 'other.service', M2);
  await registry.putUnit({
    name: 'g.service',
    options: service('/bin/sleep 60', ['X-Fleet', 'Global', 'true'], ['X-Fleet', 'MachineMetadata', 'role=web']),
    desiredState: 'launched',
  });
  await registry.putUnit({
    name: 'h.service',
    options: service('/bin/sleep 60', ['X-Fleet', 'Global', 'true'], ['X-Fleet', 'MachineMetadata', 'role=db']),
    desiredState: 'launched',
  });
  await registry.putUnit({ name: 'a.service', options: service('/bin/sleep 60', ['X-Fleet', 'Conflicts', 'b.service']), desiredState: 'launched' });
  await registry.putUnit({ name: 'b.service', options: service('/bin/sleep 60'), desiredState: 'launched' });
  await scheduleUnit(registry, 'a.service', M1);
  await scheduleUnit(registry, 'b.service', M1);
  await until(registry, 'g.service', 'active', 'running');
  await until(registry, 'a.service', 'active', 'running');
  const names = (await registry.listUnitStates()).map(s => s.name);
  assert.deepEqual(names, ['a.service', 'g.service'], 'b conflicts with a (accepted first, by name); h needs role=db; other is on M2');

  // Dynamic metadata moves the global unit on or off this machine.
  await registry.patchMachineMetadata([{ machineId: M1, key: 'role', value: 'db' }]);
  await until(registry, 'h.service', 'active', 'running');
  await waitFor('g to be unloaded', async () => !(await stateOf(registry, 'g.service')));
});

test('Restart=on-failure restarts a crashing unit (journal over HTTP shows it, and follows)', async () => {
  const registry = new MemoryRegistry();
  const agent = await start(registry, M1, {}, true);
  assert.ok(agent.journalUrl);
  assert.equal((await registry.listMachines())[0]?.journalUrl, agent.journalUrl);
  const opts = service(
    '/bin/sh -c "echo started; sleep 0.2; exit 1"',
    ['Service', 'Restart', 'on-failure'],
    ['Service', 'RestartSec', '50ms'],
    ['Service', 'StartLimitBurst', '100'],
  );
  await registry.putUnit({ name: 'crash.service', options: opts, desiredState: 'launched' });
  await scheduleUnit(registry, 'crash.service', M1);

  const url = `${agent.journalUrl}/journal/crash.service?lines=100&follow=true`;
  const received: JournalLine[] = [];
  const req = http.get(url);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const p of parts) received.push(JSON.parse(p) as JournalLine);
  });
  res.on('error', () => undefined);
  try {
    await waitFor(
      'two restarts in the followed journal',
      () => received.some(l => l.text === 'crash.service: Scheduled restart job, restart counter is at 2.'),
      { timeoutMs: 10_000 },
    );
    assert.ok(received.filter(l => l.stream === 'stdout' && l.text === 'started').length >= 2);
    assert.ok(received.every(l => l.machineID === M1));
    assert.ok(received.some(l => l.text === 'crash.service: Main process exited, code=exited, status=1/FAILURE'));
    const st = await waitFor('restarts in the published detail', async () => {
      const s = await stateOf(registry, 'crash.service');
      return s?.detail?.includes('restarted') ? s : undefined;
    });
    assert.match(st.detail!, /restarted \d+ times?/);
  } finally {
    req.destroy();
  }
});

test('clean stop: units are stopped and unloaded, states and heartbeats removed, machine released, no process left', async () => {
  const registry = new MemoryRegistry();
  const agent = await startAgent({
    registry,
    machine: { id: M1, publicIP: '', metadata: {} },
    stateDir: path.join(root, 'clean'),
    intervalMs: 100,
    ttlMs: 2_000,
  });
  const pum = agent.unitManager as ProcessUnitManager;
  await registry.putUnit({ name: 'a.service', options: service('/bin/sleep 60'), desiredState: 'launched' });
  await registry.putUnit({
    name: 'b.service',
    options: service('/bin/sh -c "trap \'\' TERM; sleep 60 & wait"', ['Service', 'TimeoutStopSec', '200ms']),
    desiredState: 'launched',
  });
  await scheduleUnit(registry, 'a.service', M1);
  await scheduleUnit(registry, 'b.service', M1);
  await until(registry, 'a.service', 'active', 'running');
  await until(registry, 'b.service', 'active', 'running');
  const groups = [...pum.processGroups('a.service'), ...pum.processGroups('b.service')];
  assert.equal(groups.length, 2);
  await agent.stop();
  await agent.stop(); // idempotent
  assert.deepEqual(await registry.listUnitStates(), []);
  assert.deepEqual(
    [...(await registry.getSchedule()).values()].map(e => e.launchedOn),
    [undefined, undefined],
  );
  assert.deepEqual(await registry.listMachines(), []);
  for (const g of groups) assert.deepEqual(processesInGroup(g), [], `process group ${g} is gone`);
});

test('a machine ID still registered is retried until the previous presence goes away', async () => {
  const registry = new MemoryRegistry();
  const first = await start(registry);
  const warnings: string[] = [];
  const second = startAgent({
    registry,
    machine: { id: M1, publicIP: '', metadata: { gen: '2' } },
    stateDir: path.join(root, 'second'),
    intervalMs: 100,
    ttlMs: 2_000,
    log: (level, m) => level === 'warn' && warnings.push(m),
  });
  // The second agent found the ID taken and waits to retry; then the first one goes.
  await waitFor('the second agent to find the machine ID taken', () => warnings.some(w => w.startsWith(`machine ${M1} is already registered`)));
  await first.stop();
  const a = await second;
  running.push(a);
  assert.deepEqual(
    (await registry.listMachines()).map(m => m.metadata),
    [{ gen: '2' }],
  );
});

test('losing the registry keeps units running; the agent catches up when it returns', async () => {
  const registry = new MemoryRegistry();
  let down = false;
  const flaky = new Proxy(registry, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'watch' || prop === 'watchMachine') return fn;
      return (...args: unknown[]) => (down ? Promise.reject(new RegistryUnavailableError()) : fn(...args));
    },
  });
  const logs: string[] = [];
  const agent = await startAgent({
    registry: flaky,
    machine: { id: M1, publicIP: '', metadata: {} },
    stateDir: path.join(root, 'flaky'),
    intervalMs: 50,
    ttlMs: 2_000,
    log: (level, m) => logs.push(`${level}: ${m}`),
  });
  running.push(agent);
  const pum = agent.unitManager as ProcessUnitManager;
  await registry.putUnit({ name: 'keep.service', options: service('/bin/sleep 60'), desiredState: 'launched' });
  await scheduleUnit(registry, 'keep.service', M1);
  await until(registry, 'keep.service', 'active', 'running');
  const pid = pum.mainPid('keep.service')!;
  down = true;
  const failedPasses = () => logs.filter(l => l.startsWith('error: reconcile failed: fleet server unable to communicate with etcd')).length;
  await waitFor('a failed pass to be logged', () => failedPasses() > 0);
  // Two more passes run and fail while the registry is away (run here: the loop backs off).
  await assert.rejects(agent.agent.reconcile(), RegistryUnavailableError);
  await assert.rejects(agent.agent.reconcile(), RegistryUnavailableError);
  assert.ok(alive(pid), 'the unit keeps running while the registry is away');
  // Meanwhile the unit's desired state changed; once the registry answers again the agent applies it.
  down = false;
  await registry.setDesiredState('keep.service', 'loaded');
  await until(registry, 'keep.service', 'inactive', 'dead');
  await waitFor('the process to stop', () => !alive(pid));

  // A clean stop while the registry is away still stops every unit, and says what it could not do.
  await registry.setDesiredState('keep.service', 'launched');
  await until(registry, 'keep.service', 'active', 'running');
  const pid2 = pum.mainPid('keep.service')!;
  down = true;
  await agent.stop();
  assert.ok(!alive(pid2));
  assert.ok(
    logs.some(l => /^warn: shutdown incomplete: clearing the launched heartbeat of keep\.service: fleet server unable to communicate with etcd/.test(l)),
    logs.join('\n'),
  );
});

// ---- task semantics with the fake manager ----

test("fake manager: fleet order within a pass, a failed task ends only its unit's part of the pass, the next pass retries", async () => {
  const registry = new MemoryRegistry();
  // No watch hints: this test drives every pass itself.
  const quiet = new Proxy(registry, {
    get(target, prop) {
      if (prop === 'watchMachine') return () => ({ dispose() {} });
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const fake = new FakeUnitManager();
  const logs: string[] = [];
  const agent = new Agent({
    registry: quiet,
    machine: { id: M1, publicIP: '', metadata: {} },
    unitManager: fake,
    intervalMs: 60_000,
    log: (l, m) => logs.push(`${l}: ${m}`),
  });
  await agent.start();
  try {
    await agent.reconcile(); // after the loop's first pass
    for (const n of ['a.service', 'b.service']) {
      await registry.putUnit({ name: n, options: service('/bin/true'), desiredState: 'launched' });
      await scheduleUnit(registry, n, M1);
    }
    fake.calls.length = 0;
    fake.failNext('start');
    await agent.reconcile();
    assert.deepEqual(fake.calls, ['load(a.service)', 'load(b.service)', 'reloadUnitFiles()', 'start(a.service)', 'start(b.service)']);
    assert.ok(
      logs.some(l => /^error: start a\.service failed \(unit currently loaded but desired state is launched\): injected start failure/.test(l)),
      logs.join('\n'),
    );
    const failed = await stateOf(registry, 'a.service');
    assert.deepEqual(
      [failed?.activeState, failed?.detail],
      ['failed', 'start a.service failed (unit currently loaded but desired state is launched): injected start failure'],
    );
    fake.calls.length = 0;
    await agent.reconcile();
    // a.service is "loaded" in the agent's cache: only its start remains.
    assert.deepEqual(fake.calls, ['start(a.service)']);
    fake.calls.length = 0;
    await agent.reconcile();
    assert.deepEqual(fake.calls, [], 'a converged machine does nothing');
    const states = await registry.listUnitStates();
    assert.deepEqual(
      states.map(s => [s.name, s.activeState, s.subState]),
      [
        ['a.service', 'active', 'running'],
        ['b.service', 'active', 'running'],
      ],
    );

    // A unit that crashes on its own is not restarted by the agent (fleet's cache says launched).
    fake.setState('a.service', { activeState: 'failed', subState: 'failed' });
    await waitFor('the failed state to be published', async () => (await stateOf(registry, 'a.service'))?.activeState === 'failed');
    fake.calls.length = 0;
    await agent.reconcile();
    assert.deepEqual(fake.calls, []);
  } finally {
    await agent.stop();
  }
  assert.deepEqual(fake.calls.slice(-2).sort(), ['unload(a.service)', 'unload(b.service)']);
  assert.deepEqual(await registry.listUnitStates(), []);
});

test('heartbeatInterval follows fleet: ttl*4/5 above 10 s, else ttl/2', () => {
  assert.equal(heartbeatInterval(30_000), 24_000);
  assert.equal(heartbeatInterval(10_000), 5_000);
  assert.equal(heartbeatInterval(2_000), 1_000);
});

test('a pass reads only this machine (machineView, never a full snapshot); started units are published as one batch, once', async () => {
  const registry = new MemoryRegistry();
  const calls: { method: string; args: unknown[] }[] = [];
  const counted = new Proxy(registry, {
    get(target, prop) {
      if (prop === 'watchMachine') return () => ({ dispose() {} });
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push({ method: String(prop), args });
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const fake = new FakeUnitManager();
  const agent = new Agent({ registry: counted, machine: { id: M1, publicIP: '', metadata: {} }, unitManager: fake, intervalMs: 60_000 });
  await agent.start();
  try {
    const names = ['a.service', 'b.service', 'c.service', 'd.service'];
    for (const n of names) {
      await registry.putUnit({ name: n, options: service('/bin/true'), desiredState: 'launched' });
      await scheduleUnit(registry, n, M1);
    }
    // Someone else's unit: never read by this agent's pass, never loaded.
    await registry.putUnit({ name: 'other.service', options: service('/bin/true'), desiredState: 'launched' });
    await scheduleUnit(registry, 'other.service', M2);
    calls.length = 0;
    await agent.reconcile();
    assert.deepEqual(
      fake.calls.filter(c => c.startsWith('start')),
      names.map(n => `start(${n})`),
    );
    const methods = calls.map(c => c.method);
    assert.ok(methods.includes('machineView'), methods.join());
    for (const full of ['snapshot', 'listUnits', 'getSchedule', 'listMachines']) assert.ok(!methods.includes(full), `a pass called ${full}: ${methods.join()}`);
    // One write for all four starts: their states together with their launched heartbeats.
    const started = calls.filter(c => c.method === 'publishUnits' && (c.args[1] as { launched: string[] }).launched.length > 0);
    assert.equal(started.length, 1, JSON.stringify(started.map(c => c.args[1])));
    const batch = started[0]!.args[1] as { states: { name: string }[]; launched: string[] };
    assert.deepEqual(batch.launched, names);
    assert.deepEqual(
      batch.states.map(s => s.name),
      names,
    );
    // Loaded, then running, in the same pass: each state is written once (running), not twice. A
    // 'loaded' write would come before the 'active' one, so once every unit's is seen the list is whole.
    const writtenStates = () =>
      calls.filter(c => c.method === 'publishUnits').flatMap(c => (c.args[1] as { states: { name: string; activeState: string }[] }).states);
    await waitFor('every started unit published active', () => names.every(n => writtenStates().some(s => s.name === n && s.activeState === 'active')));
    const written = writtenStates();
    assert.deepEqual(
      written.map(s => `${s.name}:${s.activeState}`),
      names.map(n => `${n}:active`),
    );
    assert.deepEqual((await registry.getSchedule()).get('d.service')?.launchedOn, M1);
  } finally {
    await agent.stop();
  }
});
