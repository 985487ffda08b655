/**
 * The journal extension: GET /fleet/v1/journal/{unit} proxies to the agents' journal endpoints
 * (fake agents here, serving NDJSON JournalLines as the agent does) and merges their lines.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { JournalLine } from '../../protocol/src/api';
import { errorBody, HELLO_OPTIONS, startApi, type ApiFixture } from './apiHarness';
import { saveUnitState, scheduleUnit } from '../../registry/test/registryOps';

interface FakeAgent {
  url: string;
  requests: string[];
  /** Push a line to followers. */
  emit(line: JournalLine): void;
  close(): Promise<void>;
}

async function fakeAgent(machineId: string, backlog: JournalLine[]): Promise<FakeAgent> {
  const requests: string[] = [];
  const followers = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://agent');
    const unit = decodeURIComponent(url.pathname.replace(/^\/journal\//, ''));
    const lines = Number(url.searchParams.get('lines') ?? '10');
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    const mine = backlog.filter(l => l.text.includes(unit));
    for (const l of mine.slice(Math.max(0, mine.length - lines))) res.write(`${JSON.stringify(l)}\n`);
    if (url.searchParams.get('follow') === 'true') {
      res.flushHeaders();
      followers.add(res);
      res.on('close', () => followers.delete(res));
      return;
    }
    res.end();
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    emit: line => {
      for (const f of followers) f.write(`${JSON.stringify({ ...line, machineID: machineId })}\n`);
    },
    close: () =>
      new Promise<void>(r => {
        for (const f of followers) f.end();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const line = (time: number, machineID: string, text: string): JournalLine => ({ time, machineID, stream: 'stdout', text });

describe('GET /fleet/v1/journal/{unit}', () => {
  let f: ApiFixture;
  let a1: FakeAgent;
  let a2: FakeAgent;
  before(async () => {
    f = await startApi();
    a1 = await fakeAgent('m1', [line(1, 'm1', 'web.service one'), line(3, 'm1', 'web.service three'), line(5, 'm1', 'web.service five')]);
    a2 = await fakeAgent('m2', [line(2, 'm2', 'web.service two'), line(4, 'm2', 'web.service four')]);
    await f.registry.registerMachine({ id: 'm1', publicIP: '', metadata: {}, version: 't', journalUrl: a1.url }, 60_000);
    await f.registry.registerMachine({ id: 'm2', publicIP: '', metadata: {}, version: 't', journalUrl: a2.url }, 60_000);
    await f.registry.registerMachine({ id: 'm3', publicIP: '', metadata: {}, version: 't' }, 60_000);
    await f.registry.putUnit({ name: 'web.service', options: HELLO_OPTIONS, desiredState: 'launched' });
    const st = (machineId: string) => ({
      name: 'web.service',
      machineId,
      hash: 'a'.repeat(40),
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
    });
    await saveUnitState(f.registry, st('m1'), 60_000);
    await saveUnitState(f.registry, st('m2'), 60_000);
  });
  after(async () => {
    await f.close();
    await a1.close();
    await a2.close();
  });

  const ndjson = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l) as JournalLine);

  test('merges the last N lines of every machine running the unit, in time order', async () => {
    const r = await f.api.get('/fleet/v1/journal/web.service?lines=3');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-ndjson');
    assert.deepEqual(
      ndjson(r.text).map(l => l.text),
      ['web.service three', 'web.service four', 'web.service five'],
    );
    assert.ok(a1.requests.some(u => u === '/journal/web.service?lines=3'));
    const all = await f.api.get('/fleet/v1/journal/web.service');
    assert.equal(ndjson(all.text).length, 5, 'default 10 lines');
  });

  test('machineID picks one machine; errors name the machine', async () => {
    const r = await f.api.get('/fleet/v1/journal/web.service?machineID=m2&lines=10');
    assert.deepEqual(
      ndjson(r.text).map(l => l.machineID),
      ['m2', 'm2'],
    );
    assert.deepEqual((await f.api.get('/fleet/v1/journal/web.service?machineID=nope')).json, errorBody(404, 'machine nope is not in the cluster'));
    assert.deepEqual(
      (await f.api.get('/fleet/v1/journal/web.service?machineID=m3')).json,
      errorBody(404, 'machine m3 does not serve a journal (its agent runs without one)'),
    );
    assert.deepEqual((await f.api.get('/fleet/v1/journal/none.service')).json, errorBody(404, 'unit does not exist'));
    assert.equal((await f.api.get('/fleet/v1/journal/web.service?lines=-1')).status, 400);
    assert.equal((await f.api.request('POST', '/fleet/v1/journal/web.service')).status, 405);
  });

  test('follow streams new lines from every agent until the client goes away', async () => {
    const url = new URL(f.server.urls[0]!);
    const received: JournalLine[] = [];
    const req = http.get({ host: url.hostname, port: url.port, path: '/fleet/v1/journal/web.service?lines=1&follow=true', agent: false });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    let buffer = '';
    res.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        received.push(JSON.parse(buffer.slice(0, nl)) as JournalLine);
        buffer = buffer.slice(nl + 1);
      }
    });
    const got = async (n: number) => {
      for (let i = 0; i < 250 && received.length < n; i++) await new Promise(r => setTimeout(r, 20));
      assert.ok(received.length >= n, `only ${received.length} lines`);
    };
    await got(1);
    assert.deepEqual(
      received.map(l => l.text),
      ['web.service five'],
    );
    // Wait until both agents have a follower, then emit.
    for (let i = 0; i < 100 && !(a1.requests.some(u => u.includes('follow=true')) && a2.requests.some(u => u.includes('follow=true'))); i++)
      await new Promise(r => setTimeout(r, 20));
    await new Promise(r => setTimeout(r, 50));
    a2.emit(line(10, 'm2', 'web.service live two'));
    a1.emit(line(11, 'm1', 'web.service live one'));
    await got(3);
    assert.deepEqual(
      received
        .slice(1)
        .map(l => l.text)
        .sort(),
      ['web.service live one', 'web.service live two'],
    );
    req.destroy();
    // The server keeps serving after the client left.
    assert.equal((await f.api.get('/fleet/v1/units/web.service')).status, 200);
  });

  test('a dead agent is reported as a system line; the others still answer', async () => {
    await f.registry.registerMachine({ id: 'm4', publicIP: '', metadata: {}, version: 't', journalUrl: 'http://127.0.0.1:1' }, 60_000);
    await saveUnitState(
      f.registry,
      { name: 'web.service', machineId: 'm4', hash: 'a'.repeat(40), loadState: 'loaded', activeState: 'active', subState: 'running' },
      60_000,
    );
    const lines = ndjson((await f.api.get('/fleet/v1/journal/web.service?lines=10')).text);
    assert.equal(lines.filter(l => l.stream === 'stdout').length, 5);
    const system = lines.filter(l => l.stream === 'system');
    assert.equal(system.length, 1);
    assert.match(system[0]!.text, /cannot read the journal of web.service on machine m4/);
    await f.registry.removeUnitState('web.service', 'm4');
  });
});

test("the proxy speaks the agent's journal server (fleetd/src/agent/journal.ts)", async () => {
  const { Journal, startJournalServer } = await import('../src/agent/journal');
  const f = await startApi();
  const journal = new Journal({ machineId: 'real' });
  const agent = await startJournalServer(journal, { host: '127.0.0.1', port: 0 });
  try {
    journal.append('svc.service', 'stdout', 'before 1');
    journal.append('svc.service', 'stderr', 'before 2');
    await f.registry.registerMachine({ id: 'real', publicIP: '', metadata: {}, version: 't', journalUrl: agent.url }, 60_000);
    await f.registry.putUnit({ name: 'svc.service', options: HELLO_OPTIONS, desiredState: 'launched' });
    await scheduleUnit(f.registry, 'svc.service', 'real');
    const lines = (await f.api.get('/fleet/v1/journal/svc.service?lines=5')).text
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as JournalLine);
    assert.deepEqual(
      lines.map(l => [l.machineID, l.stream, l.text]),
      [
        ['real', 'stdout', 'before 1'],
        ['real', 'stderr', 'before 2'],
      ],
    );

    const url = new URL(f.server.urls[0]!);
    const req = http.get({ host: url.hostname, port: url.port, path: '/fleet/v1/journal/svc.service?lines=1&follow=true', agent: false });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    const got: string[] = [];
    let buffer = '';
    res.on('data', (c: Buffer) => {
      buffer += c.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        got.push((JSON.parse(buffer.slice(0, nl)) as JournalLine).text);
        buffer = buffer.slice(nl + 1);
      }
    });
    for (let i = 0; i < 100 && got.length < 1; i++) await new Promise(r => setTimeout(r, 20));
    journal.append('svc.service', 'stdout', 'live');
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise(r => setTimeout(r, 20));
    assert.deepEqual(got, ['before 2', 'live']);
    req.destroy();
  } finally {
    await agent.close();
    await f.close();
  }
});
