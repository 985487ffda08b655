import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Journal, LineSplitter, startJournalServer } from '../src/agent/journal';
import type { JournalLine } from '../../protocol/src/api';
import { waitFor } from '../../test/support/process';

const M = 'm'.repeat(32);

test('Journal: bounded ring per unit, last N lines oldest first, newline splitting', () => {
  let t = 1000;
  const j = new Journal({ machineId: M, maxLinesPerUnit: 3, now: () => t++ });
  j.append('a.service', 'stdout', 'one');
  j.append('a.service', 'stderr', 'two\nthree');
  j.append('a.service', 'system', 'four');
  j.append('b.service', 'stdout', 'other');
  assert.deepEqual(j.read('a.service', 10), [
    { time: 1001, machineID: M, stream: 'stderr', text: 'two' },
    { time: 1002, machineID: M, stream: 'stderr', text: 'three' },
    { time: 1003, machineID: M, stream: 'system', text: 'four' },
  ]);
  assert.deepEqual(
    j.read('a.service', 1).map(l => l.text),
    ['four'],
  );
  assert.deepEqual(j.read('a.service', 0), []);
  assert.deepEqual(j.read('nope.service'), []);
  assert.deepEqual(j.units(), ['a.service', 'b.service']);
});

test('Journal: at most maxUnits units, the least recently written forgotten first', () => {
  const j = new Journal({ machineId: M, maxUnits: 2 });
  j.append('a.service', 'stdout', '1');
  j.append('b.service', 'stdout', '1');
  j.append('a.service', 'stdout', '2');
  j.append('c.service', 'stdout', '1');
  assert.deepEqual(j.units(), ['a.service', 'c.service']);
  assert.deepEqual(
    j.read('a.service').map(l => l.text),
    ['1', '2'],
  );
});

test('Journal: followers get new lines until disposed; one failing follower does not stop the others', () => {
  const j = new Journal({ machineId: M });
  const seen: string[] = [];
  j.follow('a.service', () => {
    throw new Error('closed socket');
  });
  const sub = j.follow('a.service', l => seen.push(l.text));
  j.append('a.service', 'stdout', 'x');
  j.append('b.service', 'stdout', 'not mine');
  sub.dispose();
  j.append('a.service', 'stdout', 'y');
  assert.deepEqual(seen, ['x']);
});

test('LineSplitter: joins chunks, strips CR, flushes a partial last line', () => {
  const out: string[] = [];
  const s = new LineSplitter(l => out.push(l));
  s.write('hel');
  s.write('lo\r\nwor');
  s.write('ld\n\npartial');
  assert.deepEqual(out, ['hello', 'world', '']);
  s.flush();
  assert.deepEqual(out, ['hello', 'world', '', 'partial']);
});

function get(url: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', d => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      })
      .on('error', reject);
  });
}

const parse = (body: string): JournalLine[] =>
  body
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l) as JournalLine);

test('journal HTTP: lines=N as NDJSON, default 10, percent-decoded names, clear errors', async () => {
  const j = new Journal({ machineId: M });
  for (let i = 1; i <= 15; i++) j.append('web@1.service', 'stdout', `line ${i}`);
  const server = await startJournalServer(j, { host: '127.0.0.1', port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    let r = await get(`${server.url}/journal/web%401.service?lines=3`);
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/x-ndjson; charset=utf-8');
    assert.deepEqual(
      parse(r.body).map(l => [l.text, l.stream, l.machineID]),
      [
        ['line 13', 'stdout', M],
        ['line 14', 'stdout', M],
        ['line 15', 'stdout', M],
      ],
    );
    r = await get(`${server.url}/journal/web@1.service`);
    assert.equal(parse(r.body).length, 10);
    r = await get(`${server.url}/fleet/v1/journal/web@1.service?lines=1`);
    assert.deepEqual(
      parse(r.body).map(l => l.text),
      ['line 15'],
    );
    r = await get(`${server.url}/journal/unknown.service`);
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
    r = await get(`${server.url}/journal/web@1.service?lines=ten`);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { error: { code: 400, message: 'invalid lines="ten": use a whole number of lines, e.g. lines=50' } });
    r = await get(`${server.url}/units`);
    assert.equal(r.status, 404);
    assert.match(JSON.parse(r.body).error.message, /use GET \/journal\/\{unit\}/);
  } finally {
    await server.close();
  }
});

test('journal HTTP: follow=true streams new lines until the client disconnects', async () => {
  const j = new Journal({ machineId: M });
  j.append('a.service', 'system', 'Started a.service.');
  const server = await startJournalServer(j, { host: '127.0.0.1', port: 0 });
  try {
    const received: JournalLine[] = [];
    const req = http.get(`${server.url}/journal/a.service?lines=5&follow=true`);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
    });
    assert.equal(res.statusCode, 200);
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) received.push(JSON.parse(p) as JournalLine);
    });
    res.on('error', () => undefined);
    await waitFor('the backlog', () => received.length === 1);
    j.append('a.service', 'stdout', 'live 1');
    j.append('b.service', 'stdout', 'other unit');
    j.append('a.service', 'stderr', 'live 2');
    await waitFor('the live lines', () => received.length === 3);
    assert.deepEqual(
      received.map(l => `${l.stream}:${l.text}`),
      ['system:Started a.service.', 'stdout:live 1', 'stderr:live 2'],
    );
    req.destroy();
    // The server notices the disconnect and drops the follower.
    const followers = (j as unknown as { followers: Map<string, Set<unknown>> }).followers;
    await waitFor('the follower to be dropped', () => !followers.has('a.service'));
  } finally {
    await server.close();
  }
});

test('journal server: a port in use gives a clear error', async () => {
  const j = new Journal({ machineId: M });
  const a = await startJournalServer(j, { host: '127.0.0.1', port: 0 });
  try {
    const port = Number(new URL(a.url).port);
    await assert.rejects(
      startJournalServer(j, { host: '127.0.0.1', port }),
      /journal server could not listen on 127\.0\.0\.1:\d+: .*the port is in use; pick another port/,
    );
  } finally {
    await a.close();
  }
});
