/**
 * The `[X-Fleet]` section (fleet-reference §2): its keys, value splitting, specifier substitution,
 * and the requirements fleet's engine and agents act on.
 */
import { goFields } from './goText';
import type { UnitOption } from './serialize';
import { UnitNameInfo } from './unitName';

export const XFLEET_SECTION = 'X-Fleet';

export type XFleetKind = 'machineId' | 'machineOf' | 'metadata' | 'conflicts' | 'global' | 'replaces';

export interface XFleetKey {
  name: string;
  kind: XFleetKind;
  /** `current`, or an older spelling fleet still honours. */
  status: 'current' | 'deprecated' | 'legacy';
  /** The current spelling, for deprecated and legacy keys. */
  replacement?: string;
  /** Our one-line description. */
  summary: string;
  /** What the value looks like. */
  syntax: string;
  /** fleet's semantics, for hover. */
  details: string;
  example: string;
}

const docBase = 'https://github.com/coreos/fleet/blob/master/Documentation/unit-files-and-scheduling.md';
export const XFLEET_DOC_URL = `${docBase}#fleet-specific-options`;

/** Every key fleet recognises (job.go validRequirements), current first. */
export const XFLEET_KEYS: readonly XFleetKey[] = [
  {
    name: 'MachineID',
    kind: 'machineId',
    status: 'current',
    summary: 'Pin the unit to one machine.',
    syntax: 'a 32-character machine ID (or its first 8 characters)',
    details:
      'Only the first value is used. fleet matches the full ID or exactly its first 8 characters. ' +
      'Cannot be combined with MachineOf, Conflicts, Global or Replaces. An empty value makes the unit unschedulable.',
    example: 'MachineID=4d389537d9d14bdabe8be54a9c29f68d',
  },
  {
    name: 'MachineOf',
    kind: 'machineOf',
    status: 'current',
    summary: 'Run on the same machine as the named unit(s).',
    syntax: 'a unit name; several as "a.service" "b.service"',
    details:
      'Exact unit names, not globs. Every peer must be on the same machine; the unit waits until they are scheduled. ' +
      'A value with spaces is one name: quote each name for several peers.',
    example: 'MachineOf=web@%i.service',
  },
  {
    name: 'MachineMetadata',
    kind: 'metadata',
    status: 'current',
    summary: 'Run only on machines whose metadata matches.',
    syntax: 'key=value; several as "region=us" "disk=ssd"',
    details:
      'Values for the same key are ORed, different keys are ANDed; equality is exact. ' +
      'Elements that are not exactly key=value are ignored, and there are no operators such as != or >=.',
    example: 'MachineMetadata=region=us-west',
  },
  {
    name: 'Conflicts',
    kind: 'conflicts',
    status: 'current',
    summary: 'Never share a machine with units matching these globs.',
    syntax: 'unit-name globs separated by spaces (* ? [a-z])',
    details:
      'Checked in both directions: a unit is kept off machines running a match, and matches are kept off its machine. ' +
      'Globs follow Go path.Match; a malformed glob never matches. A unit never conflicts with itself.',
    example: 'Conflicts=web@*.service',
  },
  {
    name: 'Global',
    kind: 'global',
    status: 'current',
    summary: 'Run on every machine (that matches MachineMetadata).',
    syntax: 'true, yes, 1, on or t (case-insensitive); anything else is false',
    details:
      'The last value wins. Global units are never scheduled by the engine: each agent runs them when its metadata matches. ' +
      'Cannot be combined with MachineID, MachineOf or Replaces.',
    example: 'Global=true',
  },
  {
    name: 'Replaces',
    kind: 'replaces',
    status: 'current',
    summary: 'Take the machine of the matched unit, which moves elsewhere.',
    syntax: 'a unit-name glob; several as "a*" "b*"',
    details:
      'When this unit lands on a machine running a matched unit, the matched unit is rescheduled to another machine. ' +
      'Not whitespace-split: quote each glob. Cannot be combined with MachineID, Global or Conflicts. Added in fleet 0.13.',
    example: 'Replaces=web-old.service',
  },
  {
    name: 'X-ConditionMachineID',
    kind: 'machineId',
    status: 'deprecated',
    replacement: 'MachineID',
    summary: 'Old spelling of MachineID (fleet ≤ 0.8).',
    syntax: 'a machine ID',
    details: 'Used only when MachineID is absent.',
    example: 'X-ConditionMachineID=4d389537',
  },
  {
    name: 'X-ConditionMachineBootID',
    kind: 'machineId',
    status: 'legacy',
    replacement: 'MachineID',
    summary: 'Legacy: treated as a machine ID, with the lowest precedence.',
    syntax: 'a machine ID',
    details: 'Used only when MachineID and X-ConditionMachineID are absent.',
    example: 'X-ConditionMachineBootID=4d389537',
  },
  {
    name: 'X-ConditionMachineOf',
    kind: 'machineOf',
    status: 'deprecated',
    replacement: 'MachineOf',
    summary: 'Old spelling of MachineOf.',
    syntax: 'a unit name',
    details: 'Its values are combined with MachineOf.',
    example: 'X-ConditionMachineOf=db.service',
  },
  {
    name: 'X-ConditionMachineMetadata',
    kind: 'metadata',
    status: 'deprecated',
    replacement: 'MachineMetadata',
    summary: 'Old spelling of MachineMetadata.',
    syntax: 'key=value',
    details: 'Its values are combined with MachineMetadata.',
    example: 'X-ConditionMachineMetadata=region=us',
  },
  {
    name: 'X-Conflicts',
    kind: 'conflicts',
    status: 'deprecated',
    replacement: 'Conflicts',
    summary: 'Old spelling of Conflicts.',
    syntax: 'unit-name globs',
    details: 'Its values are combined with Conflicts.',
    example: 'X-Conflicts=web*.service',
  },
];

const keyIndex = new Map(XFLEET_KEYS.map(k => [k.name, k]));

export function xfleetKey(name: string): XFleetKey | undefined {
  return keyIndex.get(name);
}

/** The specifiers fleet expands inside [X-Fleet] (job.go unitPrintf), in the order it replaces them. */
export const FLEET_SPECIFIERS = [
  { specifier: '%n', summary: 'the full unit name', field: 'fullName' },
  { specifier: '%N', summary: 'the unit name without its type suffix', field: 'name' },
  { specifier: '%p', summary: 'the prefix: the name before "@"', field: 'prefix' },
  { specifier: '%i', summary: 'the instance: the name between "@" and the suffix', field: 'instance' },
] as const;

/** fleet's unitPrintf: plain, ordered string replacement; no `%%` escape, other specifiers left as-is. */
export function unitPrintf(value: string, info: UnitNameInfo): string {
  return value
    .split('%n')
    .join(info.fullName)
    .split('%N')
    .join(info.name)
    .split('%p')
    .join(info.prefix)
    .split('%i')
    .join(info.instance ?? '');
}

/** The value a specifier expands to for a unit name (undefined when the name has no dot or the specifier is not fleet's). */
export function specifierValue(specifier: string, unitName: string): string | undefined {
  const info = UnitNameInfo.parse(unitName);
  const s = FLEET_SPECIFIERS.find(x => x.specifier === specifier);
  if (!info || !s) return undefined;
  return s.field === 'instance' ? (info.instance ?? '') : info[s.field];
}

/** fleet's parseMultivalueLine: `"a" "b"` → [a, b]; anything not wrapped in quotes stays one value. */
export function parseMultivalueLine(line: string): string[] {
  if (!line.startsWith('"') || !line.endsWith('"')) return [line];
  const values: string[] = [];
  let v = '';
  let within = false;
  for (const ch of line) {
    if (ch === '"') {
      within = !within;
      continue;
    }
    if (ch === ' ' && !within) {
      values.push(v);
      v = '';
      continue;
    }
    v += ch;
  }
  values.push(v);
  return values;
}

/** fleet's isTruthyValue. */
export function isTruthy(value: string): boolean {
  const v = value.toLowerCase();
  return v === 'true' || v === 'yes' || v === '1' || v === 'on' || v === 't';
}

/** Spellings fleet treats as false on purpose (anything else that is not truthy is probably a mistake). */
export function isFalsy(value: string): boolean {
  const v = value.toLowerCase();
  return v === 'false' || v === 'no' || v === '0' || v === 'off' || v === 'f' || v === '';
}

/** `Contents["X-Fleet"]`: each key's values after multi-value expansion, repeated keys appended, in file order. */
export function xfleetContents(options: readonly UnitOption[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const o of options) {
    if (o.section !== XFLEET_SECTION) continue;
    const list = out.get(o.name);
    const values = parseMultivalueLine(o.value);
    if (list) list.push(...values);
    else out.set(o.name, values);
  }
  return out;
}

export interface Requirements {
  /** The required machine ID (present, possibly "", when any of the three keys is set). */
  machineId: string | undefined;
  /** MachineOf peers (X-ConditionMachineOf first, then MachineOf). */
  peers: string[];
  /** Conflicts globs (X-Conflicts first, then Conflicts), whitespace-split. */
  conflicts: string[];
  /** Replaces globs. */
  replaces: string[];
  /** Required metadata: key → allowed values (ORed); keys are ANDed. */
  metadata: Map<string, string[]>;
  global: boolean;
  /** Keys fleet does not recognise (fleetctl warns about them). */
  unknownKeys: string[];
}

/**
 * The requirements fleet derives from a unit's options. With a unit name that has a dot, the
 * specifiers %n %N %p %i are substituted first, as fleet does at scheduling time; validation
 * (ValidateOptions) uses no name and so no substitution.
 */
export function requirements(options: readonly UnitOption[], unitName?: string): Requirements {
  const contents = xfleetContents(options);
  const info = unitName !== undefined ? UnitNameInfo.parse(unitName) : undefined;
  const get = (key: string): string[] | undefined => {
    const values = contents.get(key);
    return values && info ? values.map(v => unitPrintf(v, info)) : values;
  };
  const all = (...keys: string[]) => keys.flatMap(k => get(k) ?? []);
  let machineId: string | undefined;
  for (const key of ['MachineID', 'X-ConditionMachineID', 'X-ConditionMachineBootID']) {
    const values = get(key);
    if (values && values.length > 0) {
      machineId = values[0];
      break;
    }
  }
  const metadata = new Map<string, string[]>();
  for (const pair of all('X-ConditionMachineMetadata', 'MachineMetadata')) {
    const parts = pair.split('=');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') continue;
    const list = metadata.get(parts[0]!);
    if (!list) metadata.set(parts[0]!, [parts[1]!]);
    else if (!list.includes(parts[1]!)) list.push(parts[1]!);
  }
  const globals = get('Global');
  return {
    machineId,
    peers: all('X-ConditionMachineOf', 'MachineOf'),
    conflicts: all('X-Conflicts', 'Conflicts').flatMap(goFields),
    replaces: all('Replaces'),
    metadata,
    global: !!globals && globals.length > 0 && isTruthy(globals[globals.length - 1]!),
    unknownKeys: [...contents.keys()].filter(k => !keyIndex.has(k)),
  };
}

/** True when the unit is global (the engine leaves it to the agents). */
export function isGlobalUnit(options: readonly UnitOption[]): boolean {
  return requirements(options).global;
}

/** fleet's MatchID: the full ID, or exactly its first 8 characters. */
export function machineIdMatches(required: string, machineId: string): boolean {
  return required === machineId || (required.length === 8 && machineId.slice(0, 8) === required);
}

/** fleet's HasMetadata: every required key has one of its values on the machine. */
export function metadataMatches(required: ReadonlyMap<string, readonly string[]>, machine: Readonly<Record<string, string>>): boolean {
  for (const [key, values] of required) {
    const have = Object.prototype.hasOwnProperty.call(machine, key) ? machine[key] : undefined;
    if (have === undefined || !values.includes(have)) return false;
  }
  return true;
}
