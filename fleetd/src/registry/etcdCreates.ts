/**
 * New units on etcd v3, written together (group commit): createUnit calls that arrive while
 * earlier ones are in flight go out as one transaction — every job object compared absent, then
 * each unit's content blob, job object and target state — so clients submitting at once cost
 * etcd, and every process watching it, one revision per round trip instead of one per unit.
 * When one of them exists already, each unit of that batch is decided alone (a transaction of its
 * own, as a lone createUnit is), so every caller gets the answer it would have got alone.
 */
import { serializeOptions, unitHash, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import { MAX_BATCH_OPS } from '../../../registry/src/registry';
import { groupBySection } from '../../../registry/src/common';
import type { EtcdAccess } from './etcdAccess';
import { encodeJobObject, encodeUnitBlob } from './keys';

/** Transactions of new units in flight at once; later calls wait and go out together. */
const MAX_IN_FLIGHT = 2;
/** Units per transaction: a compare and up to three puts each, within etcd's --max-txn-ops. */
const MAX_UNITS = Math.floor(MAX_BATCH_OPS / 3);

interface Creation {
  name: string;
  blobKey: string;
  blob: string;
  objectKey: string;
  object: string;
  targetStateKey: string;
  desiredState: JobState;
  /** What the unit adds to a request, roughly (keys and values). */
  bytes: number;
  settle: { resolve(created: boolean): void; reject(err: unknown): void };
}

export class UnitCreations {
  private readonly queue: Creation[] = [];
  private inFlight = 0;
  /** Names in the transactions in flight: a later call for one of them waits for its answer (first come, first served). */
  private readonly busy = new Set<string>();
  private flushQueued = false;

  /** `maxRequestBytes`: etcd's limit per request; a batch stays under half of it. */
  constructor(
    private readonly etcd: EtcdAccess,
    private readonly maxRequestBytes: number,
  ) {}

  /** True when the unit was created, false (nothing written) when a unit of that name exists. */
  create(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    const { keys } = this.etcd;
    const options = groupBySection(unit.options);
    const hash = unitHash(options);
    const blob = encodeUnitBlob(serializeOptions(options));
    const object = encodeJobObject(unit.name, hash, options);
    const objectKey = keys.jobObject(unit.name);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({
        name: unit.name,
        blobKey: keys.unitBlob(hash),
        blob,
        objectKey,
        object,
        targetStateKey: keys.targetState(unit.name),
        desiredState: unit.desiredState,
        bytes: Buffer.byteLength(blob) + Buffer.byteLength(object) + 4 * Buffer.byteLength(objectKey) + 64,
        settle: { resolve, reject },
      });
      this.kick();
    });
  }

  /** Sends what waits on the next turn (so the calls of one turn share it), within MAX_IN_FLIGHT. */
  private kick(): void {
    if (this.flushQueued || this.inFlight >= MAX_IN_FLIGHT || this.queue.length === 0) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
        const batch = this.take();
        if (batch.length === 0) break;
        this.inFlight++;
        for (const c of batch) this.busy.add(c.name);
        void this.commit(batch).finally(() => {
          for (const c of batch) this.busy.delete(c.name);
          this.inFlight--;
          this.kick();
        });
      }
    });
  }

  /** The next batch, in arrival order: distinct names not in flight (a second call for a name waits for the first's answer), within the limits. */
  private take(): Creation[] {
    const batch: Creation[] = [];
    const names = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < this.queue.length && batch.length < MAX_UNITS;) {
      const c = this.queue[i]!;
      if (names.has(c.name) || this.busy.has(c.name) || (batch.length > 0 && bytes + c.bytes > this.maxRequestBytes / 2)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      batch.push(c);
      names.add(c.name);
      bytes += c.bytes;
    }
    return batch;
  }

  private async commit(batch: readonly Creation[]): Promise<void> {
    if (batch.length > 1) {
      try {
        if (await this.write(batch)) {
          for (const c of batch) c.settle.resolve(true);
          return;
        }
      } catch {
        // Decided alone below, each with its own answer or error.
      }
    }
    await Promise.all(
      batch.map(async c => {
        try {
          c.settle.resolve(await this.write([c]));
        } catch (err) {
          c.settle.reject(err);
        }
      }),
    );
  }

  /** One transaction: if no unit of the batch exists, all of them (a blob shared by several units is written once). */
  private async write(batch: readonly Creation[]): Promise<boolean> {
    const { client } = this.etcd;
    const blobs = new Map(batch.map(c => [c.blobKey, c.blob]));
    const res = await this.etcd.call(() => {
      const txn = client.if(batch[0]!.objectKey, 'Create', '==', 0);
      for (const c of batch.slice(1)) txn.and(c.objectKey, 'Create', '==', 0);
      return txn
        .then(
          ...[...blobs].map(([key, blob]) => client.put(key).value(blob)),
          ...batch.flatMap(c => [client.put(c.objectKey).value(c.object), client.put(c.targetStateKey).value(c.desiredState)]),
        )
        .commit();
    });
    return res.succeeded;
  }
}
