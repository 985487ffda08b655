/**
 * What an agent publishes on fleet's etcd v2 keyspace: unit states (`states/<name>/<machine>` and
 * fleet's legacy `state/<name>`) and launched heartbeats (`job/<name>/job-state`), TTL keys with
 * the agent TTL. etcd v2 has no leases: they are renewed by rewriting them, and a rewrite of an
 * unchanged value this process wrote is sent as `refresh=true` with the value as prevValue, which
 * renews the TTL without a watch event.
 */
import { inParallel } from '../common';
import type { UnitStateRecord } from '../registry';
import { CONCURRENCY, ignoreMissing, type Etcd2Access } from './access';
import { EtcdCode } from './client';
import { isCode, ttlSeconds } from './leases';
import { decodeStates, encodeUnitState, leaves } from './layout';

export class Etcd2States {
  /** TTL keys this process wrote, with the value: an unchanged rewrite is a refresh. */
  private readonly written = new Map<string, string>();

  constructor(private readonly etcd: Etcd2Access) {}

  private async saveUnitState(state: UnitStateRecord, ttlMs: number): Promise<void> {
    const value = encodeUnitState(state);
    await this.setTtl(this.etcd.keys.state(state.name, state.machineId), value, ttlMs);
    await this.setTtl(this.etcd.keys.legacyState(state.name), value, ttlMs);
  }

  async publishUnits(machineId: string, batch: { states: readonly UnitStateRecord[]; launched: readonly string[] }, ttlMs: number): Promise<void> {
    for (const s of batch.states) {
      if (s.machineId !== machineId) throw new Error(`publishUnits: the state of ${s.name} belongs to machine ${s.machineId}, not ${machineId}`);
    }
    // A unit's state before its heartbeat: fleetctl start reads the state as soon as it sees `launched`.
    await inParallel(batch.states, CONCURRENCY, s => this.saveUnitState(s, ttlMs));
    await inParallel(batch.launched, CONCURRENCY, name => this.setLaunched(name, machineId, ttlMs));
  }

  /** Only this machine's state; fleet deletes `states/<name>` whole, wiping the other machines' states of a global unit. */
  async removeUnitState(name: string, machineId: string): Promise<void> {
    const key = this.etcd.keys.state(name, machineId);
    const legacy = this.etcd.keys.legacyState(name);
    const mine = this.written.get(legacy);
    this.written.delete(key);
    this.written.delete(legacy);
    await ignoreMissing(this.etcd.client.delete(key));
    // The unit's states directory goes once no machine has a state in it (fleet deletes it whole).
    await ignoreMissing(this.etcd.client.delete(this.etcd.keys.states + name, { dir: true }), EtcdCode.DirNotEmpty, EtcdCode.NotFile);
    if (mine !== undefined) await ignoreMissing(this.etcd.client.delete(legacy, { prevValue: mine }), EtcdCode.CompareFailed);
  }

  async listUnitStates(): Promise<UnitStateRecord[]> {
    const res = await this.etcd.client.get(this.etcd.keys.states.slice(0, -1), { recursive: true });
    return decodeStates(this.etcd.keys, leaves(res?.node));
  }

  private async setLaunched(name: string, machineId: string, ttlMs: number): Promise<void> {
    await this.setTtl(this.etcd.keys.jobState(name), machineId, ttlMs);
  }

  async clearLaunched(name: string, machineId: string): Promise<void> {
    const key = this.etcd.keys.jobState(name);
    this.written.delete(key);
    try {
      await this.etcd.client.delete(key, { prevValue: machineId });
    } catch (err) {
      if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
    }
  }

  /** A TTL key; an unchanged value this process wrote is renewed without a watch event. */
  private async setTtl(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = ttlSeconds(ttlMs);
    if (this.written.get(key) === value) {
      try {
        await this.etcd.client.set(key, '', { refresh: true, prevValue: value, ttlSeconds: ttl });
        return;
      } catch (err) {
        // Expired, or another writer's value now: write it again.
        if (!isCode(err, EtcdCode.KeyNotFound, EtcdCode.CompareFailed)) throw err;
      }
    }
    this.written.set(key, value);
    try {
      await this.etcd.client.set(key, value, { ttlSeconds: ttl });
    } catch (err) {
      this.written.delete(key);
      throw err;
    }
  }
}
