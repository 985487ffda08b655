/**
 * The watch-fed mirror's maps (etcdMirror.ts): every key of the watch's range, value by key, in
 * parts (the job keys, the states, each machine's keys, the rest), with a version per part that
 * moves on every change to it (etcdMirrorReads.ts rebuilds a list only when its part moved).
 */
import type { ParsedKey } from '../../../registry/src/keyspace';
import type { Kv } from './keys';

type Part = 'jobs' | 'states' | 'machines' | 'others';

/** What readers see: the maps and their versions; callers only read them. */
export interface MirrorContents {
  jobs: Map<string, string>;
  states: Map<string, string>;
  /** Machine ID → its keys. */
  machines: Map<string, Map<string, string>>;
  /** Every other key in the watch's range: the engine lease, fleetd's reasons. */
  others: Map<string, string>;
  versions: Record<Part, number>;
}

export class MirrorMaps implements MirrorContents {
  readonly jobs = new Map<string, string>();
  readonly states = new Map<string, string>();
  readonly machines = new Map<string, Map<string, string>>();
  readonly others = new Map<string, string>();
  readonly versions: Record<Part, number> = { jobs: 0, states: 0, machines: 0, others: 0 };

  /** How many keys it holds. */
  get keyCount(): number {
    let n = this.jobs.size + this.states.size + this.others.size;
    for (const keys of this.machines.values()) n += keys.size;
    return n;
  }

  /** Empties every part (a rebuild follows). */
  clear(): void {
    this.jobs.clear();
    this.states.clear();
    this.machines.clear();
    this.others.clear();
    for (const part of ['jobs', 'states', 'machines', 'others'] as const) this.versions[part]++;
  }

  /** A key's value (what a watch event's previous value would be). */
  get(k: ParsedKey, key: string): string | undefined {
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
      case 'target':
      case 'jobState':
        return this.jobs.get(key);
      case 'state':
        return this.states.get(key);
      case 'machineObject':
      case 'machineMetadata':
        return this.machines.get(k.machineId)?.get(key);
      default:
        return this.others.get(key);
    }
  }

  /** A put or delete of one key. */
  apply(type: 'put' | 'delete', k: ParsedKey, kv: Kv): void {
    const setIn = (map: Map<string, string>, part: Part) => {
      if (type === 'put') map.set(kv.key, kv.value);
      else map.delete(kv.key);
      this.versions[part]++;
    };
    switch (k.kind) {
      case 'jobObject':
      case 'targetState':
      case 'target':
      case 'jobState':
        setIn(this.jobs, 'jobs');
        break;
      case 'state':
        setIn(this.states, 'states');
        break;
      case 'machineObject':
      case 'machineMetadata': {
        this.versions.machines++;
        let keys = this.machines.get(k.machineId);
        if (type === 'put') {
          if (!keys) this.machines.set(k.machineId, (keys = new Map()));
          keys.set(kv.key, kv.value);
        } else if (keys) {
          keys.delete(kv.key);
          if (keys.size === 0) this.machines.delete(k.machineId);
        }
        break;
      }
      default:
        setIn(this.others, 'others');
        break;
    }
  }
}
