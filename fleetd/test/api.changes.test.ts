/**
 * The API's change feed (a fleetd extension; fleetctl never sends these headers or parameters):
 * ETag and 304 on the list endpoints (per collection: a state change leaves /units and /machines
 * unchanged), the `?wait=<tag>` long poll — including a change landing
 * between a client's list and its wait, which must never be missed —, and page walks that read
 * the registry once, not once per page, while fleet's page tokens stay as they are. A change to
 * fleetd's reasons alone (the engine's "why is this unit waiting", shown in /units) is a change too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Registry } from '../../registry/src/registry';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { useEtcd } from '../../test/support';
import { HELLO_OPTIONS, startApi, type ApiFixture } from './apiHarness';
import { saveUnitState } from '../../registry/test/registryOps';

const unit = (desiredState = 'inactive') => ({ desiredState, options: HELLO_OPTIONS });

describe('the change feed of the list endpoints', () => {
  let f: ApiFixture & { registryUsed: Registry };
  before(async () => {
    f = await startApi({ maxWaitMs: 800 });
  });
  after(() => f.close());

  test('ETag on every list; If-None-Match with the current tag is a 304 without a body; a write moves the tag', async () => {
    for (const path of ['/fleet/v1/units', '/fleet/v1/state', '/fleet/v1/machines']) {
      const first = await f.api.get(path);
      assert.equal(first.status, 200);
      const tag = first.headers.etag!;
      assert.match(tag, /^"[0-9a-f]{8}-\d+"$/);
      const again = await f.api.request('GET', path, { headers: [['If-None-Match', tag]] });
      assert.deepEqual([again.status, again.text, again.headers.etag], [304, '', tag], path);
    }
    const before = (await f.api.get('/fleet/v1/units')).headers.etag!;
    assert.equal((await f.api.put('/fleet/v1/units/a.service', unit())).status, 201);
    const changed = await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', before]] });
    assert.equal(changed.status, 200, 'a write through the API moves the tag at once (read your writes)');
    assert.notEqual(changed.headers.etag, before);
    assert.deepEqual(
      (changed.json as { units: { name: string }[] }).units.map(u => u.name),
      ['a.service'],
    );
  });

  test('?wait=<tag> holds until a change (here an agent writing a state into the registry), then answers with it', async () => {
    const tag = (await f.api.get('/fleet/v1/state')).headers.etag!;
    let answered = false;
    const waiting = f.api.get(`/fleet/v1/state?wait=${encodeURIComponent(tag.slice(1, -1))}`).finally(() => (answered = true));
    // The server holds the request: it waits for a change, with no answer yet.
    for (let i = 0; i < 250 && f.server.load().longPolls < 1; i++) await new Promise(r => setTimeout(r, 20));
    assert.equal(f.server.load().longPolls, 1, 'the request waits for a change');
    assert.equal(answered, false);
    const started = Date.now();
    await saveUnitState(
      f.registry,
      { name: 'a.service', machineId: 'm1', hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
      30_000,
    );
    const reply = await waiting;
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started < 700, 'it answered as soon as the change came (not at the 800 ms bound)');
    assert.notEqual(reply.headers.etag, tag);
    assert.deepEqual(
      (reply.json as { states: { name: string; machineID: string }[] }).states.map(s => [s.name, s.machineID]),
      [['a.service', 'm1']],
    );
  });

  test('a wait with nothing changing ends with a 304 and the same tag after the bound', async () => {
    const tag = (await f.api.get('/fleet/v1/machines')).headers.etag!;
    const started = Date.now();
    const reply = await f.api.get(`/fleet/v1/machines?wait=${encodeURIComponent(tag)}`);
    assert.deepEqual([reply.status, reply.headers.etag, reply.text], [304, tag, '']);
    assert.ok(Date.now() - started >= 750, `held for the bound (${Date.now() - started} ms)`);
  });

  test('a change between the list and the wait is never missed: the wait answers at once', async () => {
    const tag = (await f.api.get('/fleet/v1/units')).headers.etag!;
    await f.registry.setDesiredState('a.service', 'loaded');
    await new Promise(r => setImmediate(r));
    const started = Date.now();
    const reply = await f.api.get(`/fleet/v1/units?wait=${encodeURIComponent(tag)}`);
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started < 300, 'no wait');
    assert.equal((reply.json as { units: { desiredState: string }[] }).units[0]!.desiredState, 'loaded');
  });

  test('a client that goes away during a wait leaves nothing behind', async () => {
    const tag = (await f.api.get('/fleet/v1/units')).headers.etag!;
    await assert.rejects(f.api.request('GET', `/fleet/v1/units?wait=${encodeURIComponent(tag)}`, { timeoutMs: 100 }), /no answer within 0.1 s/);
    // The server still answers others normally.
    assert.equal((await f.api.get('/fleet/v1/units')).status, 200);
  });

  test('If-None-Match per collection: after a unit state changes, /state answers and /units and /machines stay 304 (with the current tag)', async () => {
    await f.api.put('/fleet/v1/units/b.service', unit('launched'));
    const state = (activeState: string) =>
      saveUnitState(f.registry, { name: 'b.service', machineId: 'm1', hash: 'b'.repeat(40), loadState: 'loaded', activeState, subState: 'running' }, 30_000);
    await state('active');
    await new Promise(r => setImmediate(r));
    const paths = ['/fleet/v1/machines', '/fleet/v1/units', '/fleet/v1/state'];
    const tags: string[] = [];
    for (const path of paths) tags.push((await f.api.get(path)).headers.etag!);
    await state('failed');
    await new Promise(r => setImmediate(r));
    const [machines, units, states] = await Promise.all(paths.map((path, i) => f.api.request('GET', path, { headers: [['If-None-Match', tags[i]!]] })));
    assert.equal(states!.status, 200);
    assert.deepEqual(
      (states!.json as { states: { name: string; systemdActiveState: string }[] }).states.filter(s => s.name === 'b.service').map(s => s.systemdActiveState),
      ['failed'],
    );
    const now = states!.headers.etag!;
    assert.notEqual(now, tags[2]);
    assert.deepEqual([machines!.status, machines!.text, machines!.headers.etag], [304, '', now], 'machines: unchanged');
    assert.deepEqual([units!.status, units!.text, units!.headers.etag], [304, '', now], 'units: unchanged (the same reporters, so the same currentState)');
    // The tag of a 304 is as good as the one it answered.
    assert.equal((await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', now]] })).status, 304);
    // A change to a unit moves /units past every earlier tag; /machines stays.
    await f.registry.setDesiredState('b.service', 'loaded');
    await new Promise(r => setImmediate(r));
    const changed = await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', tags[1]!]] });
    assert.equal(changed.status, 200);
    assert.equal((changed.json as { units: { name: string; desiredState: string }[] }).units.find(u => u.name === 'b.service')!.desiredState, 'loaded');
    assert.equal((await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', now]] })).status, 200, 'nor with the later tag');
    assert.equal((await f.api.request('GET', '/fleet/v1/machines', { headers: [['If-None-Match', tags[0]!]] })).status, 304);
    // Tags that are not this server's (another boot, a guess) never match.
    for (const other of ['"00000000-1"', tags[0]!.replace(/-\d+"$/, '-999999"'), '*', 'W/"x"'])
      assert.equal((await f.api.request('GET', '/fleet/v1/machines', { headers: [['If-None-Match', other]] })).status, 200, other);
  });
});

describe("a change to the engine's reasons alone", () => {
  for (const backend of ['memory', 'etcd v3'] as const) {
    test(`${backend}: moves the tag of /units and wakes a wait on it, which answers with the new reason`, { timeout: 60_000 }, async () => {
      const fixture = backend === 'etcd v3' ? await useEtcd('api-reasons') : undefined;
      const connect = () => EtcdRegistry.connect({ endpoints: [fixture!.endpoint], prefix: fixture!.prefix });
      const registry = fixture ? await connect() : new MemoryRegistry();
      // On etcd, the engine that writes the reasons is another process: another client.
      const engine = fixture ? await connect() : registry;
      const f = await startApi({ registry, maxWaitMs: 10_000 });
      try {
        assert.equal((await f.api.put('/fleet/v1/units/w.service', unit('launched'))).status, 201);
        // List, then wait on the list's tag. On etcd the API's own watch may still bring a hint
        // after the list (its start, the write's event) and move the tag, which answers the wait
        // at once, as it must: then list and wait again, until a wait is held.
        let tag = '';
        let waiting: ReturnType<typeof f.api.get> | undefined;
        for (let attempt = 0; attempt < 20 && !waiting; attempt++) {
          const list = await f.api.get('/fleet/v1/units');
          assert.equal((list.json as { units: { name: string; reason?: string }[] }).units[0]!.reason, undefined);
          tag = list.headers.etag!;
          let answered = false;
          const wait = f.api.get(`/fleet/v1/units?wait=${encodeURIComponent(tag)}`).finally(() => (answered = true));
          for (let i = 0; i < 100 && f.server.load().longPolls < 1 && !answered; i++) await new Promise(r => setTimeout(r, 20));
          if (f.server.load().longPolls === 1) waiting = wait;
          else await wait;
        }
        assert.ok(waiting, 'a wait is held for a change');
        const started = Date.now();
        // Nothing else changes: no unit, schedule, state or machine.
        await engine.setUnitReasons(new Map([['w.service', 'no machine matches MachineMetadata=role=web']]));
        const reply = await waiting;
        assert.equal(reply.status, 200);
        assert.ok(Date.now() - started < 5_000, `it answered when the reasons changed (${Date.now() - started} ms), not at the bound`);
        assert.equal((reply.json as { units: { name: string; reason?: string }[] }).units[0]!.reason, 'no machine matches MachineMetadata=role=web');
        assert.notEqual(reply.headers.etag, tag);
        // A client holding the old tag is answered too; the new tag is a 304 while nothing changes.
        assert.equal((await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', tag]] })).status, 200);
        assert.equal((await f.api.request('GET', '/fleet/v1/units', { headers: [['If-None-Match', reply.headers.etag!]] })).status, 304);
      } finally {
        await f.close();
        if (engine !== registry) await engine.close();
        await registry.close();
        await fixture?.stop();
      }
    });
  }
});

describe('page walks read the registry once', () => {
  test('35 units in pages of 10: one listUnits for the walk, the same pages and tokens as before', async () => {
    const memory = new MemoryRegistry();
    let reads = 0;
    const counting = new Proxy(memory, {
      get(target, prop, receiver) {
        if (prop === 'listUnits') reads++;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Registry;
    const f = await startApi({ tokenLimit: 10, registry: counting });
    try {
      for (let i = 0; i < 35; i++) await memory.putUnit({ name: `u${String(i).padStart(2, '0')}.service`, options: HELLO_OPTIONS, desiredState: 'inactive' });
      await new Promise(r => setImmediate(r));
      reads = 0;
      const names: string[] = [];
      const tokens: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 10; page++) {
        const reply = await f.api.get(`/fleet/v1/units${token ? `?nextPageToken=${token}` : ''}`);
        const body = reply.json as { units?: { name: string }[]; nextPageToken?: string };
        names.push(...(body.units ?? []).map(u => u.name));
        if (!body.nextPageToken) break;
        tokens.push(body.nextPageToken);
        token = body.nextPageToken;
      }
      assert.equal(names.length, 35);
      assert.deepEqual(tokens, ['CgACAA==', 'CgADAA==', 'CgAEAA=='], "fleet's tokens (limit 10, pages 2-4)");
      assert.equal(reads, 1, 'one read for the whole walk');
      // After a change, page 1 reads again.
      await memory.setDesiredState('u00.service', 'loaded');
      await new Promise(r => setImmediate(r));
      await f.api.get('/fleet/v1/units');
      assert.equal(reads, 2);
    } finally {
      await f.close();
      await memory.close();
    }
  });
});
