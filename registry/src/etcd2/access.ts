/**
 * What every part of Etcd2Registry calls etcd through: the v2 client, the key layout and the log;
 * how many writes of one batch are in flight at once (etcd v2 has no transactions: a batch is its
 * writes sent concurrently); and a write whose key may already be gone.
 */
import type { Log } from '../../../protocol/src/log';
import type { Keys } from '../keyspace';
import { EtcdCode, type EtcdV2Client } from './client';
import { isCode } from './leases';

/** Writes of one batch in flight at once. */
export const CONCURRENCY = 32;

export class Etcd2Access {
  constructor(
    readonly client: EtcdV2Client,
    readonly keys: Keys,
    readonly log: Log,
  ) {}
}

/** Waits for a write, ignoring KeyNotFound (and the codes in `more`): the key was already gone. */
export async function ignoreMissing(p: Promise<unknown>, ...more: number[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isCode(err, EtcdCode.KeyNotFound, ...more)) throw err;
  }
}
