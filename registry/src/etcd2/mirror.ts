/**
 * The v2 registry's watch: one long poll over the whole prefix (`wait=true&recursive=true`),
 * resumed from the last event's index + 1 so that no change is missed (fleet itself re-watches
 * from "now" and relies on its periodic passes). When etcd has dropped that index from its
 * 1000-event history (401 "event in requested index is outdated and cleared") the mirror re-reads
 * the whole prefix and hints every watcher, since changes in between are unknown.
 *
 * From the events it keeps a mirror of the `job/` and `machines/` keys and of the unit blobs, which
 * serves two things: routing (which machines a change concerns: a unit's target and launcher,
 * or every machine for a global unit) and the agents' reads (`view`), which then cost etcd no
 * request. The mirror lags etcd by the watch delay; every change it reflects is followed by the
 * hints it implies, so an agent that re-reads on a hint sees it.
 */
import type { Keys } from '../keyspace';
import { compare } from '../values';
import { ALL_TOPICS, type MachineRecord, type WatchTopic } from '../registry';
import { EtcdCode, EtcdV2Error, type EtcdV2Client, type V2Node, type V2Response } from './client';
import { decodeJobObject, decodeJobState, decodeMachines, decodeUnitBlob, leaves, type UnitContent } from './layout';
import { errorMessage, type Log } from '../../../protocol/src/log';

/** Unit contents by hash. Blobs are content-addressed and never change, so an entry is never stale. */
export class BlobCache {
  private readonly map = new Map<string, UnitContent>();
  constructor(private readonly max = 20_000) {}

  get(hash: string): UnitContent | undefined {
    return this.map.get(hash);
  }

  set(hash: string, content: UnitContent): void {
    if (this.map.has(hash)) return;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(hash, content);
  }

  /** Adds the blob from its stored JSON; false when fleet could not decode it either. */
  setFromValue(hash: string, value: string): boolean {
    if (this.map.has(hash)) return true;
    const content = decodeUnitBlob(value);
    if (!content) return false;
    this.set(hash, content);
    return true;
  }
}

interface JobDir {
  object?: string;
  targetState?: string;
  target?: string;
  jobState?: string;
}

export interface MirrorJob {
  name: string;
  hash: string;
  desiredState: ReturnType<typeof decodeJobState>;
  target: string | undefined;
  launchedOn: string | undefined;
}

export class Etcd2Mirror {
  private readonly jobs = new Map<string, JobDir>();
  private readonly machineKeys = new Map<string, string>();
  private index = 0;
  private synced = false;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  /** True while the watch is established and the mirror reflects etcd up to the watch delay. */
  live = false;

  constructor(
    private readonly client: EtcdV2Client,
    private readonly keys: Keys,
    readonly blobs: BlobCache,
    private readonly notify: (topics: Iterable<WatchTopic>, machines: Iterable<string> | 'all') => void,
    private readonly log: Log,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** The jobs a machine runs: scheduled to it, or global (content known); undefined while a blob is unknown. */
  jobsFor(machineId: string): { jobs: MirrorJob[]; missing: string[] } {
    const jobs: MirrorJob[] = [];
    const missing: string[] = [];
    for (const [dirName, dir] of this.jobs) {
      const job = this.decodeDir(dirName, dir);
      if (!job) continue;
      if (job.target === machineId) {
        jobs.push(job);
        continue;
      }
      const content = this.blobs.get(job.hash);
      if (!content) missing.push(job.hash);
      else if (content.global) jobs.push(job);
    }
    // Sorted by name like every other read: the mirror's map is in arrival order, which a resync
    // (etcd v2 lists a directory unsorted) or a unit moving between machines changes.
    jobs.sort((a, b) => compare(a.name, b.name));
    return { jobs, missing };
  }

  machine(machineId: string): MachineRecord | undefined {
    const mine = new Map<string, string>();
    const base = this.keys.machine(machineId);
    for (const [k, v] of this.machineKeys) if (k.startsWith(base)) mine.set(k, v);
    return decodeMachines(this.keys, mine)[0];
  }

  // ---------------------------------------------------------------- the loop

  private async run(): Promise<void> {
    let delay = 200;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (!this.synced) await this.resync();
        const event = await this.client.watch(this.keys.prefix, this.index + 1, signal);
        if (!this.live) {
          this.live = true;
          delay = 200;
        }
        if (event) this.apply(event);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof EtcdV2Error && err.errorCode === EtcdCode.EventIndexCleared) {
          this.log('info', `etcd v2 watch: index ${this.index + 1} is no longer in etcd's history (${err.etcdCause}); re-reading ${this.keys.prefix}`);
          this.synced = false;
          continue;
        }
        if (this.live) this.log('warn', `etcd v2 watch lost: ${errorMessage(err)}; retrying`);
        this.live = false;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 2_000);
      }
    }
    this.live = false;
  }

  /** Re-reads everything under the prefix and hints every watcher (changes since the last event are unknown). */
  private async resync(): Promise<void> {
    const { node, etcdIndex } = await this.client.tree(this.keys.prefix);
    this.jobs.clear();
    this.machineKeys.clear();
    for (const [key, value] of leaves(node)) this.setLeaf(key, value);
    this.index = etcdIndex;
    this.synced = true;
    this.notify(ALL_TOPICS, 'all');
  }

  private setLeaf(key: string, value: string | undefined): void {
    const k = this.keys.parse(key);
    switch (k.kind) {
      case 'unitBlob':
        if (value !== undefined) this.blobs.setFromValue(k.hash, value);
        return;
      case 'jobObject':
      case 'targetState':
      case 'target':
      case 'jobState': {
        let dir = this.jobs.get(k.unit);
        if (!dir) this.jobs.set(k.unit, (dir = {}));
        const field = k.kind === 'jobObject' ? 'object' : k.kind;
        if (value === undefined) delete dir[field];
        else dir[field] = value;
        if (Object.keys(dir).length === 0) this.jobs.delete(k.unit);
        return;
      }
      case 'machineObject':
      case 'machineMetadata':
        if (value === undefined) this.machineKeys.delete(key);
        else this.machineKeys.set(key, value);
        return;
      default:
        return;
    }
  }

  private apply(event: V2Response): void {
    this.index = Math.max(this.index, event.node.modifiedIndex);
    const removed = event.action === 'delete' || event.action === 'compareAndDelete' || event.action === 'expire';
    const node = event.node;
    if (node.dir || (removed && event.prevNode?.dir)) {
      this.applyDirRemoval(node, removed);
      return;
    }
    const value = removed ? undefined : node.value;
    const before = event.prevNode?.value;
    const changed = removed ? before !== undefined || event.action === 'expire' : before !== value;
    const k = this.keys.parse(node.key);
    const unit = 'unit' in k ? k.unit : undefined;
    const concernedBefore = unit !== undefined && (k.kind === 'jobObject' || k.kind === 'targetState') ? this.concerned(unit) : undefined;
    this.setLeaf(node.key, value);
    if (!changed) return;
    switch (k.kind) {
      case 'jobObject':
      case 'targetState': {
        const after = this.concerned(k.unit);
        this.notify(['units'], concernedBefore === 'all' || after === 'all' ? 'all' : new Set([...concernedBefore!, ...after]));
        return;
      }
      case 'target':
        this.notify(
          ['schedule'],
          [before, value].filter((m): m is string => !!m),
        );
        return;
      case 'jobState':
        this.notify(['schedule'], []);
        return;
      case 'state':
        this.notify(['states'], []);
        return;
      case 'machineObject':
      case 'machineMetadata':
        this.notify(['machines'], [k.machineId]);
        return;
      case 'reasons':
        this.notify(['reasons'], []);
        return;
      default:
        return;
    }
  }

  /** A directory went away (destroy deletes `job/<name>` recursively) or appeared. */
  private applyDirRemoval(node: V2Node, removed: boolean): void {
    if (!removed) return;
    const key = node.key.endsWith('/') ? node.key : `${node.key}/`;
    const k = this.keys.parse(`${key}object`);
    if (k.kind === 'jobObject') {
      const concerned = this.concerned(k.unit);
      const dir = this.jobs.get(k.unit);
      this.jobs.delete(k.unit);
      this.notify(dir?.target !== undefined || dir?.jobState !== undefined ? ['units', 'schedule'] : ['units'], concerned);
      return;
    }
    if (k.kind === 'machineObject') {
      for (const mk of [...this.machineKeys.keys()]) if (mk.startsWith(key)) this.machineKeys.delete(mk);
      this.notify(['machines'], [k.machineId]);
      return;
    }
    if (key.startsWith(this.keys.states)) {
      this.notify(['states'], []);
      return;
    }
    // A larger subtree (job/, machines/, the prefix): start over from a full read.
    this.synced = false;
  }

  /** The machines a change to `unit` concerns now: its target and launcher, or all for a global (or unknown) unit. */
  private concerned(dirName: string): Set<string> | 'all' {
    const dir = this.jobs.get(dirName);
    const out = new Set<string>();
    if (!dir) return out;
    if (dir.object !== undefined) {
      const obj = decodeJobObject(dir.object);
      const content = obj && this.blobs.get(obj.hash);
      if (obj && (!content || content.global)) return 'all';
    }
    if (dir.target) out.add(dir.target);
    if (dir.jobState) out.add(dir.jobState);
    return out;
  }

  private decodeDir(dirName: string, dir: JobDir): MirrorJob | undefined {
    if (dir.object === undefined) return undefined;
    const obj = decodeJobObject(dir.object);
    if (!obj) return undefined;
    if (dir.targetState !== undefined && decodeJobState(dir.targetState) === undefined) return undefined;
    return {
      name: obj.name || dirName,
      hash: obj.hash,
      desiredState: decodeJobState(dir.targetState),
      target: dir.target || undefined,
      launchedOn: dir.jobState,
    };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const t = setTimeout(done, ms);
    t.unref?.();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
