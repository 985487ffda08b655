import assert from 'node:assert/strict';
import fs from 'node:fs';

import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ApiUnit, JournalLine } from '../../protocol/src/api';
import { HttpFleetApi } from '../src/api/fleetApi';
import { parseEndpoint } from '../src/connection/profile';
import { FleetApiError } from '../src/api/types';
import { FakeFleetServer, sendError } from './fleetApiServer.test';

const unit = (name: string, extra: Partial<ApiUnit> = {}): ApiUnit => ({
  name,
  options: [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' }],
  desiredState: 'launched',
  currentState: 'launched',
  machineID: 'm1',
  ...extra,
});
const line = (text: string, machineID = 'm1', time = 1): JournalLine => ({ time, machineID, stream: 'stdout', text });

async function rejectsWith(
  promise: Promise<unknown>,
  expected: { message: RegExp | string; status?: number; kind: FleetApiError['kind'] },
): Promise<FleetApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FleetApiError, `expected a FleetApiError, got ${String(err)}`);
    if (typeof expected.message === 'string') assert.equal(err.message, expected.message);
    else assert.match(err.message, expected.message);
    assert.equal(err.status, expected.status);
    assert.equal(err.kind, expected.kind);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('HttpFleetApi over TCP', () => {
  let server: FakeFleetServer;
  let endpoint: string;
  let api: HttpFleetApi;
  before(async () => {
    server = new FakeFleetServer({
      limit: 2,
      units: ['a.service', 'b.service', 'c.service', 'd.service', 'web@1.service'].map(n => unit(n)),
      states: [{ name: 'a.service', machineID: 'm1', systemdActiveState: 'active' }],
      machines: [
        { id: 'm1', primaryIP: '10.0.0.1' },
        { id: 'm2', metadata: { region: 'us' } },
      ],
      journal: [line('one'), line('two', 'm2'), line('three')],
    });
    endpoint = await server.listen({ port: 0 });
    api = new HttpFleetApi({ endpoint, requestTimeoutMs: 2000 });
  });
  after(async () => {
    api.dispose();
    await server.close();
  });
  afterEach(() => {
    server.requests.length = 0;
  });

  it("follows every page of fleet's (which ignores fleetd's pageSize), with fleetctl's paths and query (alt=json)", async () => {
    const units = await api.listUnits();
    assert.deepEqual(
      units.map(u => u.name),
      ['a.service', 'b.service', 'c.service', 'd.service', 'web@1.service'],
    );
    assert.deepEqual(
      server.requests.map(r => `${r.method} ${r.url}`),
      [
        'GET /fleet/v1/units?pageSize=5000&alt=json',
        'GET /fleet/v1/units?pageSize=5000&nextPageToken=AgACAA%3D%3D&alt=json',
        'GET /fleet/v1/units?pageSize=5000&nextPageToken=AgADAA%3D%3D&alt=json',
      ],
    );
    assert.equal(server.requests[0]!.headers.host, endpoint.replace('http://', ''));
  });

  it("copes with fleet's empty last page when the count is a multiple of the page size", async () => {
    const machines = await api.listMachines();
    assert.deepEqual(machines, [
      { id: 'm1', primaryIP: '10.0.0.1' },
      { id: 'm2', metadata: { region: 'us' } },
    ]);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(await api.listUnitStates(), [{ name: 'a.service', machineID: 'm1', systemdActiveState: 'active' }]);
  });

  it('sends @ as %40 and treats 404 as "no such unit"', async () => {
    assert.equal((await api.getUnit('web@1.service'))?.name, 'web@1.service');
    assert.equal(await api.getUnit('missing.service'), undefined);
    assert.deepEqual(
      server.requests.map(r => r.url),
      ['/fleet/v1/units/web%401.service?alt=json', '/fleet/v1/units/missing.service?alt=json'],
    );
  });

  it("creates, changes and destroys units with fleetctl's bodies", async () => {
    const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }];
    await api.createUnit('new@2.service', options, 'loaded');
    await api.setUnitTargetState('new@2.service', 'launched');
    assert.equal(await api.destroyUnit('new@2.service'), true);
    assert.equal(await api.destroyUnit('new@2.service'), false);
    assert.deepEqual(
      server.requests.map(r => [r.method, r.url, r.headers['content-type'], r.body]),
      [
        [
          'PUT',
          '/fleet/v1/units/new%402.service?alt=json',
          'application/json',
          `${JSON.stringify({ name: 'new@2.service', options, desiredState: 'loaded' })}\n`,
        ],
        ['PUT', '/fleet/v1/units/new%402.service?alt=json', 'application/json', `${JSON.stringify({ name: 'new@2.service', desiredState: 'launched' })}\n`],
        ['DELETE', '/fleet/v1/units/new%402.service?alt=json', undefined, ''],
        ['DELETE', '/fleet/v1/units/new%402.service?alt=json', undefined, ''],
      ],
    );
  });

  it("shows the server's own message for API errors", async () => {
    await rejectsWith(api.createUnit('empty.service', [], 'inactive'), {
      message: 'fleet API 409: unit does not exist and options field empty',
      status: 409,
      kind: 'http',
    });
    await rejectsWith(api.setUnitTargetState('ghost.service', 'launched'), {
      message: 'fleet API 409: unit does not exist and options field empty',
      status: 409,
      kind: 'http',
    });
  });

  it('refuses names that cannot be a path segment before sending anything', async () => {
    await rejectsWith(api.getUnit('a/b.service'), { message: /"a\/b.service" is not a unit name/, kind: 'config' });
    await rejectsWith(api.destroyUnit(''), { message: /"" is not a unit name/, kind: 'config' });
    assert.equal(server.requests.length, 0);
  });

  it('reads the journal (NDJSON) with lines and machineID', async () => {
    assert.deepEqual(await api.journal('a.service', { lines: 2 }), [line('two', 'm2'), line('three')]);
    assert.deepEqual(await api.journal('a.service', { machineId: 'm2' }), [line('two', 'm2')]);
    assert.deepEqual(
      server.requests.map(r => r.url),
      ['/fleet/v1/journal/a.service?lines=2&alt=json', '/fleet/v1/journal/a.service?machineID=m2&alt=json'],
    );
  });

  it('follows the journal until the signal aborts', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const following = api.followJournal(
      'a.service',
      l => {
        seen.push(l.text);
        if (seen.length === 3) server.push(line('live'));
        if (seen.length === 4) controller.abort();
      },
      controller.signal,
    );
    await following;
    assert.deepEqual(seen, ['one', 'two', 'three', 'live']);
    assert.equal(server.requests[0]!.url, '/fleet/v1/journal/a.service?follow=true&alt=json');
    for (let i = 0; i < 50 && server.followers.size > 0; i++) await new Promise(r => setTimeout(r, 10));
    assert.equal(server.followers.size, 0, 'the follow connection is closed after abort');
  });

  it('a follow the cluster cuts off (stopped, restarted) says so, not that the endpoint is no fleet API', async () => {
    const seen: string[] = [];
    const following = api.followJournal(
      'a.service',
      l => {
        seen.push(l.text);
        if (seen.length === 3) for (const res of server.followers) res.destroy();
      },
      new AbortController().signal,
    );
    await rejectsWith(following, {
      message: `the journal of a.service from ${endpoint} broke off: the cluster closed the connection (was it stopped or restarted?)`,
      kind: 'network',
    });
    assert.deepEqual(seen, ['one', 'two', 'three']);
  });

  it('a follow that was already aborted makes no request', async () => {
    const controller = new AbortController();
    controller.abort();
    await api.followJournal('a.service', () => assert.fail('no lines'), controller.signal);
    assert.equal(server.requests.length, 0);
  });

  it('honours an endpoint path prefix', async () => {
    const prefixed = new HttpFleetApi({ endpoint: `${endpoint}/proxy/` });
    await prefixed.listMachines().catch(() => undefined);
    assert.equal(server.requests[0]!.url, '/proxy/fleet/v1/machines?pageSize=5000&alt=json');
    prefixed.dispose();
  });

  it('dials through an injected connection factory (the tunnel seam)', async () => {
    const port = Number(new URL(endpoint).port);
    const targets: unknown[] = [];
    const viaDial = new HttpFleetApi({
      endpoint: 'http://fleet.internal:49153',
      label: 'core@bastion → http://fleet.internal:49153',
      dial: async target => {
        targets.push(target);
        return net.connect({ host: '127.0.0.1', port });
      },
    });
    assert.equal(viaDial.label, 'core@bastion → http://fleet.internal:49153');
    assert.equal((await viaDial.listMachines()).length, 2);
    assert.deepEqual(targets, [
      { kind: 'tcp', host: 'fleet.internal', port: 49153 },
      { kind: 'tcp', host: 'fleet.internal', port: 49153 },
    ]);
    assert.equal(server.requests[0]!.headers.host, 'fleet.internal:49153');
    viaDial.dispose();
  });
});

describe('HttpFleetApi errors', () => {
  const servers: FakeFleetServer[] = [];
  const start = async (override: ConstructorParameters<typeof FakeFleetServer>[0]) => {
    const s = new FakeFleetServer(override);
    servers.push(s);
    return s.listen({ port: 0 });
  };
  after(async () => {
    for (const s of servers) await s.close();
  });

  it("500 with fleet's empty message points at the fleetd log", async () => {
    const endpoint = await start({ override: (_req, res) => (sendError(res, 500, ''), true) });
    await rejectsWith(new HttpFleetApi({ endpoint }).listUnits(), {
      message: `fleet API 500: listing units failed (the server gave no detail; see the fleetd log on ${endpoint})`,
      status: 500,
      kind: 'http',
    });
  });

  it("503 while fleetd cannot reach etcd shows fleet's message", async () => {
    const endpoint = await start({ override: (_req, res) => (sendError(res, 503, 'fleet server unable to communicate with etcd'), true) });
    await rejectsWith(new HttpFleetApi({ endpoint }).listMachines(), {
      message: 'fleet API 503: fleet server unable to communicate with etcd',
      status: 503,
      kind: 'http',
    });
  });

  it("a response that is not fleet's says so", async () => {
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(502, { 'Content-Type': 'text/html' });
        res.end('<html>Bad Gateway</html>');
        return true;
      },
    });
    await rejectsWith(new HttpFleetApi({ endpoint }).getUnit('x.service'), {
      message: `fleet API 502: getting unit x.service got a response that is not fleet's ("<html>Bad Gateway</html>"); is ${endpoint} a fleet API endpoint?`,
      status: 502,
      kind: 'http',
    });
    const endpoint200 = await start({ override: (_req, res) => (res.end('hello'), true) });
    await rejectsWith(new HttpFleetApi({ endpoint: endpoint200 }).listUnits(), {
      message: /listing units is not valid JSON; is .* a fleet API endpoint\?/,
      status: 200,
      kind: 'http',
    });
  });

  it('a server that repeats a page token is stopped, not followed forever', async () => {
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ units: [unit('x.service')], nextPageToken: 'ZAACAA==' }));
        return true;
      },
    });
    await rejectsWith(new HttpFleetApi({ endpoint }).listUnits(), { message: /repeated page token ZAACAA==; stopped/, status: 200, kind: 'http' });
  });

  it('pages are bounded', async () => {
    let n = 0;
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ nextPageToken: `t${n++}` }));
        return true;
      },
    });
    await rejectsWith(new HttpFleetApi({ endpoint, maxPages: 5 }).listUnits(), {
      message: 'fleet API: listing units: more than 5 pages; stopped',
      kind: 'http',
    });
    assert.equal(n, 5);
  });

  it('connection refused names the endpoint and the fix', async () => {
    const s = new FakeFleetServer();
    const endpoint = await s.listen({ port: 0 });
    await s.close();
    await rejectsWith(new HttpFleetApi({ endpoint }).listUnits(), {
      message: `Cannot reach fleet at ${endpoint}: connection refused. Is fleetd running and listening there? Check the endpoint.`,
      kind: 'network',
    });
  });

  it('a server that never answers times out with the profile setting named', async () => {
    const endpoint = await start({ override: () => true });
    const startedAt = Date.now();
    await rejectsWith(new HttpFleetApi({ endpoint, requestTimeoutMs: 200 }).listUnits(), {
      message: `fleet at ${endpoint} did not answer within 0.2 s. Is fleetd healthy? (The timeout is the profile's requestTimeout.)`,
      kind: 'network',
    });
    assert.ok(Date.now() - startedAt < 2000);
  });

  it('a body that stalls half way times out too', async () => {
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"units":[');
        return true;
      },
    });
    await rejectsWith(new HttpFleetApi({ endpoint, requestTimeoutMs: 200 }).listUnits(), { message: /did not answer within 0.2 s/, kind: 'network' });
  });

  it('an aborted request rejects with AbortError', async () => {
    const endpoint = await start({ override: () => true });
    const controller = new AbortController();
    const pending = new HttpFleetApi({ endpoint, requestTimeoutMs: 0 }).listUnits(controller.signal);
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (err: Error) => err.name === 'AbortError');
  });

  it('dispose() ends requests in flight and refuses new ones', async () => {
    const endpoint = await start({ override: () => true });
    const api = new HttpFleetApi({ endpoint, requestTimeoutMs: 0 });
    let disposed = 0;
    const withHook = new HttpFleetApi({ endpoint, onDispose: () => disposed++ });
    const pending = api.listUnits();
    await new Promise(r => setTimeout(r, 50));
    api.dispose();
    await rejectsWith(pending, { message: `the connection to ${endpoint} was closed`, kind: 'network' });
    await rejectsWith(api.listUnits(), { message: `the connection to ${endpoint} was closed`, kind: 'config' });
    withHook.dispose();
    withHook.dispose();
    assert.equal(disposed, 1);
  });

  it('a journal endpoint that does not exist (real fleet) is explained', async () => {
    const endpoint = await start({ override: (_req, res) => (sendError(res, 404, ''), true) });
    await rejectsWith(new HttpFleetApi({ endpoint }).journal('a.service', {}), {
      message: `fleet API 404: ${endpoint} has no journal endpoint (a fleetd extension; real fleet serves journals only through \`fleetctl journal\` over SSH)`,
      status: 404,
      kind: 'http',
    });
    const missing = await start({ override: (_req, res) => (sendError(res, 404, 'unit does not exist'), true) });
    await rejectsWith(
      new HttpFleetApi({ endpoint: missing }).followJournal('a.service', () => undefined, new AbortController().signal),
      {
        message: 'fleet API 404: unit does not exist',
        status: 404,
        kind: 'http',
      },
    );
  });

  it('reads a journal sent as a JSON array too, and marks lines it cannot read', async () => {
    const endpoint = await start({
      override: (req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(req.url!.includes('array') ? JSON.stringify([line('a'), { nonsense: true }]) : `${JSON.stringify(line('b'))}\nnot json\n`);
        return true;
      },
    });
    const api = new HttpFleetApi({ endpoint });
    const fromArray = await api.journal('array.service', {});
    assert.deepEqual(fromArray[0], line('a'));
    assert.equal(fromArray[1]!.stream, 'system');
    assert.equal(fromArray[1]!.text, '(unreadable journal line) {"nonsense":true}');
    const fromNdjson = await api.journal('nd.service', {});
    assert.deepEqual(fromNdjson[0], line('b'));
    assert.equal(fromNdjson[1]!.text, '(unreadable journal line) not json');
  });

  it('stops following a journal that sends an endless line', async () => {
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.write(`${JSON.stringify(line('ok'))}\n`);
        const chunk = 'x'.repeat(64 * 1024);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return true;
      },
    });
    const seen: string[] = [];
    await rejectsWith(
      new HttpFleetApi({ endpoint }).followJournal('a.service', l => seen.push(l.text), new AbortController().signal),
      {
        message: `fleet API: the journal from ${endpoint} sent a line longer than 1048576 bytes; stopped following`,
        status: 200,
        kind: 'http',
      },
    );
    assert.deepEqual(seen, ['ok']);
  });

  it('stops reading a response larger than the limit', async () => {
    const endpoint = await start({
      override: (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ units: Array.from({ length: 200 }, (_, i) => unit(`u${i}.service`)) }));
        return true;
      },
    });
    await rejectsWith(new HttpFleetApi({ endpoint, maxBodyBytes: 1000 }).listUnits(), {
      message: `fleet API: the response from ${endpoint} is larger than 1000 bytes; stopped reading`,
      status: 200,
      kind: 'http',
    });
  });

  it("a bad endpoint is a config error, with the words of the profile's parseEndpoint (one parser)", () => {
    const bad = ['unix://var/run/fleet.sock', 'nonsense', '', 'ftp://x', 'http://', 'unix:///', 'http://10.0.0.1:49153/?x=1', 'http://[::1'];
    for (const endpoint of bad) {
      const parsed = parseEndpoint(endpoint);
      assert.ok('error' in parsed, endpoint);
      assert.throws(
        () => new HttpFleetApi({ endpoint }),
        (e: unknown) => e instanceof FleetApiError && e.kind === 'config' && e.message === parsed.error,
        endpoint,
      );
    }
    assert.throws(
      () => new HttpFleetApi({ endpoint: 'unix://var/run/fleet.sock' }),
      /unable to connect to host "var" with scheme "unix": a unix socket needs three slashes, e.g. unix:\/\/\/var\/run\/fleet.sock/,
    );
  });
});

describe('HttpFleetApi keeps its connections alive', () => {
  const units = Array.from({ length: 7 }, (_, i) => unit(`u${i}.service`));

  it('reads every page of three lists on one connection (TCP and unix socket)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-api-keepalive-'));
    for (const where of [{ port: 0 } as const, { path: path.join(dir, 'fleet.sock') }]) {
      const server = new FakeFleetServer({ limit: 2, units, machines: [{ id: 'm1' }] });
      const api = new HttpFleetApi({ endpoint: await server.listen(where) });
      try {
        for (let i = 0; i < 3; i++) {
          assert.equal((await api.listUnits()).length, 7);
          assert.equal((await api.listMachines()).length, 1);
        }
        assert.equal(server.requests.length, 3 * (4 + 1));
        assert.equal(server.connections, 1, `15 requests on ${JSON.stringify(where)} took ${server.connections} connections`);
      } finally {
        api.dispose();
        await server.close();
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a connection the server closes after an answer is replaced: every GET still succeeds', async () => {
    // The server hangs up each connection right after its first answer: the next GET either
    // finds the connection gone, or is written to it as it closes and is asked again once.
    const server: FakeFleetServer = new FakeFleetServer({
      units,
      machines: [{ id: 'm1' }],
      override: (req, res) => {
        res.on('finish', () => setImmediate(() => req.socket.destroy()));
        return false;
      },
    });
    const api = new HttpFleetApi({ endpoint: await server.listen({ port: 0 }), requestTimeoutMs: 2_000 });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await api.listMachines()).length, 1, `read ${i}`);
      assert.ok(server.connections >= 20, `a new connection per read once the server hangs up: ${server.connections}`);
    } finally {
      api.dispose();
      await server.close();
    }
  });

  it('dispose() closes the kept connections', async () => {
    const server = new FakeFleetServer({ machines: [{ id: 'm1' }] });
    const api = new HttpFleetApi({ endpoint: await server.listen({ port: 0 }) });
    await api.listMachines();
    const closed = new Promise<void>(resolve => server.onConnectionsClosed(resolve));
    api.dispose();
    await closed;
    await server.close();
  });
});

describe('HttpFleetApi over a unix socket', () => {
  let dir: string;
  let server: FakeFleetServer;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-api-'));
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('talks HTTP over the socket with Host: domain-sock, as fleetctl', async () => {
    server = new FakeFleetServer({ units: [unit('hello.service')] });
    const endpoint = await server.listen({ path: path.join(dir, 'fleet.sock') });
    const api = new HttpFleetApi({ endpoint });
    assert.deepEqual(
      (await api.listUnits()).map(u => u.name),
      ['hello.service'],
    );
    assert.equal(server.requests[0]!.headers.host, 'domain-sock');
    assert.equal(server.requests[0]!.url, '/fleet/v1/units?pageSize=5000&alt=json');
    const file = new HttpFleetApi({ endpoint: `file://${path.join(dir, 'fleet.sock')}` });
    assert.equal((await file.getUnit('hello.service'))?.name, 'hello.service');
  });

  it('a missing socket says so and what to do', async () => {
    const socket = path.join(dir, 'absent.sock');
    await rejectsWith(new HttpFleetApi({ endpoint: `unix://${socket}` }).listUnits(), {
      message: `Cannot reach the fleet socket ${socket}: no such socket. Is fleetd running on this machine? For a remote cluster set an http:// endpoint or a tunnel.`,
      kind: 'network',
    });
  });

  it('a socket nobody listens on is refused', async () => {
    const socket = path.join(dir, 'stale.sock');
    const s = net.createServer();
    await new Promise<void>(r => s.listen(socket, r));
    // Closing a listening unix server removes the file; recreate a stale file by binding without listening is not portable, so use a regular file.
    await new Promise<void>(r => s.close(() => r()));
    fs.writeFileSync(socket, '');
    await rejectsWith(new HttpFleetApi({ endpoint: `unix://${socket}` }).listUnits(), {
      message: /Cannot reach the fleet socket .*stale\.sock: connection refused/,
      kind: 'network',
    });
  });
});
