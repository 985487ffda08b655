/**
 * etcdWatchDecoder.ts: the one-pass decoder of etcd's watch responses returns exactly what
 * etcd3's own decoder (protobufjs through @grpc/proto-loader) returns, on crafted messages with
 * every edge (negative and 64-bit numbers, unknown fields, unknown enum values, empty fields) and
 * on the raw bytes a real etcd sends (a private Debian etcd-server on 127.0.0.1): puts with a
 * lease and with prev_kv, deletes, big values, a progress response and a compacted watch.
 * EtcdRegistry installs it, and its watch keeps working through it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import {
  decodeWatchResponse,
  installFastWatchDecoder,
  originalWatchDecoder,
  watchServiceClient,
  type GrpcMethod,
  type WatchServiceClient,
} from '../src/registry/etcdWatchDecoder';
import { EtcdRegistry } from '../src/registry/etcdRegistry';
import { EtcdServer, etcdBinary, skipUnlessAvailable, waitFor } from '../../test/support';

interface RawStream {
  on(event: 'data', listener: (buf: Buffer) => void): RawStream;
  on(event: 'error', listener: (err: Error) => void): RawStream;
  write(request: unknown): boolean;
  cancel(): void;
}

/** etcd3's gRPC Watch client (the class is shared by every Etcd3 client) and the watch method's attributes, with the serializer of responses. */
function watchService(client: Etcd3): { service: WatchServiceClient; method: GrpcMethod & { responseSerialize: (value: unknown) => Buffer } } {
  const service = watchServiceClient(client);
  assert.ok(service, "etcd3's Watch client");
  const method = Object.getPrototypeOf(service).watch as GrpcMethod;
  assert.ok(method.responseSerialize, 'the watch method serializes responses');
  return { service, method: method as GrpcMethod & { responseSerialize: (value: unknown) => Buffer } };
}

/** Both decoders agree on `buf` (and the fast one is not etcd3's). */
function assertSame(buf: Buffer, what: string): ReturnType<typeof decodeWatchResponse> {
  const etcd3 = originalWatchDecoder();
  assert.ok(etcd3, 'installFastWatchDecoder kept etcd3 own decoder');
  assert.notEqual(etcd3, decodeWatchResponse);
  const fast = decodeWatchResponse(buf);
  assert.deepStrictEqual(fast, etcd3(buf), `${what}: the one-pass decoder differs from etcd3's`);
  return fast;
}

describe('decodeWatchResponse against etcd3 own decoder, crafted messages', () => {
  // No etcd needed: the client only builds its gRPC client objects.
  const client = new Etcd3({ hosts: '127.0.0.1:9' });
  after(() => client.close());
  const { method } = watchService(client);

  test('installs on the shared Watch client once, and etcd3 watch() then uses it', () => {
    assert.equal(installFastWatchDecoder(client), undefined);
    assert.equal(installFastWatchDecoder(client), undefined, 'a second install is a no-op');
    assert.equal(watchService(client).method.responseDeserialize, decodeWatchResponse);
    assert.notEqual(originalWatchDecoder(), decodeWatchResponse);
  });

  const kv = (over: Record<string, unknown> = {}) => ({
    key: Buffer.from('/fleetd/job/a.service/object'),
    create_revision: '12',
    mod_revision: '13',
    version: '2',
    value: Buffer.from('{"Name":"a.service"}'),
    lease: '0',
    ...over,
  });
  const cases: Array<[string, unknown]> = [
    ['an empty response', {}],
    ['a created response', { header: { cluster_id: '1', member_id: '2', revision: '3', raft_term: '4' }, watch_id: '7', created: true }],
    [
      'header numbers at the top of uint64 and int64',
      { header: { cluster_id: '18446744073709551615', member_id: '9223372036854775808', revision: '9223372036854775807', raft_term: '562949953421312' } },
    ],
    ['a negative watch id (progress responses use -1)', { watch_id: '-1', header: { revision: '-9223372036854775808' } }],
    ['numbers around the fast path (2^49)', { watch_id: '562949953421311', compact_revision: '562949953421312' }],
    ['a canceled, compacted watch', { canceled: true, compact_revision: '42', cancel_reason: 'mvcc: required revision has been compacted ü' }],
    ['a fragment', { fragment: true, events: [{ type: 'Put', kv: kv() }] }],
    [
      'puts and deletes, with and without prev_kv',
      {
        header: { revision: '99' },
        events: [
          { type: 'Put', kv: kv({ lease: '7587868923646785809' }) },
          { type: 'Delete', kv: kv({ value: Buffer.alloc(0), version: '0' }), prev_kv: kv() },
          { type: 'Put', kv: kv({ key: Buffer.from([0xff, 0x00, 0xc3]), value: Buffer.alloc(70_000, 1) }) },
        ],
      },
    ],
    ['an event with no kv', { events: [{ type: 'Delete' }] }],
    ['an unknown event type keeps its number', { events: [{ type: 5, kv: kv() }] }],
    ['a negative lease', { events: [{ type: 'Put', kv: kv({ lease: '-2' }) }] }],
  ];
  for (const [what, message] of cases) {
    test(what, () => {
      assertSame(method.responseSerialize(message), what);
    });
  }

  test('fields a newer etcd may add (every wire type) are skipped', () => {
    const known = method.responseSerialize({ watch_id: '3', events: [{ type: 'Put', kv: kv() }] });
    const unknown = Buffer.from([
      // field 20, varint 300
      0xa0, 0x01, 0xac, 0x02,
      // field 21, fixed64
      0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8,
      // field 22, bytes "hi"
      0xb2, 0x01, 2, 0x68, 0x69,
      // field 23, fixed32
      0xbd, 0x01, 1, 2, 3, 4,
    ]);
    const buf = Buffer.concat([unknown, known, unknown]);
    const decoded = assertSame(buf, 'unknown fields');
    assert.equal(decoded.watch_id, '3');
    assert.equal(decoded.events.length, 1);
  });

  test('a truncated or malformed message is a RangeError, not a wrong answer', () => {
    const buf = method.responseSerialize({ header: { revision: '5' }, events: [{ type: 'Put', kv: kv() }] });
    for (const cut of [1, 3, buf.length - 1]) assert.throws(() => decodeWatchResponse(buf.subarray(0, cut)), RangeError, `cut at ${cut}`);
    assert.throws(() => decodeWatchResponse(Buffer.from([0x0b])), RangeError, 'a group (wire type 3)');
    assert.throws(
      () => decodeWatchResponse(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
      RangeError,
      'an 11-byte varint',
    );
  });

  test('keys and values are views of the response, like etcd3 gives them', () => {
    const buf = method.responseSerialize({ events: [{ type: 'Put', kv: kv() }] });
    const decoded = decodeWatchResponse(buf);
    assert.equal(decoded.events[0]!.kv!.key.buffer, buf.buffer);
    assert.equal(decoded.events[0]!.kv!.key.toString(), '/fleetd/job/a.service/object');
  });
});

const skip = skipUnlessAvailable(etcdBinary());

describe('decodeWatchResponse on what a real etcd sends', { skip }, () => {
  let etcd: EtcdServer;
  let client: Etcd3;
  before(async () => {
    etcd = await EtcdServer.start();
    client = new Etcd3({ hosts: etcd.endpoint });
    assert.equal(installFastWatchDecoder(client), undefined);
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
  });

  /** A raw watch stream: every response's bytes, as etcd sent them. */
  function rawWatch(request: Record<string, unknown>): { responses: Buffer[]; stream: RawStream } {
    const { service, method } = watchService(client);
    const responses: Buffer[] = [];
    const stream = service.makeBidiStreamRequest(method.path, method.requestSerialize, buf => Buffer.from(buf)) as RawStream;
    stream.on('data', buf => responses.push(buf));
    stream.on('error', () => undefined);
    stream.write({ create_request: request });
    return { responses, stream };
  }

  test('puts with a lease, with prev_kv, big values and deletes; a progress response', async () => {
    const prefix = '/decoder/';
    const { responses, stream } = rawWatch({ key: Buffer.from(prefix), range_end: Buffer.from('/decoder0'), prev_kv: true });
    await waitFor('the watch was created', () => responses.length >= 1, { timeoutMs: 5_000 });
    const lease = client.lease(30, { autoKeepAlive: false });
    await lease.put(`${prefix}leased`).value('on a lease');
    await client.put(`${prefix}a`).value('one');
    await client.put(`${prefix}a`).value('two');
    await client.put(`${prefix}big`).value(Buffer.alloc(200_000, 0x61));
    await client.put(`${prefix}empty`).value('');
    await client.delete().key(`${prefix}a`);
    await client
      .if(`${prefix}a`, 'Version', '==', 0)
      .then(client.put(`${prefix}t1`).value('x'), client.put(`${prefix}t2`).value('y'), client.delete().key(`${prefix}empty`))
      .commit();
    await lease.revoke();
    stream.write({ progress_request: {} });
    const events = () => responses.map(b => decodeWatchResponse(b)).reduce((n, r) => n + r.events.length, 0);
    const progress = (b: Buffer) => {
      const r = decodeWatchResponse(b);
      return r.events.length === 0 && !r.created;
    };
    await waitFor('every event and the progress response', () => events() >= 10 && responses.some(progress), { timeoutMs: 5_000 });
    stream.cancel();

    const decoded = responses.map((b, i) => assertSame(b, `response ${i}`));
    const all = decoded.flatMap(r => r.events);
    const types = all.map(e => `${e.type} ${e.kv!.key.toString()}`);
    assert.deepEqual(types, [
      `Put ${prefix}leased`,
      `Put ${prefix}a`,
      `Put ${prefix}a`,
      `Put ${prefix}big`,
      `Put ${prefix}empty`,
      `Delete ${prefix}a`,
      `Put ${prefix}t1`,
      `Put ${prefix}t2`,
      `Delete ${prefix}empty`,
      `Delete ${prefix}leased`,
    ]);
    assert.notEqual(all[0]!.kv!.lease, '0', 'the leased key carries its lease ID');
    assert.equal(all[2]!.prev_kv!.value.toString(), 'one');
    assert.equal(all[3]!.kv!.value.length, 200_000);
    // The revisions count up one per transaction, as strings.
    const revisions = all.map(e => Number(e.kv!.mod_revision));
    assert.deepEqual(
      revisions.slice(0, 6),
      [...Array(6).keys()].map(i => revisions[0]! + i),
    );
    assert.ok(decoded[0]!.created);
    assert.notEqual(decoded[0]!.header!.cluster_id, '0');
  });

  test('a watch from a compacted revision is canceled with the compact revision', async () => {
    for (let i = 0; i < 5; i++) await client.put('/compacted/k').value(String(i));
    const revision = Number((await client.get('/compacted/k').exec()).header.revision);
    await (client as unknown as { kv: { compact(req: { revision: string; physical: boolean }): Promise<unknown> } }).kv.compact({
      revision: String(revision - 1),
      physical: true,
    });
    const { responses, stream } = rawWatch({ key: Buffer.from('/compacted/k'), start_revision: String(revision - 3) });
    await waitFor('the canceled response', () => responses.some(b => decodeWatchResponse(b).canceled), { timeoutMs: 5_000 });
    stream.cancel();
    const canceled = responses.map((b, i) => assertSame(b, `response ${i}`)).find(r => r.canceled)!;
    assert.equal(canceled.compact_revision, String(revision - 1));
  });

  test("EtcdRegistry's watch runs through it: a machine hears of a unit scheduled to it", async () => {
    const registry = await EtcdRegistry.connect({ endpoints: [etcd.endpoint], prefix: '/registry-decoder/', callTimeoutMs: 2_000 });
    try {
      assert.equal(watchService(client).method.responseDeserialize, decodeWatchResponse);
      let heard = 0;
      const subscription = registry.watch('units', () => heard++);
      const mirror = (registry as unknown as { mirror: { live: unknown } }).mirror;
      await waitFor('the watch is live', () => mirror.live, { timeoutMs: 5_000 });
      const before = heard;
      await registry.createUnit({
        name: 'decoded.service',
        options: [{ section: 'Service', name: 'ExecStart', value: '/bin/true' }],
        desiredState: 'inactive',
      });
      await waitFor('the watch delivered the new unit', () => heard > before, { timeoutMs: 5_000 });
      subscription.dispose();
    } finally {
      await registry.close();
    }
  });
});
