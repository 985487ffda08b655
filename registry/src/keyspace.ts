/**
 * fleet's key names under a prefix (fleet-etcd-v2.md §1.2), shared by the etcd v3 registry
 * (fleetd/src/registry) and the etcd v2 one (etcd2/): the same paths in either keyspace.
 *
 *   job/<name>/object, job/<name>/target-state, job/<name>/target, job/<name>/job-state
 *   unit/<sha1hex>
 *   states/<name>/<machine>, state/<name> (fleet's legacy copy, never read)
 *   machines/<id>/object, machines/<id>/metadata/<k>
 *   lease/engine-leader, engine/version
 *   fleetd/reasons (fleetd extension; fleet never lists the prefix root, so it never sees it)
 */
export const DEFAULT_PREFIX = '/_coreos.com/fleet/';
export const ENGINE_VERSION = 1;

/** Key builders for one prefix (always ending in "/"). */
export class Keys {
  readonly prefix: string;

  constructor(prefix = DEFAULT_PREFIX) {
    this.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  get jobs(): string {
    return `${this.prefix}job/`;
  }
  job(name: string): string {
    return `${this.jobs}${name}/`;
  }
  jobObject(name: string): string {
    return `${this.job(name)}object`;
  }
  targetState(name: string): string {
    return `${this.job(name)}target-state`;
  }
  target(name: string): string {
    return `${this.job(name)}target`;
  }
  jobState(name: string): string {
    return `${this.job(name)}job-state`;
  }
  get unitBlobs(): string {
    return `${this.prefix}unit/`;
  }
  unitBlob(hash: string): string {
    return `${this.prefix}unit/${hash}`;
  }
  get states(): string {
    return `${this.prefix}states/`;
  }
  state(name: string, machineId: string): string {
    return `${this.states}${name}/${machineId}`;
  }
  /** The prefix of one unit's states on every machine. */
  unitStates(name: string): string {
    return `${this.states}${name}/`;
  }
  /** fleet's legacy copy of the last state published for a unit (fleet issue #638); nothing reads it. */
  legacyState(name: string): string {
    return `${this.prefix}state/${name}`;
  }
  get machines(): string {
    return `${this.prefix}machines/`;
  }
  machine(id: string): string {
    return `${this.machines}${id}/`;
  }
  machineObject(id: string): string {
    return `${this.machine(id)}object`;
  }
  machineMetadata(id: string, key: string): string {
    return `${this.machines}${id}/metadata/${key}`;
  }
  get engineLeader(): string {
    return `${this.prefix}lease/engine-leader`;
  }
  get engineVersion(): string {
    return `${this.prefix}engine/version`;
  }
  /** fleetd's own keys (the reasons). */
  get fleetd(): string {
    return `${this.prefix}fleetd/`;
  }
  get reasons(): string {
    return `${this.fleetd}reasons`;
  }

  /** What a key under the prefix is, for the watcher and the snapshot decoder. */
  parse(fullKey: string): ParsedKey {
    if (!fullKey.startsWith(this.prefix)) return { kind: 'other' };
    const rest = fullKey.slice(this.prefix.length);
    const parts = rest.split('/');
    const [head, a, b, c] = parts;
    if (head === 'job' && parts.length === 3 && a && b) {
      if (b === 'object') return { kind: 'jobObject', unit: a };
      if (b === 'target-state') return { kind: 'targetState', unit: a };
      if (b === 'target') return { kind: 'target', unit: a };
      if (b === 'job-state') return { kind: 'jobState', unit: a };
    }
    if (head === 'states' && parts.length === 3 && a && b) return { kind: 'state', unit: a, machineId: b };
    if (head === 'machines' && a) {
      if (parts.length === 3 && b === 'object') return { kind: 'machineObject', machineId: a };
      if (parts.length === 4 && b === 'metadata' && c) return { kind: 'machineMetadata', machineId: a, key: c };
    }
    if (head === 'unit' && parts.length === 2 && a) return { kind: 'unitBlob', hash: a };
    if (rest === 'lease/engine-leader') return { kind: 'leader' };
    if (rest === 'fleetd/reasons') return { kind: 'reasons' };
    return { kind: 'other' };
  }
}

export type ParsedKey =
  | { kind: 'jobObject' | 'targetState' | 'target' | 'jobState'; unit: string }
  | { kind: 'state'; unit: string; machineId: string }
  | { kind: 'machineObject'; machineId: string }
  | { kind: 'machineMetadata'; machineId: string; key: string }
  | { kind: 'unitBlob'; hash: string }
  | { kind: 'leader' | 'reasons' | 'other' };
