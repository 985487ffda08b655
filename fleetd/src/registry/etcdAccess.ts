/**
 * What every part of EtcdRegistry calls etcd through: the client and the key layout, one call
 * with etcd's errors mapped (mapError: RegistryUnavailableError with the cause attached, or
 * RegistryLimitError; RegistryUnavailableError once closed), reads of one or several prefixes
 * (several in one transaction: one revision).
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import { MachineExistsError, RegistryLimitError, RegistryUnavailableError } from '../../../registry/src/registry';
import { errorMessage, type Log } from '../../../protocol/src/log';
import type { Keys, Kv } from './keys';

/** fleetd's log function, as the registry parts call it. */
export type RegistryLog = Log;

export class EtcdAccess {
  closed = false;

  constructor(
    readonly client: Etcd3,
    readonly keys: Keys,
    readonly log: RegistryLog,
  ) {}

  async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryUnavailableError();
    try {
      return await fn();
    } catch (err) {
      throw mapError(err);
    }
  }

  /** Several prefixes read in one transaction (one revision). */
  async ranges(prefixes: readonly string[]): Promise<Kv[]> {
    const res = await this.call(() =>
      this.client
        .if(this.keys.prefix, 'Version', '>', -1)
        .then(...prefixes.map(p => this.client.getAll().prefix(p)))
        .commit(),
    );
    return res.responses.flatMap(r => r.response_range?.kvs ?? []).map(toKv);
  }

  async range(prefix: string): Promise<Kv[]> {
    const res = await this.call(() => this.client.getAll().prefix(prefix).exec());
    return res.kvs.map(toKv);
  }
}

export function toKv(kv: IKeyValue): Kv {
  return { key: kv.key.toString(), value: kv.value.toString() };
}

export function mapError(err: unknown): Error {
  if (err instanceof RegistryUnavailableError || err instanceof MachineExistsError || err instanceof RegistryLimitError) return err;
  const text = errorMessage(err);
  // etcd refuses a request over --max-request-bytes itself ("request is too large") or, past its
  // gRPC limit (that plus 512 KiB), in gRPC ("received message larger than max").
  if (/request is too large|received message larger than max/i.test(text)) {
    return new RegistryLimitError(
      'size',
      'too large for etcd: it takes at most --max-request-bytes (1.5 MiB by default) per request, and a unit ' +
        `is written in one request with its options several times; make the unit smaller (etcd said: ${text})`,
    );
  }
  if (/too many operations in txn request/i.test(text)) {
    return new RegistryLimitError('operations', `too many operations for one etcd transaction (--max-txn-ops, 128 by default): ${text}`);
  }
  const unavailable = new RegistryUnavailableError();
  (unavailable as Error & { cause?: unknown }).cause = err;
  return unavailable;
}
