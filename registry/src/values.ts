/**
 * Value decoding that fleet's v2 keyspace (etcd2/layout.ts) and fleetd's v3 one
 * (fleetd/src/registry/keys.ts) share: the two write their values differently (Go-exact JSON in
 * v2), but read job states and unit states, and sort their listings, the same way.
 */
import type { JobState } from '../../protocol/src/api';
import type { UnitStateRecord } from './registry';

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Byte order, as fleet (Go's sort.Strings) lists. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `job/<name>/target-state`: one of fleet's three job states, else nothing. */
export function decodeJobState(text: string | undefined): JobState | undefined {
  return text === 'inactive' || text === 'loaded' || text === 'launched' ? text : undefined;
}

/** `states/<name>/<machine>`: the machine is the key's; fleetd's `detail` rides along. */
export function decodeUnitState(name: string, machineId: string, text: string): UnitStateRecord | undefined {
  const json = parseJson(text);
  if (!isObject(json)) return undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const s: UnitStateRecord = {
    name,
    machineId,
    hash: str(json.unitHash),
    loadState: str(json.loadState),
    activeState: str(json.activeState),
    subState: str(json.subState),
  };
  if (typeof json.detail === 'string') s.detail = json.detail;
  return s;
}
