/**
 * TTL keys kept alive on etcd v2, which has no leases: machine presence (fleet's heart) and the
 * engine lease (fleet's pkg/lease), with fleet's requests (fleet-etcd-v2.md §1.3, §3.2, §3.3).
 *
 *  - Presence: `machines/<id>/object` created with prevExist=false and the agent TTL, then renewed
 *    every TTL/2. fleetd renews with `refresh=true` and the value it wrote as prevValue (no watch
 *    event, and never over another process's record); when the key expired meanwhile it is
 *    created again, as fleet's heart falls back to prevExist=false.
 *  - Engine lease: `lease/engine-leader` = {"MachineID","Version":1}, acquired with
 *    prevExist=false, renewed with prevIndex every TTL/3, released with DELETE ?prevIndex. A holder
 *    of version 0 (an older engine) is stolen from with prevIndex and TTL + its remaining time.
 */
import { LossSignal } from '../common';
import type { Keys } from '../keyspace';
import { MachineExistsError, type Disposable, type Leadership, type MachinePresence, type MachineRecord } from '../registry';
import { EtcdCode, EtcdV2Error, type EtcdV2Client } from './client';
import { encodeLeader, encodeMachine } from './layout';
import { errorMessage, type Log } from '../../../protocol/src/log';

export function ttlSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function isCode(err: unknown, ...codes: number[]): err is EtcdV2Error {
  return err instanceof EtcdV2Error && codes.includes(err.errorCode);
}

export class Presence implements MachinePresence {
  private value: string;
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  private beating: Promise<void> | undefined;

  private constructor(
    private readonly client: EtcdV2Client,
    private readonly keys: Keys,
    private readonly id: string,
    private readonly ttlMs: number,
    value: string,
    private readonly log: Log,
  ) {
    this.value = value;
  }

  static async register(client: EtcdV2Client, keys: Keys, machine: MachineRecord, ttlMs: number, log: Log): Promise<Presence> {
    const value = encodeMachine(machine);
    try {
      await client.set(keys.machineObject(machine.id), value, { prevExist: false, ttlSeconds: ttlSeconds(ttlMs) });
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) throw new MachineExistsError(machine.id);
      throw err;
    }
    const p = new Presence(client, keys, machine.id, ttlMs, value, log);
    p.schedule(ttlMs / 2);
    return p;
  }

  async update(machine: MachineRecord): Promise<void> {
    const value = encodeMachine({ ...machine, id: this.id });
    const key = this.keys.machineObject(this.id);
    try {
      await this.client.set(key, value, { prevExist: true, ttlSeconds: ttlSeconds(this.ttlMs) });
    } catch (err) {
      if (!isCode(err, EtcdCode.KeyNotFound)) throw err;
      await this.create(value);
    }
    this.value = value;
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.timer);
    await this.beating?.catch(() => undefined);
    try {
      await this.client.delete(this.keys.machineObject(this.id), { prevValue: this.value });
    } catch (err) {
      if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
    }
  }

  /** Stops renewing without deleting (the process "dies": the key expires after its TTL). */
  abandon(): void {
    this.released = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.released) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat().finally(() => (this.beating = undefined));
    }, ms);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const key = this.keys.machineObject(this.id);
    try {
      await this.client.set(key, '', { refresh: true, prevValue: this.value, ttlSeconds: ttlSeconds(this.ttlMs) });
      this.schedule(this.ttlMs / 2);
    } catch (err) {
      if (this.released) return;
      if (isCode(err, EtcdCode.KeyNotFound)) {
        try {
          await this.create(this.value);
          this.log('warn', `machine ${this.id}: presence had expired in etcd; registered again`);
          this.schedule(this.ttlMs / 2);
        } catch (again) {
          this.log('error', `machine ${this.id}: presence lost and cannot be re-created: ${errorMessage(again)}`);
          this.schedule(this.ttlMs / 12);
        }
        return;
      }
      if (isCode(err, EtcdCode.CompareFailed)) {
        this.log('error', `machine ${this.id}: another process rewrote its presence record; keeping it alive as ours`);
        try {
          await this.client.set(key, this.value, { prevExist: true, ttlSeconds: ttlSeconds(this.ttlMs) });
        } catch {
          // retried on the next beat
        }
        this.schedule(this.ttlMs / 2);
        return;
      }
      // fleet's monitor retries a failed beat every TTL/12.
      this.log('warn', `machine ${this.id}: presence heartbeat failed (${errorMessage(err)}); retrying`);
      this.schedule(this.ttlMs / 12);
    }
  }

  private async create(value: string): Promise<void> {
    try {
      await this.client.set(this.keys.machineObject(this.id), value, { prevExist: false, ttlSeconds: ttlSeconds(this.ttlMs) });
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) throw new MachineExistsError(this.id);
      throw err;
    }
  }
}

export class EngineLease implements Leadership {
  private readonly loss = new LossSignal();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private expiresAt: number;
  private abandoned = false;

  constructor(
    private readonly client: EtcdV2Client,
    private readonly keys: Keys,
    readonly machineId: string,
    private index: number,
    private ttlMs: number,
    private readonly log: Log,
  ) {
    this.expiresAt = Date.now() + ttlMs;
    this.schedule();
  }

  get held(): boolean {
    return !this.loss.lost && Date.now() < this.expiresAt;
  }

  onLost(listener: () => void): Disposable {
    return this.loss.onLost(listener);
  }

  /** Renews now (the holder asked again); false when the lease is gone. */
  async renew(ttlMs: number): Promise<boolean> {
    this.ttlMs = ttlMs;
    await this.renewing?.catch(() => undefined);
    if (!this.held) {
      this.lose();
      return false;
    }
    await this.renewOnce();
    return this.held;
  }

  async release(): Promise<void> {
    if (this.loss.lost) return;
    clearTimeout(this.timer);
    await this.renewing?.catch(() => undefined);
    const index = this.index;
    this.lose();
    try {
      await this.client.delete(this.keys.engineLeader, { prevIndex: index });
    } catch (err) {
      if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
    }
  }

  /** Stops renewing without releasing (the process "dies"): the handle is lost when the lease expires. */
  abandon(): void {
    this.abandoned = true;
    clearTimeout(this.timer);
    if (this.loss.lost) return;
    this.timer = setTimeout(() => this.lose(), Math.max(0, this.expiresAt - Date.now()));
    this.timer.unref();
  }

  private schedule(): void {
    if (this.loss.lost || this.abandoned) return;
    this.timer = setTimeout(() => {
      this.renewing = this.renewOnce().finally(() => {
        this.renewing = undefined;
        this.schedule();
      });
    }, this.ttlMs / 3);
    this.timer.unref();
  }

  private async renewOnce(): Promise<void> {
    if (this.loss.lost) return;
    const started = Date.now();
    try {
      const res = await this.client.set(this.keys.engineLeader, encodeLeader(this.machineId), { prevIndex: this.index, ttlSeconds: ttlSeconds(this.ttlMs) });
      this.index = res.node.modifiedIndex;
      this.expiresAt = started + this.ttlMs;
    } catch (err) {
      if (isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) {
        this.log('warn', `engine: leadership lost, renewal failed (${errorMessage(err)})`);
        this.lose();
      } else if (Date.now() >= this.expiresAt) {
        this.log('warn', `engine: leadership lost, etcd unreachable past the lease TTL (${errorMessage(err)})`);
        this.lose();
      }
    }
  }

  private lose(): void {
    clearTimeout(this.timer);
    this.loss.fire();
  }
}
