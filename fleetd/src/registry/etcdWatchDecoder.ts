/**
 * etcd's watch responses decoded in one pass (installFastWatchDecoder), not by protobufjs.
 *
 * Every fleetd process on etcd watches the job keys, so each of N machine processes decodes every
 * unit's changes: at a thousand units that decoding was the largest part of a machine process's
 * CPU while units were submitted (protobufjs decodes into a message, then converts it to a plain
 * object, and every int64 goes through a Long and a string conversion by division).
 *
 * decodeWatchResponse returns exactly what etcd3's own decoder returns (@grpc/proto-loader with
 * keepCase, longs: String, enums: String, defaults: true, oneofs: true), field for field, so
 * etcd3's watch manager and the mirror use it unchanged: proven against etcd3's decoder on real
 * responses (fleetd/test/registry.etcdWatchDecoder.test.ts). Keys and values are views of the
 * response's buffer (as protobufjs returns them), not copies.
 */
import type { Etcd3 } from 'etcd3';
import { errorMessage } from '../../../protocol/src/log';

export interface WatchHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}

export interface WatchKeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  lease: string;
}

export interface WatchEvent {
  /** 'Put' or 'Delete' (an unknown value stays its number, as protobufjs leaves it). */
  type: string | number;
  kv: WatchKeyValue | null;
  prev_kv: WatchKeyValue | null;
}

export interface WatchResponse {
  header: WatchHeader | null;
  watch_id: string;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  events: WatchEvent[];
}

const EVENT_TYPES = ['Put', 'Delete'];
const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;

/** A protobuf reader over one message's bytes. */
class Reader {
  pos = 0;
  /** The end of the message being read (a field's sub-message while `message` reads it). */
  end: number;

  constructor(readonly buf: Buffer) {
    this.end = buf.length;
  }

  /** The sub-message of a length-delimited field, read by `decode` within its bounds. */
  message<T>(decode: (r: Reader) => T): T {
    const end = this.delimited();
    const outer = this.end;
    this.end = end;
    const out = decode(this);
    this.end = outer;
    return out;
  }

  /** A varint that fits in 32 bits (tags, lengths, enums, bools); larger ones are cut to their low 32 bits, as protobufjs does. */
  uint32(): number {
    const { buf } = this;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new RangeError('etcd watch response: a varint runs past the end of its message');
      const b = buf[this.pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    throw new RangeError('etcd watch response: a varint longer than 10 bytes');
  }

  /** An int64 (signed) or uint64 as its decimal string (proto-loader's longs: String). */
  long(signed: boolean): string {
    const { buf } = this;
    const start = this.pos;
    // Fast path: up to 7 bytes (< 2^49) is exact as a double; revisions and versions are.
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw new RangeError('etcd watch response: a varint runs past the end of its message');
      const b = buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return String(value);
      scale *= 128;
    }
    // Longer (large IDs, negative numbers: ten bytes): exact, in BigInt.
    this.pos = start;
    let big = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.pos >= this.end) throw new RangeError('etcd watch response: a varint runs past the end of its message');
      if (shift > 63n) throw new RangeError('etcd watch response: a varint longer than 10 bytes');
      const b = buf[this.pos++]!;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    big %= TWO_64;
    if (signed && big >= TWO_63) big -= TWO_64;
    return big.toString();
  }

  /** The bounds of a length-delimited field's bytes. */
  delimited(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.end) throw new RangeError('etcd watch response: a field runs past the end of its message');
    return end;
  }

  bytes(): Buffer {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    return start === end ? Buffer.alloc(0) : this.buf.subarray(start, end);
  }

  string(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    return this.buf.toString('utf8', start, end);
  }

  /** Skips a field this decoder does not know (a newer etcd's), by its wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.delimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`etcd watch response: wire type ${wireType} is not supported`);
    }
    if (this.pos > this.end) throw new RangeError('etcd watch response: a field runs past the end of its message');
  }
}

function header(r: Reader): WatchHeader {
  const out: WatchHeader = { cluster_id: '0', member_id: '0', revision: '0', raft_term: '0' };
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag) {
      case 8:
        out.cluster_id = r.long(false);
        break;
      case 16:
        out.member_id = r.long(false);
        break;
      case 24:
        out.revision = r.long(true);
        break;
      case 32:
        out.raft_term = r.long(false);
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

function keyValue(r: Reader): WatchKeyValue {
  let key: Buffer | undefined;
  let value: Buffer | undefined;
  const out = { create_revision: '0', mod_revision: '0', version: '0', lease: '0' } as WatchKeyValue;
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag) {
      case 10:
        key = r.bytes();
        break;
      case 16:
        out.create_revision = r.long(true);
        break;
      case 24:
        out.mod_revision = r.long(true);
        break;
      case 32:
        out.version = r.long(true);
        break;
      case 42:
        value = r.bytes();
        break;
      case 48:
        out.lease = r.long(true);
        break;
      default:
        r.skip(tag & 7);
    }
  }
  // Each object its own empty buffer, as protobufjs gives (callers may write into them).
  out.key = key ?? Buffer.alloc(0);
  out.value = value ?? Buffer.alloc(0);
  return out;
}

function event(r: Reader): WatchEvent {
  const out: WatchEvent = { type: 'Put', kv: null, prev_kv: null };
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag) {
      case 8: {
        const t = r.uint32() | 0;
        out.type = EVENT_TYPES[t] ?? t;
        break;
      }
      case 18:
        out.kv = r.message(keyValue);
        break;
      case 26:
        out.prev_kv = r.message(keyValue);
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

/** One etcdserverpb.WatchResponse, as etcd3's own decoder returns it. Throws RangeError on a malformed message. */
export function decodeWatchResponse(buf: Buffer): WatchResponse {
  const out: WatchResponse = {
    events: [],
    header: null,
    watch_id: '0',
    created: false,
    canceled: false,
    compact_revision: '0',
    cancel_reason: '',
    fragment: false,
  };
  const r = new Reader(buf);
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag) {
      case 10:
        out.header = r.message(header);
        break;
      case 16:
        out.watch_id = r.long(true);
        break;
      case 24:
        out.created = r.uint32() !== 0;
        break;
      case 32:
        out.canceled = r.uint32() !== 0;
        break;
      case 40:
        out.compact_revision = r.long(true);
        break;
      case 50:
        out.cancel_reason = r.string();
        break;
      case 56:
        out.fragment = r.uint32() !== 0;
        break;
      case 90:
        out.events.push(r.message(event));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}

/** A gRPC client method as @grpc/grpc-js makes it: the function, with its path and (de)serializers on it. */
export interface GrpcMethod {
  (...args: unknown[]): unknown;
  path: string;
  requestSerialize: (value: unknown) => Buffer;
  responseSerialize?: (value: unknown) => Buffer;
  responseDeserialize: (buf: Buffer) => unknown;
}

export interface WatchServiceClient {
  watch?: GrpcMethod;
  Watch?: GrpcMethod;
  makeBidiStreamRequest(path: string, serialize: (value: unknown) => Buffer, deserialize: (buf: Buffer) => unknown, ...rest: unknown[]): unknown;
}

const INSTALLED = Symbol.for('fleetd.fastWatchDecoder');

/** etcd3's own watch decoder, as it was before installFastWatchDecoder replaced it (for tests). */
let etcd3Decoder: ((buf: Buffer) => unknown) | undefined;

export function originalWatchDecoder(): ((buf: Buffer) => unknown) | undefined {
  return etcd3Decoder;
}

/** etcd3's gRPC Watch client of the client's first host (etcd3 1.1.2's connection pool), or undefined. */
export function watchServiceClient(client: Etcd3): WatchServiceClient | undefined {
  const pool = (client as unknown as { pool?: { hosts?: Array<{ getServiceClient?(name: string): unknown }> } }).pool;
  const host = pool?.hosts?.[0];
  return typeof host?.getServiceClient === 'function' ? (host.getServiceClient('Watch') as WatchServiceClient) : undefined;
}

/**
 * Makes etcd3's Watch service client (shared by every Etcd3 client in this process: it is one
 * gRPC client class) decode its responses with decodeWatchResponse. Returns why it could not
 * (etcd3's internals are not what version 1.1.2 has), and then etcd3 keeps its own decoder:
 * correct, only slower.
 */
export function installFastWatchDecoder(client: Etcd3): string | undefined {
  try {
    const service = watchServiceClient(client);
    if (!service) return "etcd3's connection pool has no hosts";
    const proto = Object.getPrototypeOf(service) as WatchServiceClient & { [INSTALLED]?: true };
    if (proto[INSTALLED]) return undefined;
    const method = proto.watch;
    if (
      typeof method !== 'function' ||
      typeof method.path !== 'string' ||
      typeof method.requestSerialize !== 'function' ||
      typeof proto.makeBidiStreamRequest !== 'function'
    )
      return "etcd3's Watch client has no watch method with a path and serializers";
    const { path, requestSerialize } = method;
    etcd3Decoder = method.responseDeserialize;
    const fast = function (this: WatchServiceClient, ...rest: unknown[]): unknown {
      return this.makeBidiStreamRequest(path, requestSerialize, decodeWatchResponse, ...rest);
    } as GrpcMethod;
    Object.assign(fast, method, { responseDeserialize: decodeWatchResponse });
    proto.watch = fast;
    if (proto.Watch === method) proto.Watch = fast;
    proto[INSTALLED] = true;
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
