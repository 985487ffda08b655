/**
 * fleet v1.0.0's values in etcd's v2 keyspace, byte for byte as fleet writes them
 * (fleet-etcd-v2.md §1.3), and the decoding of a v2 listing into registry records. Go's
 * encoding/json writes struct fields in declaration order, map keys sorted, and escapes `<`, `>`,
 * `&`, U+2028 and U+2029; the encoders here do the same, so a fleetd value and a fleet value for the
 * same thing are the same bytes. Readers ignore unknown fields and keys, as fleet's do.
 */
import { isGlobalUnit, parseUnitFile, toOptions, type UnitOption } from '../../../unitfile/src';
import type { MachineRecord, ScheduleEntry, UnitStateRecord } from '../registry';
import { ENGINE_VERSION, type Keys } from '../keyspace';
import type { JobState } from '../../../protocol/src/api';
import { compare, decodeJobState, decodeUnitState, isObject, parseJson } from '../values';
import type { V2Node } from './client';

/**
 * The `Version` fleetd machines advertise in `machines/<id>/object`. Genuine v1.0.0 daemons write
 * "v1.0.0", which fleetctl's semver check skips; a parseable version above 1.0.0 would make every
 * etcd-driver fleetctl command print an "older than the latest registered version" banner.
 */
export const FLEET_MACHINE_VERSION = 'v1.0.0';

/** JSON string as Go's encoding/json writes it (HTML-safe escapes, \u00XX for other controls). */
export function goJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function goMap(m: Readonly<Record<string, string>>): string {
  const keys = Object.keys(m).sort();
  return `{${keys.map(k => `${goJsonString(k)}:${goJsonString(m[k]!)}`).join(',')}}`;
}

/** `job/<name>/object`: `jobModel{Name; UnitHash [20]byte}` (the hash as an array of numbers). */
export function encodeJobObject(name: string, hash: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < 40; i += 2) bytes.push(parseInt(hash.slice(i, i + 2), 16));
  return `{"Name":${goJsonString(name)},"UnitHash":[${bytes.join(',')}]}`;
}

/** The object's name and hex hash; undefined where fleet's decoder fails (the unit is then skipped, as fleet skips it). */
export function decodeJobObject(text: string): { name: string; hash: string } | undefined {
  const json = parseJson(text);
  if (!isObject(json)) return undefined;
  const bytes = json.UnitHash;
  if (!Array.isArray(bytes) || bytes.length !== 20 || !bytes.every(b => Number.isInteger(b) && b >= 0 && b <= 255)) return undefined;
  if (json.Name !== undefined && typeof json.Name !== 'string') return undefined;
  return { name: (json.Name as string | undefined) ?? '', hash: (bytes as number[]).map(b => b.toString(16).padStart(2, '0')).join('') };
}

/** `unit/<hash>`: `unitModel{Raw}`. */
export function encodeUnitBlob(raw: string): string {
  return `{"Raw":${goJsonString(raw)}}`;
}

export interface UnitContent {
  /** The options as fleet's parser reads `Raw` (fleet's store round trip). */
  options: UnitOption[];
  global: boolean;
}

export function decodeUnitBlob(text: string): UnitContent | undefined {
  const json = parseJson(text);
  if (!isObject(json) || typeof json.Raw !== 'string') return undefined;
  const options = toOptions(parseUnitFile(json.Raw));
  return { options, global: isGlobalUnit(options) };
}

/** `machines/<id>/object`: machine.MachineState (no JSON tags), plus fleetd's `JournalURL` extension. */
export function encodeMachine(m: MachineRecord): string {
  let json = `{"ID":${goJsonString(m.id)},"PublicIP":${goJsonString(m.publicIP)},"Metadata":${goMap(m.metadata)},"Capabilities":{"DISABLE_ENGINE":false,"GRPC":false},"Version":${goJsonString(FLEET_MACHINE_VERSION)}`;
  if (m.journalUrl !== undefined) json += `,"JournalURL":${goJsonString(m.journalUrl)}`;
  if (m.version && m.version !== FLEET_MACHINE_VERSION) json += `,"FleetdVersion":${goJsonString(m.version)}`;
  return `${json}}`;
}

/** A machine fleet counts as alive: an object with a non-empty ID. */
export function decodeMachine(text: string): MachineRecord | undefined {
  const json = parseJson(text);
  if (!isObject(json) || typeof json.ID !== 'string' || json.ID === '') return undefined;
  const metadata: Record<string, string> = {};
  if (isObject(json.Metadata)) for (const [k, v] of Object.entries(json.Metadata)) if (typeof v === 'string') metadata[k] = v;
  const version = typeof json.FleetdVersion === 'string' ? json.FleetdVersion : typeof json.Version === 'string' ? json.Version : '';
  const m: MachineRecord = { id: json.ID, publicIP: typeof json.PublicIP === 'string' ? json.PublicIP : '', metadata, version };
  if (typeof json.JournalURL === 'string') m.journalUrl = json.JournalURL;
  return m;
}

/** `states/<name>/<machine>` (and fleet's legacy `state/<name>`): unitStateModel, plus fleetd's `detail`. */
export function encodeUnitState(s: UnitStateRecord): string {
  let json =
    `{"loadState":${goJsonString(s.loadState)},"activeState":${goJsonString(s.activeState)},"subState":${goJsonString(s.subState)},` +
    `"machineState":{"ID":${goJsonString(s.machineId)},"PublicIP":"","Metadata":null,"Capabilities":null,"Version":""},"unitHash":${goJsonString(s.hash)}`;
  if (s.detail !== undefined) json += `,"detail":${goJsonString(s.detail)}`;
  return `${json}}`;
}

/** `lease/engine-leader`: etcdLeaseMetadata{MachineID; Version}. */
export function encodeLeader(machineId: string): string {
  return `{"MachineID":${goJsonString(machineId)},"Version":${ENGINE_VERSION}}`;
}

/** fleet reads a value that is not JSON as a bare machine ID of version 0 (an older engine). */
export function decodeLeader(text: string): { machineId: string; version: number } {
  const json = parseJson(text);
  if (isObject(json) && typeof json.MachineID === 'string') return { machineId: json.MachineID, version: typeof json.Version === 'number' ? json.Version : 0 };
  return { machineId: text, version: 0 };
}

// ---------------------------------------------------------------- listings

/** Every leaf under `node` (a GET with recursive=true), as key → value. */
export function leaves(node: V2Node | undefined, out = new Map<string, string>()): Map<string, string> {
  if (!node) return out;
  if (node.dir) for (const child of node.nodes ?? []) leaves(child, out);
  else if (node.value !== undefined) out.set(node.key, node.value);
  return out;
}

/** One job as its directory holds it. */
export interface JobEntry {
  /** The name the object carries (fleet lists the unit by it). */
  name: string;
  hash: string;
  desiredState: JobState | undefined;
  target: string | undefined;
  launchedOn: string | undefined;
}

/** `job/` leaves → one entry per directory with a decodable object (fleet skips the rest). */
export function decodeJobs(keys: Keys, kvs: ReadonlyMap<string, string>): JobEntry[] {
  const dirs = new Map<string, Partial<Record<'object' | 'target-state' | 'target' | 'job-state', string>>>();
  for (const [key, value] of kvs) {
    const k = keys.parse(key);
    if (k.kind !== 'jobObject' && k.kind !== 'targetState' && k.kind !== 'target' && k.kind !== 'jobState') continue;
    let dir = dirs.get(k.unit);
    if (!dir) dirs.set(k.unit, (dir = {}));
    const field = k.kind === 'jobObject' ? 'object' : k.kind === 'targetState' ? 'target-state' : k.kind === 'target' ? 'target' : 'job-state';
    dir[field] = value;
  }
  const out: JobEntry[] = [];
  for (const [dirName, dir] of dirs) {
    if (dir.object === undefined) continue;
    const obj = decodeJobObject(dir.object);
    if (!obj) continue;
    // fleet drops a unit whose target-state is not one of the three (a missing one shows as "-").
    if (dir['target-state'] !== undefined && decodeJobState(dir['target-state']) === undefined) continue;
    out.push({
      name: obj.name || dirName,
      hash: obj.hash,
      desiredState: decodeJobState(dir['target-state']),
      target: dir.target,
      launchedOn: dir['job-state'],
    });
  }
  return out.sort((a, b) => compare(a.name, b.name));
}

export function scheduleOf(jobs: readonly JobEntry[]): Map<string, ScheduleEntry> {
  const schedule = new Map<string, ScheduleEntry>();
  for (const j of jobs) {
    if (j.target === undefined || j.target === '') continue;
    schedule.set(j.name, j.launchedOn === undefined ? { name: j.name, machineId: j.target } : { name: j.name, machineId: j.target, launchedOn: j.launchedOn });
  }
  return schedule;
}

/** `machines/` leaves → live machines (an object with an ID), metadata overlaid with the dynamic keys, sorted by ID. */
export function decodeMachines(keys: Keys, kvs: ReadonlyMap<string, string>): MachineRecord[] {
  const objects = new Map<string, MachineRecord>();
  const dynamic = new Map<string, Map<string, string>>();
  for (const [key, value] of kvs) {
    const k = keys.parse(key);
    if (k.kind === 'machineObject') {
      const m = decodeMachine(value);
      if (m) objects.set(k.machineId, m);
    } else if (k.kind === 'machineMetadata') {
      let d = dynamic.get(k.machineId);
      if (!d) dynamic.set(k.machineId, (d = new Map()));
      d.set(k.key, value);
    }
  }
  return [...objects.values()]
    .map(m => {
      for (const [k, v] of dynamic.get(m.id) ?? []) {
        if (v === '') delete m.metadata[k];
        else m.metadata[k] = v;
      }
      return m;
    })
    .sort((a, b) => compare(a.id, b.id));
}

/** `states/` leaves → states, sorted by unit then machine; values fleet cannot decode are skipped. */
export function decodeStates(keys: Keys, kvs: ReadonlyMap<string, string>): UnitStateRecord[] {
  const out: UnitStateRecord[] = [];
  for (const [key, value] of kvs) {
    const k = keys.parse(key);
    if (k.kind !== 'state') continue;
    const s = decodeUnitState(k.unit, k.machineId, value);
    if (s) out.push(s);
  }
  return out.sort((a, b) => compare(a.name, b.name) || compare(a.machineId, b.machineId));
}

// ENGINE_VERSION (what fleet v1.0.0's engine accepts in `engine/version`) lives in keyspace.ts;
// the state decoders in values.ts, shared with fleetd's v3 keyspace.
export { ENGINE_VERSION, decodeJobState, decodeUnitState };
