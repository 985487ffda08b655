/**
 * The leases EtcdRegistry keeps and their bookkeeping: engine leadership (EngineLease and its
 * EtcdLeadership handle: lost is lost, the engine campaigns again) and machine presence
 * (PresenceLeases over a KeptLease per machine: re-granted and re-attached when etcd loses it,
 * with the states and heartbeats written on it), and shared short-lived leases for other writers.
 */
import type { Etcd3, Lease } from 'etcd3';
import { inParallel, LossSignal } from '../../../registry/src/common';
import {
  MAX_BATCH_OPS,
  MachineExistsError,
  RegistryUnavailableError,
  type Disposable,
  type Leadership,
  type MachinePresence,
  type MachineRecord,
} from '../../../registry/src/registry';
import { describeError } from '../../../protocol/src/log';
import { mapError, type EtcdAccess, type RegistryLog } from './etcdAccess';
import { decodeLeader, encodeLeader, encodeMachine } from './keys';

export class EtcdLeadership implements Leadership {
  private readonly loss = new LossSignal();

  constructor(
    readonly machineId: string,
    readonly lease: Lease,
    private readonly onGone: () => void,
  ) {
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
    this.log('warn', `etcd lost the lease for the ${this.what} (${describeError(err)}); re-granting`);
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
        this.log('debug', `re-granting the lease for the ${this.what} failed: ${describeError(err2)}`);
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

/**
 * The presence leases of the machines registered through one EtcdRegistry and what is written on
 * them: a KeptLease per machine, the states and heartbeats written on it (put back on a re-granted
 * lease, since agents rewrite them only on change), and short-lived shared leases for writers
 * whose machine did not register here.
 */
export class PresenceLeases {
  /** Presence leases of the machines registered through this registry, by machine ID. */
  private readonly presence = new Map<string, KeptLease>();
  /**
   * What this process wrote on each presence lease (key → value). When etcd loses the lease (an
   * outage longer than its TTL) those keys go with it; they are written again on the new lease,
   * since agents that rely on ephemeralFollowsPresence only rewrite them on change.
   */
  private readonly onPresence = new Map<string, Map<string, string>>();
  private readonly ephemeral = new Map<number, { id: string; grantedAt: number }>();
  private readonly kept = new Set<KeptLease>();

  constructor(private readonly etcd: EtcdAccess) {}

  /** Create-only presence with a TTL (AgentRegistry.registerMachine). */
  async register(machine: MachineRecord, ttlMs: number): Promise<MachinePresence> {
    let current = { ...machine, metadata: { ...machine.metadata } };
    const key = this.etcd.keys.machineObject(machine.id);
    let published = false;
    const publish = async (leaseId: string): Promise<boolean> => {
      const res = await this.etcd.call(() =>
        this.etcd.client
          .if(key, 'Create', '==', 0)
          .then(this.etcd.client.put(key).value(encodeMachine(current)).lease(leaseId))
          .commit(),
      );
      if (!res.succeeded) return false;
      // A re-grant after a lost lease: put back the states and heartbeats that went with it.
      if (published) await this.republishOnPresence(machine.id, leaseId);
      published = true;
      return true;
    };
    const kept = new KeptLease(this.etcd.client, ttlSeconds(ttlMs), publish, this.etcd.log, `presence of machine ${machine.id}`);
    this.kept.add(kept);
    try {
      if (!(await kept.start())) throw new MachineExistsError(machine.id);
      this.presence.set(machine.id, kept);
    } catch (err) {
      this.kept.delete(kept);
      // Revoke the lease if it was granted; a failure here must not hide the first error.
      await kept.dispose(true).catch(cleanup => this.etcd.log('debug', `revoking the lease of machine ${machine.id} failed: ${describeError(cleanup)}`));
      throw mapError(err);
    }
    return {
      update: async next => {
        current = { ...next, id: machine.id, metadata: { ...next.metadata } };
        const leaseId = kept.leaseId;
        if (leaseId === undefined) return; // being re-granted; the re-publish uses `current`
        await this.etcd.call(() => this.etcd.client.put(key).value(encodeMachine(current)).lease(leaseId).exec());
      },
      release: async () => {
        if (this.presence.get(machine.id) === kept) {
          this.presence.delete(machine.id);
          this.onPresence.delete(machine.id);
        }
        this.kept.delete(kept);
        await kept.dispose(true);
      },
    };
  }

  /**
   * One machine's state and heartbeat writes (key, value), in order: on its presence lease when it
   * registered here, in transactions of up to MAX_BATCH_OPS; else each on a shared lease for `ttlMs`.
   */
  async publish(machineId: string, writes: readonly [string, string][], ttlMs: number): Promise<void> {
    const presence = this.presence.get(machineId);
    if (presence) {
      // On the presence lease only: a short-lived lease would let the keys expire while the
      // agent believes them published (that is what emptied the state table under load).
      const leaseId = presence.leaseId;
      if (leaseId === undefined)
        throw new RegistryUnavailableError(`the presence of machine ${machineId} is being re-granted; publishing again once it is back`);
      for (let i = 0; i < writes.length; i += MAX_BATCH_OPS) {
        const chunk = writes.slice(i, i + MAX_BATCH_OPS);
        await this.etcd.call(() =>
          this.etcd.client
            .if(this.etcd.keys.prefix, 'Version', '>', -1)
            .then(...chunk.map(([k, v]) => this.etcd.client.put(k).value(v).lease(leaseId)))
            .commit(),
        );
        let written = this.onPresence.get(machineId);
        if (!written) this.onPresence.set(machineId, (written = new Map()));
        for (const [k, v] of chunk) written.set(k, v);
      }
      return;
    }
    await inParallel(writes, 8, ([k, v]) => this.putEphemeral(k, v, ttlMs, machineId));
  }

  /** The caller deletes `key`: it is not put back on a re-granted lease. */
  forget(machineId: string, key: string): void {
    this.onPresence.get(machineId)?.delete(key);
  }

  /** The machine's key went away while this process holds its presence: re-grant now. */
  renewNow(machineId: string, why: string): void {
    this.presence.get(machineId)?.renewNow(why);
  }

  /** Stops keeping every lease alive (no revoke: they expire after their TTL). */
  async close(): Promise<void> {
    for (const k of this.kept) await k.dispose(false);
    this.kept.clear();
  }

  /**
   * Writes again, on a re-granted presence lease, the states and heartbeats the lost lease took
   * with it. A heartbeat is only restored while its unit still exists.
   */
  private async republishOnPresence(machineId: string, leaseId: string): Promise<void> {
    const written = this.onPresence.get(machineId);
    if (!written || written.size === 0) return;
    const states: [string, string][] = [];
    const heartbeats: [string, string, string][] = [];
    for (const [key, value] of written) {
      const k = this.etcd.keys.parse(key);
      if (k.kind === 'jobState') heartbeats.push([key, value, k.unit]);
      else states.push([key, value]);
    }
    for (let i = 0; i < states.length; i += MAX_BATCH_OPS) {
      const chunk = states.slice(i, i + MAX_BATCH_OPS);
      await this.etcd.call(() =>
        this.etcd.client
          .if(this.etcd.keys.prefix, 'Version', '>', -1)
          .then(...chunk.map(([k, v]) => this.etcd.client.put(k).value(v).lease(leaseId)))
          .commit(),
      );
    }
    // A heartbeat is only restored while its unit still exists: a batch of them when every unit
    // does, else one by one.
    for (let i = 0; i < heartbeats.length; i += MAX_BATCH_OPS) {
      const chunk = heartbeats.slice(i, i + MAX_BATCH_OPS);
      const res = await this.etcd.call(() => {
        const txn = this.etcd.client.if(this.etcd.keys.jobObject(chunk[0]![2]), 'Create', '>', 0);
        for (const [, , unit] of chunk.slice(1)) txn.and(this.etcd.keys.jobObject(unit), 'Create', '>', 0);
        return txn.then(...chunk.map(([k, v]) => this.etcd.client.put(k).value(v).lease(leaseId))).commit();
      });
      if (res.succeeded) continue;
      for (const [key, value, unit] of chunk) {
        const one = await this.etcd.call(() =>
          this.etcd.client.if(this.etcd.keys.jobObject(unit), 'Create', '>', 0).then(this.etcd.client.put(key).value(value).lease(leaseId)).commit(),
        );
        if (!one.succeeded) written.delete(key);
      }
    }
    this.etcd.log('info', `re-published ${written.size} unit state(s) and heartbeat(s) of machine ${machineId}`);
  }

  /**
   * A put on the machine's presence lease when it registered here, else on a shared short-lived
   * lease for this TTL; a lease etcd forgot is re-granted once.
   */
  private async putEphemeral(key: string, value: string, ttlMs: number, machineId: string): Promise<void> {
    const presence = this.presence.get(machineId);
    if (presence) {
      // Never on a short-lived lease instead: the key would expire while the agent, which writes
      // it again only on change, believes it published. A failure is the caller's to retry.
      const presenceLease = presence.leaseId;
      if (presenceLease === undefined)
        throw new RegistryUnavailableError(`the presence of machine ${machineId} is being re-granted; publishing again once it is back`);
      await this.etcd.call(() => this.etcd.client.put(key).value(value).lease(presenceLease).exec());
      let written = this.onPresence.get(machineId);
      if (!written) this.onPresence.set(machineId, (written = new Map()));
      written.set(key, value);
      return;
    }
    const ttl = ttlSeconds(ttlMs);
    for (let attempt = 0; ; attempt++) {
      const leaseId = await this.ephemeralLease(ttl);
      try {
        await this.etcd.call(() => this.etcd.client.put(key).value(value).lease(leaseId).exec());
        return;
      } catch (err) {
        this.ephemeral.delete(ttl);
        if (attempt >= 1) throw err;
      }
    }
  }

  private async ephemeralLease(ttl: number): Promise<string> {
    const cached = this.ephemeral.get(ttl);
    // Keys written on one lease expire together: reuse it only within a tenth of the TTL.
    if (cached && Date.now() - cached.grantedAt < Math.max(200, ttl * 100)) return cached.id;
    const lease = this.etcd.client.lease(ttl, { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    const id = await this.etcd.call(() => lease.grant());
    this.ephemeral.set(ttl, { id, grantedAt: Date.now() });
    return id;
  }
}

/** The engine lease as one EtcdRegistry holds it: one handle per holder, renewed when asked again. */
export class EngineLease {
  private leadership: EtcdLeadership | undefined;

  constructor(private readonly etcd: EtcdAccess) {}

  async tryAcquire(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    const mine = this.leadership;
    if (mine && mine.held && mine.machineId === machineId) {
      // The holder asks again: a renewal.
      await this.etcd.call(() => mine.lease.keepaliveOnce());
      return mine;
    }
    const key = this.etcd.keys.engineLeader;
    // A follower asks every interval: one read while someone holds the lease, instead of a lease
    // grant and revoke (two raft writes) per follower per interval.
    if ((await this.etcd.call(() => this.etcd.client.get(key).string())) !== null) return undefined;
    const lease = this.etcd.client.lease(ttlSeconds(ttlMs));
    lease.on('lost', () => undefined);
    try {
      const leaseId = await this.etcd.call(() => lease.grant());
      const res = await this.etcd.call(() =>
        this.etcd.client
          .if(key, 'Create', '==', 0)
          .then(this.etcd.client.put(key).value(encodeLeader(machineId)).lease(leaseId))
          .commit(),
      );
      if (!res.succeeded) {
        await lease.revoke().catch(err => this.etcd.log('debug', `revoking an unused lease failed: ${describeError(err)}`));
        return undefined;
      }
    } catch (err) {
      lease.release();
      throw err;
    }
    const handle = new EtcdLeadership(machineId, lease, () => {
      if (this.leadership === handle) this.leadership = undefined;
    });
    this.leadership = handle;
    return handle;
  }

  /** Who holds the engine lease (for diagnostics and tests). */
  async leader(): Promise<string | undefined> {
    const value = await this.etcd.call(() => this.etcd.client.get(this.etcd.keys.engineLeader).string());
    return value === null ? undefined : decodeLeader(value);
  }

  /** Gives up leadership without revoking: the lease expires after its TTL. */
  close(): void {
    const leadership = this.leadership;
    this.leadership = undefined;
    leadership?.lease.release();
    leadership?.markLost();
  }
}
