/**
 * The etcd gate: loopback TCP forwarded to etcd's unix socket for fleetd's user only. The owner
 * of a connecting socket is read from /proc/net/tcp; another user's connection (uid 65534, when
 * the tests run as root) is closed before anything reaches the socket.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openEtcdGate, socketOwner } from '../src/cli/etcdGate';
import { waitFor } from '../../test/support';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetd-gate-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const TABLE = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0',
  '   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1001        0 222 1 0 20 4 30 10 -1',
  '   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1',
].join('\n');

test('socketOwner: the uid of the socket with that local and remote end (little-endian hex addresses, hex ports)', () => {
  // The client's end 127.0.0.1:50000 → 127.0.0.1:8080 is owned by uid 1001; the server's end by 1000.
  assert.equal(socketOwner(TABLE, { address: '127.0.0.1', port: 50000 }, { address: '127.0.0.1', port: 8080 }, 'LE'), 1001);
  assert.equal(socketOwner(TABLE, { address: '127.0.0.1', port: 8080 }, { address: '127.0.0.1', port: 50000 }, 'LE'), 1000);
  assert.equal(socketOwner(TABLE, { address: '127.0.0.1', port: 50001 }, { address: '127.0.0.1', port: 8080 }, 'LE'), undefined);
  assert.equal(socketOwner(TABLE.replace(/0100007F/g, '7F000001'), { address: '127.0.0.1', port: 50000 }, { address: '127.0.0.1', port: 8080 }, 'BE'), 1001);
});

/** A unix-socket server standing in for etcd: it answers "pong" and counts connections. */
async function upstream(): Promise<{ socketPath: string; connections: () => number; close: () => Promise<void> }> {
  const socketPath = path.join(root, `up-${Math.random().toString(16).slice(2)}.sock`);
  let n = 0;
  const server = net.createServer(s => {
    n++;
    s.on('data', () => s.end('pong'));
    s.on('error', () => undefined);
  });
  await new Promise<void>(resolve => server.listen(socketPath, resolve));
  return { socketPath, connections: () => n, close: () => new Promise(resolve => server.close(() => resolve())) };
}

/** Connects to `port` as `uid` (a child process), sends "ping", resolves to what came back ('closed' when closed or reset). */
function pingAs(uid: number, port: number): Promise<string> {
  const script = `const s = require('net').connect(${port}, '127.0.0.1', () => s.write('ping'));
    let got = ''; s.on('data', d => got += d); s.on('close', () => { console.log(got || 'closed'); process.exit(0); });
    s.on('error', e => { console.log(e.code === 'ECONNRESET' ? 'closed' : e.code); process.exit(0); }); setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
  return new Promise(resolve => {
    execFile(process.execPath, ['-e', script], { uid, gid: uid, encoding: 'utf8', timeout: 10_000 }, (_err, stdout) => resolve(stdout.trim()));
  });
}

test("the gate forwards fleetd's user's connections to the socket and refuses another user's", { timeout: 30_000 }, async () => {
  const up = await upstream();
  const gate = await openEtcdGate({ socketPath: up.socketPath });
  try {
    assert.match(gate.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(gate.url).port);
    assert.equal(await pingAs(process.getuid!(), port), 'pong');
    assert.deepEqual({ ...gate.counts }, { forwarded: 1, refused: 0 });
    if (process.getuid?.() === 0) {
      assert.equal(await pingAs(65534, port), 'closed', 'uid 65534 must not get through the gate');
      assert.deepEqual({ ...gate.counts }, { forwarded: 1, refused: 1 });
      assert.equal(up.connections(), 1, 'the refused connection never reached the socket');
    } else if (process.env.CI === 'true') {
      assert.fail('the tests run as root under CI: a second uid is needed to prove the refusal');
    } else {
      process.stderr.write('# etcdGate: not root, so the refusal of a second uid is not tried\n');
    }
  } finally {
    await gate.close();
    await up.close();
  }
});

test(
  'the gate refuses when it cannot tell who connects (no /proc/net/tcp line), and closes a connection whose socket is gone',
  { timeout: 30_000 },
  async () => {
    const up = await upstream();
    const logs: string[] = [];
    const gate = await openEtcdGate({ socketPath: up.socketPath, readTcpTable: async () => '', log: (_l, m) => logs.push(m) });
    try {
      const port = Number(new URL(gate.url).port);
      assert.equal(await pingAs(process.getuid!(), port), 'closed');
      assert.equal(gate.counts.refused, 1);
      assert.match(logs.join('\n'), /refused a connection from an unknown user/);
    } finally {
      await gate.close();
    }
    // The socket's owner (etcd) is down: the client is closed, not left hanging.
    const gate2 = await openEtcdGate({ socketPath: path.join(root, 'nobody-listens.sock') });
    try {
      const port = Number(new URL(gate2.url).port);
      assert.equal(await pingAs(process.getuid!(), port), 'closed');
      await waitFor('the forward to be counted', () => gate2.counts.forwarded === 1 || undefined, { timeoutMs: 5_000 });
    } finally {
      await gate2.close();
      await up.close();
    }
  },
);
