/**
 * The Registry contract: one suite, run against MemoryRegistry (fleetd/test/registry.memory.test.ts),
 * EtcdRegistry on etcd v3 (fleetd/test/registry.etcd.test.ts) and Etcd2Registry on fleet's own v2
 * keyspace (registry/test/etcd2.test.ts). Time-dependent cases go through the
 * harness: `advance(ms)` moves a fake clock (memory) or sleeps (etcd, whose TTLs are whole seconds).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parseUnitFile, serializeOptions, toOptions, unitHash, type UnitOption } from '../../unitfile/src';
import { ALL_TOPICS, MAX_BATCH_OPS, MachineExistsError, type MachineRecord, type MachineView, type Registry, type WatchTopic } from '../src/registry';
import { waitFor } from '../../test/support/wait';
import { saveUnitState, scheduleUnit, setLaunched, unscheduleUnit } from './registryOps';

export interface RegistryHarness {
  registry: Registry;
  /** A second client on the same store (another fleetd process). */
  peer(): Promise<Registry>;
  /** Let `ms` pass. */
  advance(ms: number): Promise<void>;
  /** The process holding `machineId`'s presence and leadership dies (no graceful release). */
  crash(registry: Registry, machineId: string): Promise<void>;
  /** TTL to use for ephemeral entries in this backend, and how long to wait for them to be gone. */
  ttlMs: number;
  expiryWaitMs: number;
  /**
   * How content comes back: 'exact' as submitted (grouped by section), or 'fleet': through fleet's
   * store round trip (serialized, then read by fleet's parser), as fleet's own registry returns it.
   */
  content?: 'exact' | 'fleet';
  dispose(): Promise<void>;
}

const opt = (section: string, name: string, value: string): UnitOption => ({ section, name, value });
const HELLO: UnitOption[] = [opt('Unit', 'Description', 'Hello'), opt('Service', 'ExecStart', '/bin/sleep 1000')];
const machine = (id: string, metadata: Record<string, string> = {}): MachineRecord => ({ id, publicIP: `10.0.0.${id.length}`, metadata, version: 'test' });

/** Resolves when `listener`-style watch fires, or after `ms` with false. */
function fired(subscribe: (l: () => void) => { dispose(): void }, ms = 1_500): { done: Promise<boolean>; count: () => number } {
  let n = 0;
  let resolve!: (v: boolean) => void;
  const done = new Promise<boolean>(r => (resolve = r));
  const sub = subscribe(() => {
    n++;
    resolve(true);
  });
  const t = setTimeout(() => resolve(false), ms);
  void done.then(() => {
    clearTimeout(t);
    sub.dispose();
  });
  return { done, count: () => n };
}

async function settle(ms = 150): Promise<void> {
  await new Promise(r => setTimeout(r, ms));
}

/** machineView may lag the registry (EtcdRegistry serves it from its watch): poll until `ok`. */
async function viewUntil(r: Registry, machineId: string, ok: (v: MachineView) => boolean, what: string): Promise<MachineView> {
  let last: MachineView | undefined;
  const seen = await waitFor(
    what,
    async () => {
      last = await r.machineView(machineId);
      return ok(last) && last;
    },
    { timeoutMs: 5_000, intervalMs: 25 },
  ).catch((err: unknown) => err as Error);
  if (!(seen instanceof Error)) return seen;
  assert.fail(
    `machineView(${machineId}): ${seen.message}; last: ${JSON.stringify({ units: last?.units.map(u => u.name), schedule: [...(last?.schedule ?? [])], machine: last?.machine })}`,
  );
}

export function registryContract(name: string, make: () => Promise<RegistryHarness>): void {
  describe(`Registry contract: ${name}`, () => {
    let h: RegistryHarness;
    let r: Registry;
    beforeEach(async () => {
      h = await make();
      r = h.registry;
    });
    afterEach(async () => h.dispose());

    test('units: put, get, list sorted, content round trip grouped by section, hash', async () => {
      const mixed = [
        opt('Unit', 'Description', 'x'),
        opt('Service', 'ExecStart', '/bin/true'),
        opt('Unit', 'After', 'a.service'),
        opt('Service', 'Environment', ''),
      ];
      await r.putUnit({ name: 'b.service', options: mixed, desiredState: 'inactive' });
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      const b = await r.getUnit('b.service');
      const grouped = [mixed[0]!, mixed[2]!, mixed[1]!, mixed[3]!];
      assert.deepEqual(b, { name: 'b.service', options: grouped, hash: unitHash(grouped), desiredState: 'inactive' });
      assert.deepEqual(
        (await r.listUnits()).map(u => [u.name, u.desiredState]),
        [
          ['a.service', 'launched'],
          ['b.service', 'inactive'],
        ],
      );
      assert.equal(await r.getUnit('nope.service'), undefined);
      // Replacing content keeps the name and takes the new desired state.
      await r.putUnit({ name: 'a.service', options: [opt('Service', 'ExecStart', '/bin/false')], desiredState: 'inactive' });
      const a = await r.getUnit('a.service');
      assert.equal(a?.desiredState, 'inactive');
      assert.equal(a?.hash, unitHash([opt('Service', 'ExecStart', '/bin/false')]));
    });

    test('units: values with odd characters survive exactly', async () => {
      const odd = [
        opt('Service', 'ExecStart', '/bin/sh -c "echo $HOME \\\n  && true"'),
        opt('Unit', 'Description', 'ünï cödé ☃ = yes'),
        opt('X-Fleet', 'MachineMetadata', '"a=b" "c=d"'),
      ];
      await r.putUnit({ name: 'odd@1.service', options: odd, desiredState: 'loaded' });
      const back = await r.getUnit('odd@1.service');
      if (h.content === 'fleet') {
        // fleet stores the serialized text and parses it back (go-systemd keeps the escaped newline).
        assert.deepEqual(back?.options, toOptions(parseUnitFile(serializeOptions(odd))));
        assert.deepEqual(back?.options, odd);
      } else {
        assert.deepEqual(back?.options, odd);
      }
    });

    test('units: createUnit creates only when absent, and writes nothing otherwise', async () => {
      assert.equal(await r.createUnit({ name: 'c.service', options: HELLO, desiredState: 'launched' }), true);
      assert.deepEqual(await r.getUnit('c.service'), { name: 'c.service', options: HELLO, hash: unitHash(HELLO), desiredState: 'launched' });
      const other = [opt('Service', 'ExecStart', '/bin/false')];
      assert.equal(await r.createUnit({ name: 'c.service', options: other, desiredState: 'inactive' }), false);
      assert.deepEqual(await r.getUnit('c.service'), { name: 'c.service', options: HELLO, hash: unitHash(HELLO), desiredState: 'launched' });
      const results = await Promise.all(
        [1, 2, 3].map(i => r.createUnit({ name: 'race.service', options: [opt('Unit', 'Description', `#${i}`)], desiredState: 'inactive' })),
      );
      assert.equal(results.filter(Boolean).length, 1, 'concurrent creates: exactly one wins');
    });

    test('units: concurrent createUnit calls each get their own answer (existing, same name twice, same content)', async () => {
      const other = [opt('Service', 'ExecStart', '/bin/false')];
      assert.equal(await r.createUnit({ name: 'old.service', options: HELLO, desiredState: 'loaded' }), true);
      const results = await Promise.all([
        r.createUnit({ name: 'n1.service', options: HELLO, desiredState: 'launched' }),
        r.createUnit({ name: 'old.service', options: other, desiredState: 'launched' }),
        r.createUnit({ name: 'n2.service', options: HELLO, desiredState: 'inactive' }),
        r.createUnit({ name: 'n1.service', options: other, desiredState: 'inactive' }),
        ...Array.from({ length: 12 }, (_, i) =>
          r.createUnit({ name: `many${i}.service`, options: [opt('Unit', 'Description', `${i}`)], desiredState: 'loaded' }),
        ),
      ]);
      // The two creates of n1.service race: which one lands first is the backend's (and the network's)
      // order, not the call order (etcd v2 needs two requests per create). Exactly one wins, and the
      // unit is the winner's, whole: its content and its desired state, never a mix.
      const [n1a, oldAgain, n2, n1b, ...many] = results;
      assert.deepEqual([oldAgain, n2, many], [false, true, Array.from({ length: 12 }, () => true)]);
      assert.equal(Number(n1a) + Number(n1b), 1, `exactly one create of n1.service wins: ${n1a}, ${n1b}`);
      const n1 = n1a ? { options: HELLO, desiredState: 'launched' } : { options: other, desiredState: 'inactive' };
      assert.deepEqual(await r.getUnit('old.service'), { name: 'old.service', options: HELLO, hash: unitHash(HELLO), desiredState: 'loaded' });
      assert.deepEqual(await r.getUnit('n1.service'), { name: 'n1.service', options: n1.options, hash: unitHash(n1.options), desiredState: n1.desiredState });
      assert.deepEqual(await r.getUnit('n2.service'), { name: 'n2.service', options: HELLO, hash: unitHash(HELLO), desiredState: 'inactive' });
      assert.equal((await r.listUnits()).filter(u => u.name.startsWith('many')).length, 12);
    });

    test('units: desired state and delete (with its schedule)', async () => {
      assert.equal(await r.setDesiredState('a.service', 'loaded'), false);
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'inactive' });
      assert.equal(await r.setDesiredState('a.service', 'launched'), true);
      assert.equal((await r.getUnit('a.service'))?.desiredState, 'launched');
      assert.equal(await scheduleUnit(r, 'a.service', 'm1'), true);
      assert.equal(await r.deleteUnit('a.service'), true);
      assert.equal(await r.deleteUnit('a.service'), false);
      assert.equal(await r.getUnit('a.service'), undefined);
      assert.equal((await r.getSchedule()).has('a.service'), false);
      // A unit created again starts unscheduled.
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      assert.equal(await scheduleUnit(r, 'a.service', 'm2'), true);
      assert.equal((await r.getSchedule()).get('a.service')?.machineId, 'm2');
    });

    test('schedule: create-only, CAS unschedule, launched heartbeat', async () => {
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      assert.equal(await scheduleUnit(r, 'a.service', 'm1'), true);
      assert.equal(await scheduleUnit(r, 'a.service', 'm2'), false, 'a second schedule must not overwrite');
      assert.deepEqual(await r.getSchedule(), new Map([['a.service', { name: 'a.service', machineId: 'm1' }]]));
      await setLaunched(r, 'a.service', 'm1', 30_000);
      assert.deepEqual((await r.getSchedule()).get('a.service'), { name: 'a.service', machineId: 'm1', launchedOn: 'm1' });
      assert.equal(await unscheduleUnit(r, 'a.service', 'm2'), false, 'unschedule compares the machine');
      assert.equal(await unscheduleUnit(r, 'a.service', 'm1'), true);
      assert.equal(await unscheduleUnit(r, 'a.service', 'm1'), false);
      assert.equal((await r.getSchedule()).has('a.service'), false);
      await r.clearLaunched('a.service', 'm2');
      await scheduleUnit(r, 'a.service', 'm1');
      assert.equal((await r.getSchedule()).get('a.service')?.launchedOn, 'm1', 'clearLaunched by another machine is a no-op');
      await r.clearLaunched('a.service', 'm1');
      assert.equal((await r.getSchedule()).get('a.service')?.launchedOn, undefined);
    });

    test('applySchedule: a batch with the semantics of each change, stale ones reported, larger than one write', async () => {
      const names = Array.from({ length: MAX_BATCH_OPS + 3 }, (_, i) => `u${String(i).padStart(3, '0')}.service`);
      for (const n of names) await r.putUnit({ name: n, options: HELLO, desiredState: 'launched' });
      // Every change holds: one write per MAX_BATCH_OPS changes, all applied.
      assert.deepEqual(
        await r.applySchedule(names.map(unit => ({ kind: 'schedule' as const, unit, machineId: 'm1' }))),
        names.map(() => true),
      );
      assert.deepEqual(
        [...(await r.getSchedule()).values()].map(e => e.machineId),
        names.map(() => 'm1'),
      );
      // Some are stale: each is decided on its own (create-only, compare on the machine).
      await unscheduleUnit(r, 'u001.service', 'm1');
      const results = await r.applySchedule([
        { kind: 'unschedule', unit: 'u000.service', machineId: 'm1' },
        { kind: 'unschedule', unit: 'u001.service', machineId: 'm1' }, // already gone
        { kind: 'unschedule', unit: 'u002.service', machineId: 'm2' }, // on m1, not m2
        { kind: 'schedule', unit: 'u003.service', machineId: 'm2' }, // already scheduled
      ]);
      assert.deepEqual(results, [true, false, false, false]);
      const schedule = await r.getSchedule();
      assert.equal(schedule.has('u000.service'), false);
      assert.equal(schedule.get('u002.service')?.machineId, 'm1');
      assert.equal(schedule.get('u003.service')?.machineId, 'm1');
      assert.deepEqual(await r.applySchedule([]), []);
      await assert.rejects(
        r.applySchedule([
          { kind: 'unschedule', unit: 'u004.service', machineId: 'm1' },
          { kind: 'schedule', unit: 'u004.service', machineId: 'm2' },
        ]),
        /u004\.service appears twice in one batch/,
      );
    });

    test('publishUnits: states and launched heartbeats of one machine in one batch', async () => {
      const names = Array.from({ length: MAX_BATCH_OPS }, (_, i) => `u${String(i).padStart(3, '0')}.service`);
      for (const n of names) await r.putUnit({ name: n, options: HELLO, desiredState: 'launched' });
      for (const n of names) await scheduleUnit(r, n, 'm1');
      const p = await r.registerMachine(machine('m1'), h.ttlMs);
      const state = (name: string) => ({ name, machineId: 'm1', hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' });
      // More writes than one transaction carries (a state and a heartbeat per unit).
      await r.publishUnits('m1', { states: names.map(state), launched: names }, h.ttlMs);
      assert.deepEqual(
        (await r.listUnitStates()).map(s => [s.name, s.machineId, s.activeState]),
        names.map(n => [n, 'm1', 'active']),
      );
      assert.deepEqual(
        [...(await r.getSchedule()).values()].map(e => e.launchedOn),
        names.map(() => 'm1'),
      );
      await r.publishUnits('m1', { states: [], launched: [] }, h.ttlMs);
      await assert.rejects(
        r.publishUnits('m1', { states: [{ ...state('u000.service'), machineId: 'm2' }], launched: [] }, h.ttlMs),
        /belongs to machine m2, not m1/,
      );
      await p.release();
    });

    test('machineView: only the units scheduled to the machine and the global ones, and its own record', async () => {
      const global = [opt('Service', 'ExecStart', '/bin/true'), opt('X-Fleet', 'Global', 'true')];
      await r.putUnit({ name: 'mine.service', options: HELLO, desiredState: 'launched' });
      await r.putUnit({ name: 'theirs.service', options: HELLO, desiredState: 'launched' });
      await r.putUnit({ name: 'nowhere.service', options: HELLO, desiredState: 'launched' });
      await r.putUnit({ name: 'everywhere.service', options: global, desiredState: 'loaded' });
      await scheduleUnit(r, 'mine.service', 'm1');
      await scheduleUnit(r, 'theirs.service', 'm2');
      const p1 = await r.registerMachine(machine('m1', { role: 'web' }), h.ttlMs);
      const p2 = await r.registerMachine(machine('m2'), h.ttlMs);
      await r.patchMachineMetadata([{ machineId: 'm1', key: 'zone', value: 'a' }]);
      await setLaunched(r, 'mine.service', 'm1', 30_000);
      const view = await viewUntil(
        r,
        'm1',
        v => v.units.length === 2 && v.machine?.metadata.zone === 'a' && v.schedule.get('mine.service')?.launchedOn === 'm1',
        'mine.service and everywhere.service',
      );
      assert.deepEqual(
        view.units.map(u => [u.name, u.desiredState, u.hash]),
        [
          ['everywhere.service', 'loaded', unitHash(global)],
          ['mine.service', 'launched', unitHash(HELLO)],
        ],
      );
      assert.deepEqual(view.units[1]!.options, HELLO);
      assert.deepEqual([...view.schedule], [['mine.service', { name: 'mine.service', machineId: 'm1', launchedOn: 'm1' }]]);
      assert.deepEqual(view.machine, { ...machine('m1', { role: 'web', zone: 'a' }) });
      // Changes show up: a unit moves here, another changes its desired state, one is deleted.
      await unscheduleUnit(r, 'theirs.service', 'm2');
      await scheduleUnit(r, 'theirs.service', 'm1');
      await r.setDesiredState('mine.service', 'loaded');
      await r.deleteUnit('everywhere.service');
      await viewUntil(r, 'm1', v => v.units.map(u => `${u.name}:${u.desiredState}`).join() === 'mine.service:loaded,theirs.service:launched', 'the changes');
      await viewUntil(r, 'm2', v => v.units.length === 0 && v.machine?.id === 'm2', 'nothing for m2');
      await p1.release();
      await p2.release();
      await viewUntil(r, 'm1', v => v.machine === undefined, 'no record once released');
    });

    test('machineView: units sorted by name, whatever order they arrive in', async () => {
      const p1 = await r.registerMachine(machine('m1'), h.ttlMs);
      // The first read starts a mirror where there is one; the units then arrive out of name order.
      await viewUntil(r, 'm1', v => v.machine?.id === 'm1', 'its own record');
      for (const name of ['zz.service', 'mm.service', 'aa.service']) {
        await r.putUnit({ name, options: HELLO, desiredState: 'launched' });
        await scheduleUnit(r, name, 'm1');
      }
      const view = await viewUntil(r, 'm1', v => v.units.length === 3, 'three units');
      assert.deepEqual(
        view.units.map(u => u.name),
        ['aa.service', 'mm.service', 'zz.service'],
      );
      assert.deepEqual([...view.schedule.keys()], ['aa.service', 'mm.service', 'zz.service']);
      await p1.release();
    });

    test('schedule: concurrent schedulers, exactly one wins', async () => {
      const other = await h.peer();
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      const results = await Promise.all([scheduleUnit(r, 'a.service', 'm1'), scheduleUnit(other, 'a.service', 'm2'), scheduleUnit(r, 'a.service', 'm3')]);
      assert.equal(results.filter(Boolean).length, 1);
      const winner = ['m1', 'm2', 'm3'][results.indexOf(true)];
      assert.equal((await other.getSchedule()).get('a.service')?.machineId, winner);
    });

    test('reasons: replaced as a whole', async () => {
      await r.setUnitReasons(
        new Map([
          ['a.service', 'no machine has metadata region=west'],
          ['b.service', 'x'],
        ]),
      );
      await r.setUnitReasons(new Map([['a.service', 'no machine has metadata region=west']]));
      assert.deepEqual(await r.getUnitReasons(), new Map([['a.service', 'no machine has metadata region=west']]));
      await r.setUnitReasons(new Map());
      assert.deepEqual(await r.getUnitReasons(), new Map());
    });

    test('machines: register, exists while alive, update, release, sorted', async () => {
      const pB = await r.registerMachine(machine('bbb', { region: 'us' }), h.ttlMs);
      await r.registerMachine({ ...machine('aaa'), journalUrl: 'http://127.0.0.1:1234' }, h.ttlMs);
      await assert.rejects(r.registerMachine(machine('bbb'), h.ttlMs), (err: unknown) => err instanceof MachineExistsError && /bbb/.test(err.message));
      assert.deepEqual(await r.listMachines(), [
        { id: 'aaa', publicIP: '10.0.0.3', metadata: {}, version: 'test', journalUrl: 'http://127.0.0.1:1234' },
        { id: 'bbb', publicIP: '10.0.0.3', metadata: { region: 'us' }, version: 'test' },
      ]);
      await pB.update({ ...machine('bbb', { region: 'eu' }), publicIP: '10.1.1.1' });
      assert.deepEqual(
        (await r.listMachines()).find(m => m.id === 'bbb'),
        { id: 'bbb', publicIP: '10.1.1.1', metadata: { region: 'eu' }, version: 'test' },
      );
      await pB.release();
      assert.deepEqual(
        (await r.listMachines()).map(m => m.id),
        ['aaa'],
      );
      // The ID is free again.
      const again = await r.registerMachine(machine('bbb'), h.ttlMs);
      await again.release();
    });

    test('machines: dynamic metadata overlays config; "" is a tombstone; it persists across restarts', async () => {
      const p = await r.registerMachine(machine('m1', { region: 'us', disk: 'hdd' }), h.ttlMs);
      await r.patchMachineMetadata([
        { machineId: 'm1', key: 'role', value: 'db' },
        { machineId: 'm1', key: 'disk', value: '' },
        { machineId: 'nosuch', key: 'x', value: 'y' },
      ]);
      assert.deepEqual((await r.listMachines())[0]?.metadata, { region: 'us', role: 'db' });
      await p.release();
      const p2 = await r.registerMachine(machine('m1', { region: 'us', disk: 'hdd' }), h.ttlMs);
      assert.deepEqual((await r.listMachines())[0]?.metadata, { region: 'us', role: 'db' });
      await r.patchMachineMetadata([{ machineId: 'm1', key: 'role', value: 'web' }]);
      assert.deepEqual((await r.listMachines())[0]?.metadata, { region: 'us', role: 'web' });
      await p2.release();
    });

    test('unit states: save, sorted by unit then machine, remove one', async () => {
      const st = (name: string, machineId: string, activeState = 'active') => ({
        name,
        machineId,
        hash: 'a'.repeat(40),
        loadState: 'loaded',
        activeState,
        subState: 'running',
      });
      await saveUnitState(r, st('b.service', 'm2'), 30_000);
      await saveUnitState(r, st('b.service', 'm1'), 30_000);
      await saveUnitState(r, { ...st('a.service', 'm9'), detail: 'ExecStart exited 1' }, 30_000);
      await saveUnitState(r, st('b.service', 'm1', 'failed'), 30_000);
      assert.deepEqual(
        (await r.listUnitStates()).map(s => [s.name, s.machineId, s.activeState, s.detail]),
        [
          ['a.service', 'm9', 'active', 'ExecStart exited 1'],
          ['b.service', 'm1', 'failed', undefined],
          ['b.service', 'm2', 'active', undefined],
        ],
      );
      await r.removeUnitState('b.service', 'm1');
      await r.removeUnitState('b.service', 'm1');
      assert.deepEqual(
        (await r.listUnitStates()).map(s => s.machineId),
        ['m9', 'm2'],
      );
    });

    test('snapshot: units, schedule and machines in one read', async () => {
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      await scheduleUnit(r, 'a.service', 'm1');
      const p = await r.registerMachine(machine('m1'), h.ttlMs);
      const snap = await r.snapshot();
      assert.deepEqual(
        snap.units.map(u => u.name),
        ['a.service'],
      );
      assert.deepEqual([...snap.schedule.values()], [{ name: 'a.service', machineId: 'm1' }]);
      assert.deepEqual(
        snap.machines.map(m => m.id),
        ['m1'],
      );
      await p.release();
    });

    test('TTL: states and launched heartbeats expire unless refreshed', async () => {
      const ttl = h.ttlMs;
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      await scheduleUnit(r, 'a.service', 'm1');
      await setLaunched(r, 'a.service', 'm1', ttl);
      await saveUnitState(
        r,
        { name: 'a.service', machineId: 'm1', hash: 'b'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
        ttl,
      );
      await saveUnitState(
        r,
        { name: 'keep.service', machineId: 'm1', hash: 'b'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
        ttl * 20,
      );
      const statesWatch = fired(l => r.watch('states', l), h.expiryWaitMs + 5_000);
      await h.advance(h.expiryWaitMs);
      assert.equal((await r.getSchedule()).get('a.service')?.launchedOn, undefined);
      assert.deepEqual(
        (await r.listUnitStates()).map(s => s.name),
        ['keep.service'],
      );
      assert.equal((await r.getSchedule()).get('a.service')?.machineId, 'm1', 'the target itself never expires');
      assert.equal(await statesWatch.done, true, 'expiry notifies watchers');
    });

    test('TTL: a crashed machine disappears after its TTL; a live one stays', async () => {
      const other = await h.peer();
      await other.registerMachine(machine('dead'), h.ttlMs);
      const live = await r.registerMachine(machine('live'), h.ttlMs);
      await h.crash(other, 'dead');
      const w = fired(l => r.watch('machines', l), h.expiryWaitMs + 5_000);
      await h.advance(h.expiryWaitMs);
      assert.deepEqual(
        (await r.listMachines()).map(m => m.id),
        ['live'],
      );
      assert.equal(await w.done, true);
      // The ID can be registered again.
      const back = await r.registerMachine(machine('dead'), h.ttlMs);
      await back.release();
      await live.release();
    });

    test('leadership: exclusive, renewable by the holder, handed over on release and on expiry', async () => {
      const other = await h.peer();
      const l1 = await r.tryAcquireLeadership('m1', h.ttlMs);
      assert.ok(l1?.held);
      assert.equal(await other.tryAcquireLeadership('m2', h.ttlMs), undefined);
      const again = await r.tryAcquireLeadership('m1', h.ttlMs);
      assert.ok(again?.held, 'the holder asking again keeps (renews) it');
      let lost = 0;
      l1!.onLost(() => lost++);
      await l1!.release();
      assert.equal(l1!.held, false);
      await settle(50);
      assert.equal(lost, 1);
      const l2 = await other.tryAcquireLeadership('m2', h.ttlMs);
      assert.ok(l2?.held);
      assert.equal(await r.tryAcquireLeadership('m1', h.ttlMs), undefined);
      // The holder dies: after its TTL someone else can take over, and the old handle reports loss.
      const lostEvent = fired(l => l2!.onLost(l), h.expiryWaitMs + 5_000);
      await h.crash(other, 'm2');
      await h.advance(h.expiryWaitMs);
      const l3 = await r.tryAcquireLeadership('m1', h.ttlMs);
      assert.ok(l3?.held, 'leadership is free after the holder expired');
      assert.equal(await lostEvent.done, true);
      assert.equal(l2!.held, false);
      await l3!.release();
    });

    test('watch: topics fire for their own writes only', async () => {
      const seen: WatchTopic[] = [];
      const subs = ALL_TOPICS.map(t => r.watch(t, () => seen.push(t)));
      // A watch may take a moment to be established (and then hints once).
      await settle(300);
      const step = async (fn: () => Promise<unknown>, expected: WatchTopic) => {
        seen.length = 0;
        await fn();
        await settle();
        assert.ok(seen.includes(expected), `expected ${expected}, saw ${seen.join(',')}`);
        for (const t of seen) assert.equal(t, expected, `unexpected ${t} after a ${expected} write`);
      };
      await step(() => r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'inactive' }), 'units');
      await step(() => r.setDesiredState('a.service', 'launched'), 'units');
      await step(() => scheduleUnit(r, 'a.service', 'm1'), 'schedule');
      await step(() => setLaunched(r, 'a.service', 'm1', 30_000), 'schedule');
      await step(
        () =>
          saveUnitState(
            r,
            { name: 'a.service', machineId: 'm1', hash: 'c'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
            30_000,
          ),
        'states',
      );
      const p = await r.registerMachine(machine('m1'), h.ttlMs);
      await step(() => r.patchMachineMetadata([{ machineId: 'm1', key: 'k', value: 'v' }]), 'machines');
      // fleetd's reasons: the API's unit list shows them, so a change to them alone is a change.
      await step(() => r.setUnitReasons(new Map([['a.service', 'no machine matches MachineMetadata=role=web']])), 'reasons');
      await step(() => r.setUnitReasons(new Map()), 'reasons');
      for (const s of subs) s.dispose();
      seen.length = 0;
      await r.setDesiredState('a.service', 'loaded');
      await settle();
      assert.deepEqual(seen, [], 'disposed watchers stay quiet');
      await p.release();
    });

    test('watch: refreshing a heartbeat or a state with the same value wakes nobody', async () => {
      const st = { name: 'a.service', machineId: 'm1', hash: 'd'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' };
      await r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' });
      await scheduleUnit(r, 'a.service', 'm1');
      await setLaunched(r, 'a.service', 'm1', 30_000);
      await saveUnitState(r, st, 30_000);
      await r.setDesiredState('a.service', 'launched');
      await settle(300);
      let events = 0;
      const subs = [
        r.watch('schedule', () => events++),
        r.watch('states', () => events++),
        r.watch('units', () => events++),
        r.watchMachine('m1', () => events++),
      ];
      await settle(300);
      events = 0;
      await r.setUnitReasons(new Map([['b.service', 'waiting']]));
      const reasons = r.watch('reasons', () => events++);
      await settle(300);
      events = 0;
      for (let i = 0; i < 3; i++) {
        await setLaunched(r, 'a.service', 'm1', 30_000);
        await saveUnitState(r, st, 30_000);
        // The engine sets the reasons on every pass, mostly to what they were.
        await r.setUnitReasons(new Map([['b.service', 'waiting']]));
      }
      await settle(300);
      assert.equal(events, 0);
      reasons.dispose();
      await saveUnitState(r, { ...st, activeState: 'failed' }, 30_000);
      await settle(300);
      assert.ok(events > 0, 'a real change still wakes');
      for (const sub of subs) sub.dispose();
    });

    test('watchMachine: wakes only the machines a change concerns', async () => {
      const other = await h.peer();
      const m1 = await r.registerMachine(machine('m1'), h.ttlMs);
      const m2 = await r.registerMachine(machine('m2'), h.ttlMs);
      const hits = { m1: 0, m2: 0 };
      const s1 = other.watchMachine('m1', () => hits.m1++);
      const s2 = other.watchMachine('m2', () => hits.m2++);
      await settle();
      const expect = async (fn: () => Promise<unknown>, m1Woke: boolean, m2Woke: boolean, what: string) => {
        await settle(50);
        hits.m1 = hits.m2 = 0;
        await fn();
        await settle(300);
        assert.deepEqual({ m1: hits.m1 > 0, m2: hits.m2 > 0 }, { m1: m1Woke, m2: m2Woke }, what);
      };
      await expect(() => r.putUnit({ name: 'a.service', options: HELLO, desiredState: 'launched' }), false, false, 'an unscheduled unit concerns nobody');
      await expect(() => scheduleUnit(r, 'a.service', 'm1'), true, false, 'scheduling wakes the target');
      await expect(() => r.setDesiredState('a.service', 'loaded'), true, false, 'desired state wakes the target');
      await expect(
        () => r.putUnit({ name: 'a.service', options: [...HELLO, opt('Unit', 'After', 'x')], desiredState: 'inactive' }),
        true,
        false,
        'new content wakes the target',
      );
      await expect(() => unscheduleUnit(r, 'a.service', 'm1'), true, false, 'unscheduling wakes the old target');
      await expect(() => r.patchMachineMetadata([{ machineId: 'm2', key: 'k', value: 'v' }]), false, true, 'metadata wakes its machine');
      await expect(
        () => r.putUnit({ name: 'g.service', options: [...HELLO, opt('X-Fleet', 'Global', 'true')], desiredState: 'launched' }),
        true,
        true,
        'a global unit wakes every machine',
      );
      await expect(() => r.setDesiredState('g.service', 'inactive'), true, true, 'a global unit wakes every machine');
      await scheduleUnit(r, 'a.service', 'm2');
      await expect(() => r.deleteUnit('a.service'), false, true, 'delete wakes the target');
      s1.dispose();
      s2.dispose();
      await m1.release();
      await m2.release();
    });

    test('ping answers; close is idempotent-safe for a peer', async () => {
      await r.ping();
      const other = await h.peer();
      await other.ping();
    });
  });
}
