/**
 * The leases EtcdRegistry keeps: engine leadership (EtcdLeadership: lost is lost, the engine
 * campaigns again) and machine presence (KeptLease: re-granted and re-attached when etcd loses
 * it), and how etcd errors surface (RegistryUnavailableError with the cause attached).
 */
import type { Etcd3, Lease } from 'etcd3';
import { LossSignal } from '../../../registry/src/common';
import { MachineExistsError, RegistryLimitError, RegistryUnavailableError, type Disposable, type Leadership } from '../../../registry/src/registry';

export type RegistryLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export class EtcdLeadership implements Leadership {
  private readonly loss = new LossSignal();

  constructor(readonly machineId: string, readonly lease: Lease, private readonly onGone: () => void) {
    lease.on('lost', () => this.markLost());
  }

  get held(): boolean {
    return !this.loss.lost;
  }

  onLost(listener: () => void): Disposable {
    return this.loss.onLost(listener);
  }

  async release(): Promise<void> {
    if (!this.markLost()) return;
    try {
      await this.lease.revoke();
    } catch (err) {
      // etcd unreachable: the lease stops being kept alive and expires after its TTL.
      this.lease.release();
      throw mapError(err);
    }
  }

  /** Internal: the lease is gone (expired, revoked, or this registry closed). False when it already was. */
  markLost(): boolean {
    return this.loss.fire(this.onGone);
  }
}

/**
 * A lease this process keeps alive, with keys attached by `attach`. When etcd loses the lease
 * (an outage longer than the TTL), a new one is granted and `attach` runs again, retrying with
 * backoff until it succeeds or the lease is disposed.
 */
export class KeptLease {
  private lease: Lease | undefined;
  private currentId: string | undefined;
  private disposed = false;
  private recovering = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttl: number,
    private readonly attach: (leaseId: string) => Promise<boolean>,
    private readonly log: RegistryLog,
    private readonly what: string,
  ) {}

  get leaseId(): string | undefined {
    return this.currentId;
  }

  /** Grants and attaches once; false when `attach` declined (e.g. the key is held by someone else). */
  async start(): Promise<boolean> {
    const lease = this.client.lease(this.ttl);
    this.lease = lease;
    lease.on('lost', err => this.onLost(lease, err));
    const id = await lease.grant();
    if (!(await this.attach(id))) return false;
    this.currentId = id;
    return true;
  }

  /**
   * The lease's keys are gone although etcd3 has not reported the lease lost (yet): treat it as
   * lost now. The old lease is revoked (its remaining keys are written again on the new one).
   */
  renewNow(why: string): void {
    const lease = this.lease;
    if (!lease || this.currentId === undefined) return;
    this.onLost(lease, new Error(why));
    void lease.revoke().catch(() => lease.release());
  }

  private onLost(lease: Lease, err: unknown): void {
    if (this.disposed || lease !== this.lease || this.recovering) return;
    this.currentId = undefined;
    this.recovering = true;
    this.log('warn', `etcd lost the lease for the ${this.what} (${describe(err)}); re-granting`);
    void this.recover().finally(() => (this.recovering = false));
  }

  private async recover(): Promise<void> {
    // The first attempt at once: every moment without the lease is a moment the machine is absent.
    for (let delay = 0; !this.disposed; delay = Math.min(Math.max(delay * 2, 250), 2_000)) {
      if (delay > 0) await new Promise(r => setTimeout(r, delay).unref());
      if (this.disposed) return;
      const lease = this.client.lease(this.ttl);
      lease.on('lost', err => this.onLost(lease, err));
      try {
        const id = await lease.grant();
        if (this.disposed) {
          await lease.revoke();
          return;
        }
        if (await this.attach(id)) {
          if (this.disposed) {
            // Released while we were re-publishing: take the key away again with its lease.
            await lease.revoke().catch(() => lease.release());
            return;
          }
          this.lease = lease;
          this.currentId = id;
          this.log('info', `re-published the ${this.what}`);
          return;
        }
        await lease.revoke();
      } catch (err2) {
        lease.release();
        this.log('debug', `re-granting the lease for the ${this.what} failed: ${describe(err2)}`);
      }
    }
  }

  /** Stops keeping the lease alive; `revoke` also deletes its keys now. */
  async dispose(revoke: boolean): Promise<void> {
    this.disposed = true;
    const lease = this.lease;
    this.lease = undefined;
    this.currentId = undefined;
    if (!lease) return;
    if (!revoke) {
      lease.release();
      return;
    }
    try {
      await lease.revoke();
    } catch (err) {
      lease.release();
      throw mapError(err);
    }
  }
}

/** etcd leases are whole seconds. */
export function ttlSeconds(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs / 1000));
}

export function mapError(err: unknown): Error {
  if (err instanceof RegistryUnavailableError || err instanceof MachineExistsError || err instanceof RegistryLimitError) return err;
  const text = err instanceof Error ? err.message : String(err);
  // etcd refuses a request over --max-request-bytes itself ("request is too large") or, past its
  // gRPC limit (that plus 512 KiB), in gRPC ("received message larger than max").
  if (/request is too large|received message larger than max/i.test(text)) {
    return new RegistryLimitError('size', 'too large for etcd: it takes at most --max-request-bytes (1.5 MiB by default) per request, and a unit ' +
      `is written in one request with its options several times; make the unit smaller (etcd said: ${text})`);
  }
  if (/too many operations in txn request/i.test(text)) {
    return new RegistryLimitError('operations', `too many operations for one etcd transaction (--max-txn-ops, 128 by default): ${text}`);
  }
  const unavailable = new RegistryUnavailableError();
  (unavailable as Error & { cause?: unknown }).cause = err;
  return unavailable;
}

/** An error and its causes, as one line. */
export function describe(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const text = err instanceof Error ? err.message : String(err);
  return cause ? `${text}: ${describe(cause)}` : text;
}
