/**
 * fleet's engine leadership on etcd v2 (fleet-etcd-v2.md §3.3): `engine/version` first (fleet's
 * ensureEngineVersionMatch), then the engine lease `lease/engine-leader`, acquired create-only or
 * stolen from an engine older than fleet v1.0. The held lease renews itself (EngineLease, leases.ts).
 */
import type { Leadership } from '../registry';
import { ignoreMissing, type Etcd2Access } from './access';
import { EtcdCode } from './client';
import { ENGINE_VERSION, decodeLeader, encodeLeader } from './layout';
import { EngineLease, isCode, ttlSeconds } from './leases';

export class EngineLeadership {
  private lease: EngineLease | undefined;

  constructor(private readonly etcd: Etcd2Access) {}

  async tryAcquire(machineId: string, ttlMs: number): Promise<Leadership | undefined> {
    if (!(await this.engineVersionAllows())) return undefined;
    if (this.lease && this.lease.machineId === machineId) {
      if (await this.lease.renew(ttlMs)) return this.lease;
      this.lease = undefined;
    }
    const current = await this.etcd.client.get(this.etcd.keys.engineLeader);
    if (!current) {
      try {
        const res = await this.etcd.client.set(this.etcd.keys.engineLeader, encodeLeader(machineId), { prevExist: false, ttlSeconds: ttlSeconds(ttlMs) });
        return (this.lease = new EngineLease(this.etcd.client, this.etcd.keys, machineId, res.node.modifiedIndex, ttlMs, this.etcd.log));
      } catch (err) {
        if (isCode(err, EtcdCode.NodeExist)) return undefined;
        throw err;
      }
    }
    const holder = decodeLeader(current.node.value ?? '');
    if (holder.version >= ENGINE_VERSION) return undefined;
    // An engine older than fleet v1.0 (version 0): fleet steals its lease and waits out its time.
    const remainingMs = Math.max(0, (current.node.ttl ?? 0) * 1000);
    try {
      const res = await this.etcd.client.set(this.etcd.keys.engineLeader, encodeLeader(machineId), {
        prevIndex: current.node.modifiedIndex,
        ttlSeconds: ttlSeconds(ttlMs + remainingMs),
      });
      this.etcd.log(
        'info',
        `engine: stole engine leadership from Machine(${holder.machineId}); waiting ${Math.round(remainingMs / 1000)}s for its lease to expire`,
      );
      await new Promise(r => setTimeout(r, remainingMs));
      return (this.lease = new EngineLease(this.etcd.client, this.etcd.keys, machineId, res.node.modifiedIndex, ttlMs, this.etcd.log));
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist, EtcdCode.CompareFailed, EtcdCode.KeyNotFound)) return undefined;
      throw err;
    }
  }

  /** Stops renewing the lease this process holds, without releasing it (it expires after its TTL). */
  abandon(): void {
    this.lease?.abandon();
  }

  /** fleet's ensureEngineVersionMatch: create `engine/version` = 1 when absent; sit out when it is higher. */
  private async engineVersionAllows(): Promise<boolean> {
    const res = await this.etcd.client.get(this.etcd.keys.engineVersion);
    const text = res?.node.value;
    if (text === undefined) {
      try {
        await this.etcd.client.set(this.etcd.keys.engineVersion, String(ENGINE_VERSION), { prevExist: false });
      } catch (err) {
        if (!isCode(err, EtcdCode.NodeExist)) throw err;
      }
      return true;
    }
    const version = /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(version)) {
      this.etcd.log('warn', `engine: ${this.etcd.keys.engineVersion} is "${text}", not a number; not competing for leadership`);
      return false;
    }
    if (version < ENGINE_VERSION) {
      await ignoreMissing(this.etcd.client.set(this.etcd.keys.engineVersion, String(ENGINE_VERSION), { prevValue: text }), EtcdCode.CompareFailed);
      return true;
    }
    if (version > ENGINE_VERSION) {
      this.etcd.log('warn', `engine: cluster engine version ${version} is higher than this engine's (${ENGINE_VERSION}); not competing for leadership`);
      return false;
    }
    return true;
  }
}
