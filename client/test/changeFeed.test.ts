/**
 * The explorer's cost when nothing changes:
 *
 *  - against fleetd, the model holds one long poll on fleetd's change feed (HttpFleetApi against
 *    fleetd's real API over HTTP) and reads the cluster again only when it changed — a change
 *    that lands between the read and the wait included; idle, about one request a minute;
 *  - against a server without the feed (a fleet API without the extension), it polls, slower
 *    while nothing changes and slower still while the window is not focused.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { HttpFleetApi } from '../src/api/fleetApi';
import { ClusterModel, type Timers } from '../src/cluster/clusterModel';
import { createApiServer, type ApiServer } from '../../fleetd/src/api';
import { MemoryRegistry } from '../../fleetd/src/registry/memoryRegistry';
import { waitFor } from '../../test/support';
import { saveUnitState } from '../../registry/test/registryOps';

const HELLO = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }];

/** Counts the requests the API serves (method + path + query). */
async function countingApi(
  registry: MemoryRegistry,
  maxWaitMs: number,
): Promise<{ server: ApiServer; url: string; requests: string[]; answers: Answer[]; proxy: http.Server }> {
  const server = await createApiServer({ registry, listen: [{ host: '127.0.0.1', port: 0 }], maxWaitMs });
  const target = new URL(server.urls[0]!);
  const requests: string[] = [];
  const answers: Answer[] = [];
  const proxy = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, r => {
      const url = new URL(req.url ?? '/', 'http://x');
      answers.push({ path: url.pathname, wait: url.searchParams.has('wait'), ifNoneMatch: req.headers['if-none-match'], status: r.statusCode ?? 0 });
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>(r => proxy.listen(0, '127.0.0.1', () => r()));
  const port = (proxy.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, requests, answers, proxy };
}

/** A request the proxy passed on: its path, the If-None-Match it carried, the status of the answer. */
interface Answer {
  path: string;
  /** The change feed's long poll. */
  wait: boolean;
  ifNoneMatch: string | undefined;
  status: number;
}

describe('the model on fleetd: change feed, no polling', () => {
  let registry: MemoryRegistry;
  let f: Awaited<ReturnType<typeof countingApi>>;
  before(async () => {
    registry = new MemoryRegistry();
    f = await countingApi(registry, 1_500);
  });
  after(async () => {
    await f.server.close();
    await new Promise(r => f.proxy.close(r));
    await registry.close();
  });

  test('waitForChange: the current token, the same token after a quiet bound, a new one after a change (even one before the wait)', async () => {
    const api = new HttpFleetApi({ endpoint: f.url });
    const abort = new AbortController();
    try {
      const t0 = await api.waitForChange(undefined, abort.signal);
      assert.match(t0!, /^"[0-9a-f]{8}-\d+"$/);
      const started = Date.now();
      assert.equal(await api.waitForChange(t0, abort.signal), t0, 'nothing changed: the same token (a 304)');
      assert.ok(Date.now() - started >= 1_400, 'held for the server bound');
      await registry.putUnit({ name: 'between.service', options: HELLO, desiredState: 'inactive' });
      const t1 = await api.waitForChange(t0, abort.signal);
      assert.notEqual(t1, t0, 'a change before the wait is not missed');
    } finally {
      api.dispose();
    }
  });

  test('watched and idle: one long poll at a time and no list reads; a change is shown within a moment', async () => {
    const api = new HttpFleetApi({ endpoint: f.url });
    const model = new ClusterModel({ intervalMs: 200 });
    try {
      model.setApi(api);
      const release = model.watch();
      await waitFor('the first snapshot', () => model.view.kind === 'connected', { timeoutMs: 5_000 });
      await waitFor('the long poll', () => model.listeningForChanges, { timeoutMs: 5_000 });
      f.requests.length = 0;
      await new Promise(r => setTimeout(r, 3_200));
      // With a 200 ms poll interval, polling would have read the lists ~16 times (48 requests).
      const lists = f.requests.filter(r => !/wait=/.test(r));
      const waits = f.requests.filter(r => /wait=/.test(r));
      assert.deepEqual(lists, [], `no list read while idle: ${f.requests.join(', ')}`);
      assert.ok(waits.length >= 1 && waits.length <= 3, `one long poll per server bound (1.5 s): ${waits.length}`);
      const shown = Date.now();
      await registry.putUnit({ name: 'new.service', options: HELLO, desiredState: 'inactive' });
      await waitFor('the new unit in the snapshot', () => model.view.kind === 'connected' && model.view.snapshot.units.some(u => u.name === 'new.service'), {
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      assert.ok(Date.now() - shown < 1_000, `shown ${Date.now() - shown} ms after the change`);
      release();
      assert.equal(model.listeningForChanges, false, 'the long poll ends with the last watcher');
    } finally {
      model.dispose();
      api.dispose();
    }
  });

  test("a unit's state changes: the re-read asks with each collection's tag; only /state answers, units and machines are kept whole", async () => {
    await registry.putUnit({ name: 'web.service', options: HELLO, desiredState: 'launched' });
    const state = (activeState: string) =>
      saveUnitState(registry, { name: 'web.service', machineId: 'm1', hash: 'c'.repeat(40), loadState: 'loaded', activeState, subState: 'running' }, 60_000);
    await state('active');
    const api = new HttpFleetApi({ endpoint: f.url });
    const model = new ClusterModel({ intervalMs: 200 });
    try {
      model.setApi(api);
      const release = model.watch();
      await waitFor('the first snapshot', () => model.view.kind === 'connected', { timeoutMs: 5_000 });
      await waitFor('the long poll', () => model.listeningForChanges, { timeoutMs: 5_000 });
      const before = model.lastSnapshot!;
      f.answers.length = 0;
      await state('failed');
      const activeState = () => model.lastSnapshot?.states.find(s => s.name === 'web.service')?.systemdActiveState;
      await waitFor('the new state in the snapshot', () => activeState() === 'failed', { timeoutMs: 5_000, intervalMs: 10 });
      const reads = f.answers.filter(a => !a.wait);
      assert.deepEqual(reads.map(a => [a.path, a.ifNoneMatch !== undefined, a.status]).sort(), [
        ['/fleet/v1/machines', true, 304],
        ['/fleet/v1/state', true, 200],
        ['/fleet/v1/units', true, 304],
      ]);
      const after = model.lastSnapshot!;
      assert.equal(after.units, before.units, 'the units are the previous read’s, whole');
      assert.equal(after.machines, before.machines);
      // A deploy's patch is no read: the next read asks for everything again.
      model.applyUnit({ name: 'web.service', desiredState: 'loaded', options: HELLO }, []);
      f.answers.length = 0;
      await state('active');
      await waitFor('the read after the patch', () => activeState() === 'active', { timeoutMs: 5_000, intervalMs: 10 });
      assert.deepEqual(
        f.answers
          .filter(a => !a.wait)
          .map(a => [a.path, a.ifNoneMatch !== undefined, a.status])
          .sort(),
        [
          ['/fleet/v1/machines', false, 200],
          ['/fleet/v1/state', false, 200],
          ['/fleet/v1/units', false, 200],
        ],
      );
      release();
    } finally {
      model.dispose();
      api.dispose();
    }
  });
});

class ManualTimers implements Timers {
  pending: { fn: () => void; ms: number; id: number }[] = [];
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter(t => t.id !== handle);
  }
  fire(): number {
    assert.equal(this.pending.length, 1, `expected exactly one timer, have ${this.pending.length}`);
    const t = this.pending.shift()!;
    t.fn();
    return t.ms;
  }
}

describe('the model on a fleet API without the change feed', () => {
  test('it polls: the interval while things change, slower while they do not, 4× slower unfocused', async () => {
    // A fleet API as real fleet serves it: no ETag, `wait` ignored.
    const requests: string[] = [];
    let units = '{}';
    let conditional = 0;
    const server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.headers['if-none-match'] !== undefined) conditional++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(/\/units/.test(req.url ?? '') ? units : '{}');
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
    const api = new HttpFleetApi({ endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    const timers = new ManualTimers();
    const model = new ClusterModel({ intervalMs: 1000, timers });
    const settle = () => waitFor('the read', () => timers.pending.length === 1, { timeoutMs: 5_000, intervalMs: 5 });
    try {
      model.setApi(api);
      model.watch();
      await settle();
      assert.equal(model.listeningForChanges, false);
      assert.deepEqual(
        [...requests].sort(),
        ['GET /fleet/v1/machines?pageSize=5000&alt=json', 'GET /fleet/v1/state?pageSize=5000&alt=json', 'GET /fleet/v1/units?pageSize=5000&alt=json'],
        'the first read is the three lists, whose answers carry no ETag: no feed, and no request for its token',
      );
      const delays: number[] = [];
      for (let i = 0; i < 8; i++) {
        delays.push(timers.fire());
        await settle();
      }
      assert.deepEqual(
        delays,
        [1000, 1000, 2000, 2000, 2000, 4000, 4000, 4000],
        'slower while nothing changes (the first read of an empty cluster counts as quiet)',
      );
      units = '{"units":[{"name":"a.service","desiredState":"launched","currentState":"launched"}]}';
      timers.fire();
      await settle();
      assert.equal(timers.pending[0]!.ms, 1000, 'a change brings the interval back');
      model.setFocused(false);
      assert.equal(timers.pending[0]!.ms, 4000, 'unfocused: 4× slower');
      model.setFocused(true);
      assert.equal(timers.pending[0]!.ms, 1000);
      assert.equal(requests.filter(r => /wait=/.test(r)).length, 0, 'never a wait against a server without the feed');
      assert.equal(conditional, 0, 'never an If-None-Match: every read is a full one');
    } finally {
      model.dispose();
      api.dispose();
      await new Promise(r => server.close(r));
    }
  });
});
