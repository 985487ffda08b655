/**
 * Units on fleet's etcd v2 keyspace (Etcd2Registry's units resource): `unit/<sha1>` = {"Raw"}
 * (content-addressed, create-only), `job/<name>/object` = {"Name","UnitHash"} and
 * `job/<name>/target-state`, written one after the other in fleet's order (etcd v2 has no
 * transactions); and the reads of the `job/` keys, with each unit's content from the blob cache
 * (fetched when missing), as fleet reads them.
 */
import { serializeOptions, sha1Hex, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import { groupBySection, inParallel } from '../common';
import type { UnitRecord } from '../registry';
import { CONCURRENCY, type Etcd2Access } from './access';
import { EtcdCode } from './client';
import { isCode } from './leases';
import { decodeJobs, encodeJobObject, encodeUnitBlob, leaves, type JobEntry } from './layout';
import type { BlobCache } from './mirror';

export class Etcd2Units {
  constructor(
    private readonly etcd: Etcd2Access,
    private readonly blobs: BlobCache,
  ) {}

  async getUnit(name: string): Promise<UnitRecord | undefined> {
    const res = await this.etcd.client.get(this.etcd.keys.job(name).slice(0, -1), { recursive: true });
    const [job] = decodeJobs(this.etcd.keys, leaves(res?.node));
    return job ? (await this.records([job]))[0] : undefined;
  }

  async listUnits(): Promise<UnitRecord[]> {
    return this.records(await this.readJobs());
  }

  /** fleet's storeOrGetUnitFile: the unit's blob, content-addressed (an existing one is the same); its hash. */
  private async storeBlob(unitOptions: UnitOption[]): Promise<string> {
    const raw = serializeOptions(groupBySection(unitOptions));
    const hash = sha1Hex(raw);
    try {
      await this.etcd.client.set(this.etcd.keys.unitBlob(hash), encodeUnitBlob(raw), { prevExist: false });
    } catch (err) {
      if (!isCode(err, EtcdCode.NodeExist)) throw err;
    }
    return hash;
  }

  async putUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<void> {
    const hash = await this.storeBlob(unit.options);
    await this.etcd.client.set(this.etcd.keys.jobObject(unit.name), encodeJobObject(unit.name, hash));
    await this.etcd.client.set(this.etcd.keys.targetState(unit.name), unit.desiredState);
  }

  /** etcd v2 has no transactions: the blob, then the object create-only (fleet's order), then the target state. */
  async createUnit(unit: { name: string; options: UnitOption[]; desiredState: JobState }): Promise<boolean> {
    const hash = await this.storeBlob(unit.options);
    try {
      await this.etcd.client.set(this.etcd.keys.jobObject(unit.name), encodeJobObject(unit.name, hash), { prevExist: false });
    } catch (err) {
      if (isCode(err, EtcdCode.NodeExist)) return false;
      throw err;
    }
    await this.etcd.client.set(this.etcd.keys.targetState(unit.name), unit.desiredState);
    return true;
  }

  async setDesiredState(name: string, state: JobState): Promise<boolean> {
    if (!(await this.etcd.client.get(this.etcd.keys.jobObject(name)))) return false;
    await this.etcd.client.set(this.etcd.keys.targetState(name), state);
    return true;
  }

  async deleteUnit(name: string): Promise<boolean> {
    if (!(await this.etcd.client.get(this.etcd.keys.jobObject(name)))) return false;
    try {
      await this.etcd.client.delete(this.etcd.keys.job(name).slice(0, -1), { recursive: true });
      return true;
    } catch (err) {
      if (isCode(err, EtcdCode.KeyNotFound)) return false;
      throw err;
    }
  }

  async readJobs(): Promise<JobEntry[]> {
    const res = await this.etcd.client.get(this.etcd.keys.jobs.slice(0, -1), { recursive: true, sorted: true });
    return decodeJobs(this.etcd.keys, leaves(res?.node));
  }

  /** Job entries → unit records, with their content from the blob cache (fetching what it lacks). */
  async records(jobs: readonly JobEntry[]): Promise<UnitRecord[]> {
    const missing = [...new Set(jobs.map(j => j.hash).filter(h => !this.blobs.get(h)))];
    if (missing.length > 0) await this.fetchBlobs(missing);
    const out: UnitRecord[] = [];
    for (const j of jobs) {
      const content = this.blobs.get(j.hash);
      // fleet skips a job whose content it cannot read (and logs it).
      if (!content) {
        this.etcd.log('warn', `unit ${j.name}: its content ${this.etcd.keys.unitBlob(j.hash)} is missing or unreadable; skipped`);
        continue;
      }
      out.push({ name: j.name, options: content.options.map(o => ({ ...o })), hash: j.hash, desiredState: j.desiredState ?? 'inactive' });
    }
    return out;
  }

  async fetchBlobs(hashes: readonly string[]): Promise<void> {
    if (hashes.length > 8) {
      const res = await this.etcd.client.get(this.etcd.keys.unitBlobs.slice(0, -1), { recursive: true, quorum: true });
      for (const [key, value] of leaves(res?.node)) {
        const k = this.etcd.keys.parse(key);
        if (k.kind === 'unitBlob') this.blobs.setFromValue(k.hash, value);
      }
      return;
    }
    await inParallel(hashes, CONCURRENCY, async hash => {
      const res = await this.etcd.client.get(this.etcd.keys.unitBlob(hash));
      if (res?.node.value !== undefined) this.blobs.setFromValue(hash, res.node.value);
    });
  }
}
