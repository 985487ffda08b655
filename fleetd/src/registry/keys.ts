/**
 * Every etcd key fleetd uses, and the JSON stored under it: fleet's layout (fleet-reference §5.3)
 * under a prefix, adapted to etcd v3 (TTLs become leases). The key names are
 * registry/src/keyspace.ts's; the values here are the v3 layout's.
 *
 *   job/<name>/object          {"Name","UnitHash":[20 bytes],"Options":[…]}   (Options: fleetd's copy of the content)
 *   job/<name>/target-state    inactive | loaded | launched
 *   job/<name>/target          machine ID (create-only; deleted with compare-on-value)
 *   job/<name>/job-state       machine ID, on a lease (the agent's "launched" heartbeat)
 *   unit/<sha1hex>             {"Raw":"<serialized unit>"} (create-only, as fleet)
 *   states/<name>/<machine>    {"loadState","activeState","subState","machineState":{"ID","PublicIP"},"unitHash","detail"}, on a lease
 *   machines/<id>/object       {"ID","PublicIP","Metadata","Version","JournalURL"}, on a kept-alive lease
 *   machines/<id>/metadata/<k> dynamic metadata ("" = tombstone)
 *   lease/engine-leader        {"MachineID","Version":1}, on a kept-alive lease
 *   fleetd/reasons             {"<unit>":"<reason>",…} (fleetd extension)
 */
import { hashToBytes, unitHash, type UnitOption } from '../../../unitfile/src';
import type { JobState } from '../../../protocol/src/api';
import type { MachineRecord, ScheduleEntry, UnitRecord, UnitStateRecord } from '../../../registry/src/registry';

import { ENGINE_VERSION, type Keys } from '../../../registry/src/keyspace';
import { compare, decodeJobState, decodeUnitState, isObject, parseJson } from '../../../registry/src/values';

export { DEFAULT_PREFIX, Keys } from '../../../registry/src/keyspace';

/** One key and its value, as text. */
export type Kv = { key: string; value: string };

/** Everything under the prefix (or the part that was read), decoded. */
export interface Decoded {
  units: UnitRecord[];
  schedule: Map<string, ScheduleEntry>;
  machines: MachineRecord[];
  states: UnitStateRecord[];
}

// ---------------------------------------------------------------- values

export interface JobObjectJson {
  Name: string;
  UnitHash: number[];
  Options?: UnitOption[];
}

export function encodeJobObject(name: string, hash: string, options: readonly UnitOption[]): string {
  const value: JobObjectJson = { Name: name, UnitHash: hashToBytes(hash), Options: options.map(o => ({ section: o.section, name: o.name, value: o.value })) };
  return JSON.stringify(value);
}

/**
 * The job object's options, and its hash: the stored UnitHash when it is well-formed (it was
 * computed from these options when the unit was written), so a full read of a thousand units
 * does not recompute a thousand SHA-1s.
 */
export function decodeJobObject(text: string): { options: UnitOption[]; hash: string } | undefined {
  const json = parseJson(text);
  if (!isObject(json) || !Array.isArray(json.Options)) return undefined;
  const options: UnitOption[] = [];
  for (const o of json.Options) {
    if (!isObject(o) || typeof o.section !== 'string' || typeof o.name !== 'string' || typeof o.value !== 'string') return undefined;
    options.push({ section: o.section, name: o.name, value: o.value });
  }
  const bytes = json.UnitHash;
  const stored =
    Array.isArray(bytes) && bytes.length === 20 && bytes.every(b => Number.isInteger(b) && b >= 0 && b <= 255)
      ? (bytes as number[]).map(b => b.toString(16).padStart(2, '0')).join('')
      : undefined;
  return { options, hash: stored ?? unitHash(options) };
}

/**
 * Job objects by unit, parsed again only when their text changed: the mirror's readers (the API's
 * lists, an agent's pass every few seconds) decode the same texts over and over. The options are
 * frozen, since every reader shares them. `sweep()` forgets the units not looked up since the
 * last sweep.
 */
export class JobObjectCache {
  private readonly entries = new Map<string, { text: string; decoded: { options: readonly UnitOption[]; hash: string } | undefined }>();
  private readonly seen = new Set<string>();

  get(unit: string, text: string): { options: readonly UnitOption[]; hash: string } | undefined {
    this.seen.add(unit);
    const cached = this.entries.get(unit);
    if (cached?.text === text) return cached.decoded;
    const d = decodeJobObject(text);
    const decoded = d && { options: Object.freeze(d.options.map(o => Object.freeze(o))), hash: d.hash };
    this.entries.set(unit, { text, decoded });
    return decoded;
  }

  sweep(): void {
    for (const unit of this.entries.keys()) if (!this.seen.has(unit)) this.entries.delete(unit);
    this.seen.clear();
  }
}

export function encodeUnitBlob(raw: string): string {
  return JSON.stringify({ Raw: raw });
}

export function encodeMachine(m: MachineRecord): string {
  const json: Record<string, unknown> = { ID: m.id, PublicIP: m.publicIP, Metadata: m.metadata, Version: m.version };
  if (m.journalUrl !== undefined) json.JournalURL = m.journalUrl;
  return JSON.stringify(json);
}

export function decodeMachine(text: string): MachineRecord | undefined {
  const json = parseJson(text);
  if (!isObject(json) || typeof json.ID !== 'string') return undefined;
  const metadata: Record<string, string> = {};
  if (isObject(json.Metadata)) for (const [k, v] of Object.entries(json.Metadata)) if (typeof v === 'string') metadata[k] = v;
  const m: MachineRecord = {
    id: json.ID,
    publicIP: typeof json.PublicIP === 'string' ? json.PublicIP : '',
    metadata,
    version: typeof json.Version === 'string' ? json.Version : '',
  };
  if (typeof json.JournalURL === 'string') m.journalUrl = json.JournalURL;
  return m;
}

export function encodeUnitState(s: UnitStateRecord, publicIP = ''): string {
  const json: Record<string, unknown> = {
    loadState: s.loadState,
    activeState: s.activeState,
    subState: s.subState,
    machineState: { ID: s.machineId, PublicIP: publicIP },
    unitHash: s.hash,
  };
  if (s.detail !== undefined) json.detail = s.detail;
  return JSON.stringify(json);
}

export function encodeLeader(machineId: string): string {
  return JSON.stringify({ MachineID: machineId, Version: ENGINE_VERSION });
}

/** fleet reads a non-JSON lease value as a bare machine ID. */
export function decodeLeader(text: string): string {
  const json = parseJson(text);
  return isObject(json) && typeof json.MachineID === 'string' ? json.MachineID : text;
}

export function encodeReasons(reasons: ReadonlyMap<string, string>): string {
  return JSON.stringify(Object.fromEntries([...reasons].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export function decodeReasons(text: string): Map<string, string> {
  const json = parseJson(text);
  const out = new Map<string, string>();
  if (isObject(json)) for (const [k, v] of Object.entries(json)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/**
 * The keys a registry's watch covers: job/, lease/ and machines/ (what the mirror keeps and the
 * hints are routed by), and states/ and fleetd/reasons only when asked (someone watches the
 * states or reasons topic: the API, whose lists the mirror then serves whole). Under the prefix
 * the kinds sort as engine/, fleetd/, job/, lease/, machines/, state/, states/, unit/, so one
 * range leaves out the unit blobs (every unit's text again, which nothing reads from a watch)
 * and, when it runs from job/ to the end of machines/, the states of every machine and the
 * engine's reasons.
 */
export function watchRange(keys: Keys, withStates: boolean): { start: string; end: string } {
  return withStates ? { start: keys.fleetd, end: keys.unitBlobs } : { start: keys.jobs, end: rangeEnd(keys.machines) };
}

/** The end of a prefix's range: the prefix with its last character incremented ("a/" -> "a0"). */
function rangeEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Whether a job object may make its unit global ([X-Fleet] Global=), without parsing it: the
 * text must name the X-Fleet section (or escape characters, which a JSON writer may do).
 */
export function mayBeGlobal(jobObjectText: string): boolean {
  return jobObjectText.includes('X-Fleet') || jobObjectText.includes('\\u');
}

/**
 * Decodes keys under the prefix (or part of it) into registry records, sorted as the interface
 * promises. With `objects`, job objects come from that cache (their options then frozen).
 */
export function decode(keys: Keys, kvs: readonly Kv[], objects?: JobObjectCache): Decoded {
  const decodedObjects = new Map<string, { options: readonly UnitOption[]; hash: string }>();
  const targetStates = new Map<string, JobState>();
  const targets = new Map<string, string>();
  const launched = new Map<string, string>();
  const machineObjects = new Map<string, MachineRecord>();
  const dynamic = new Map<string, Map<string, string>>();
  const states: UnitStateRecord[] = [];
  for (const kv of kvs) {
    const k = keys.parse(kv.key);
    switch (k.kind) {
      case 'jobObject': {
        const obj = objects ? objects.get(k.unit, kv.value) : decodeJobObject(kv.value);
        if (obj) decodedObjects.set(k.unit, obj);
        break;
      }
      case 'targetState': {
        const s = decodeJobState(kv.value);
        if (s) targetStates.set(k.unit, s);
        break;
      }
      case 'target':
        targets.set(k.unit, kv.value);
        break;
      case 'jobState':
        launched.set(k.unit, kv.value);
        break;
      case 'state': {
        const s = decodeUnitState(k.unit, k.machineId, kv.value);
        if (s) states.push(s);
        break;
      }
      case 'machineObject': {
        const m = decodeMachine(kv.value);
        if (m) machineObjects.set(k.machineId, { ...m, id: k.machineId });
        break;
      }
      case 'machineMetadata': {
        let m = dynamic.get(k.machineId);
        if (!m) dynamic.set(k.machineId, (m = new Map()));
        m.set(k.key, kv.value);
        break;
      }
      default:
        break;
    }
  }
  const units: UnitRecord[] = [...decodedObjects]
    .map(([name, { options, hash }]) => ({ name, options: options as UnitOption[], hash, desiredState: targetStates.get(name) ?? 'inactive' }))
    .sort((a, b) => compare(a.name, b.name));
  const schedule = new Map<string, ScheduleEntry>();
  for (const name of [...targets.keys()].sort(compare)) {
    const machineId = targets.get(name)!;
    const on = launched.get(name);
    schedule.set(name, on === undefined ? { name, machineId } : { name, machineId, launchedOn: on });
  }
  const machines = [...machineObjects.values()]
    .map(m => {
      for (const [key, value] of dynamic.get(m.id) ?? []) {
        if (value === '') delete m.metadata[key];
        else m.metadata[key] = value;
      }
      return m;
    })
    .sort((a, b) => compare(a.id, b.id));
  states.sort((a, b) => compare(a.name, b.name) || compare(a.machineId, b.machineId));
  return { units, schedule, machines, states };
}

export { decodeJobState, decodeUnitState };
