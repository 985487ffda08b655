/**
 * The systemd directive catalog: sections and directives per unit type and systemd version,
 * read from the generated data (catalog.data.ts, made by scripts/catalog/generate.mjs from
 * systemd's own tables). Lookups are precomputed maps, so rules can call them per line.
 */
import { CATALOG_VERSIONS as VERSIONS, ENUMS, ROWS, SECTION_SPANS, type CatalogRow } from './catalog.data';
import { ENUM_VALUE_DOCS } from './enumDocs';
import type { Directive, SectionInfo, ValueFormat, ValueKind } from './types';

export { BOOLEAN_VALUES, validateValue, splitWords, isUnitName, type ValueProblem } from './values';

/** The systemd versions the catalog was generated from, ascending. */
export const CATALOG_VERSIONS: readonly number[] = VERSIONS;

/** Every catalogued enum: its string table's name → its values. */
export const ENUM_TABLES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(ENUMS).map(([name, values]) => [name, values.map(([v]) => v)]),
);

/** One line on what an enum value does (`Restart=on-failure` → "Restarted on a non-zero exit, …"). */
export function enumValueDoc(d: { enumName?: string }, value: string): string | undefined {
  return d.enumName ? ENUM_VALUE_DOCS[d.enumName]?.[value] : undefined;
}
export const OLDEST_CATALOGED_VERSION = VERSIONS[0]!;
export const LATEST_CATALOGED_VERSION = VERSIONS[VERSIONS.length - 1]!;

const MAN = 'https://www.freedesktop.org/software/systemd/man/latest/';

const SECTION_DEFS: readonly [string, readonly string[], string, string][] = [
  ['Unit', ['*'], 'Generic settings of every unit: description, dependencies, ordering, conditions.', 'systemd.unit.html#%5BUnit%5D%20Section%20Options'],
  ['Install', ['*'], 'How the unit is enabled: the targets that pull it in, aliases, companions.', 'systemd.unit.html#%5BInstall%5D%20Section%20Options'],
  [
    'Service',
    ['service'],
    'How the service runs: its type, commands, restarts and timeouts, plus execution, kill and resource settings.',
    'systemd.service.html',
  ],
  ['Socket', ['socket'], 'The sockets or FIFOs to listen on and how they activate their service.', 'systemd.socket.html'],
  ['Mount', ['mount'], 'A file system mount: what, where, type and options.', 'systemd.mount.html'],
  ['Automount', ['automount'], 'A mount point mounted on first access.', 'systemd.automount.html'],
  ['Swap', ['swap'], 'A swap device or file to activate.', 'systemd.swap.html'],
  ['Timer', ['timer'], 'When the timer elapses and which unit it activates.', 'systemd.timer.html'],
  ['Path', ['path'], 'The file system paths to watch and the unit they activate.', 'systemd.path.html'],
  ['Slice', ['slice'], 'Resource limits for the group of units placed in this slice.', 'systemd.slice.html'],
  ['Scope', ['scope'], 'Resource and kill settings of a group of externally created processes.', 'systemd.scope.html'],
  ['BusName', ['busname'], 'A kdbus bus name (removed from systemd with kdbus).', 'systemd.busname.html'],
];

export const SECTIONS: readonly SectionInfo[] = SECTION_DEFS.map(([name, unitTypes, description, page]) => {
  const info: SectionInfo = { name, unitTypes, description, docUrl: MAN + page };
  const span = SECTION_SPANS[name];
  if (span && span[0] > OLDEST_CATALOGED_VERSION) info.since = span[0];
  if (span && span[1] > 0) info.removed = span[1];
  return info;
});

/** Every unit type systemd knows (the file suffixes). */
export const UNIT_TYPES = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope'] as const;

const sectionByName = new Map(SECTIONS.map(s => [s.name, s]));

export function sectionInfo(name: string): SectionInfo | undefined {
  return sectionByName.get(name);
}

const appliesTo = (s: SectionInfo, unitType: string) => s.unitTypes.includes('*') || s.unitTypes.includes(unitType);

/** The sections a unit of this type may contain, [Unit] first. */
export function sectionsFor(unitType: string): SectionInfo[] {
  return SECTIONS.filter(s => appliesTo(s, unitType));
}

const PAGE_OF_SECTION: Record<string, string> = {
  Unit: 'unit',
  Install: 'unit',
  Service: 'service',
  Socket: 'socket',
  Mount: 'mount',
  Automount: 'automount',
  Swap: 'swap',
  Timer: 'timer',
  Path: 'path',
  Slice: 'resource-control',
  Scope: 'scope',
  BusName: 'busname',
};

const KIND_PHRASE: Record<ValueKind, string> = {
  boolean: 'Boolean setting',
  timespan: 'Time span',
  size: 'Size in bytes (K, M, G, … suffixes)',
  integer: 'Number',
  percent: 'Percentage',
  enum: 'One of a fixed set of values',
  path: 'Absolute path',
  paths: 'List of absolute paths',
  command: 'Command line',
  units: 'List of unit names',
  unit: 'Unit name',
  signal: 'Signal',
  mode: 'Octal file mode',
  user: 'User or group',
  environment: 'Environment assignments',
  string: 'Setting',
};

function toDirective(row: CatalogRow): Directive {
  const [section, name, kind, since, removed, flags, enumRef, page, depSince, replacement, format, prefixes, description] = row;
  const k = kind as ValueKind;
  const d: Directive = {
    name,
    section,
    kind: k,
    since,
    multiple: flags.includes('m'),
    description:
      description || `${KIND_PHRASE[k]} of the [${section}] section${page ? ` (${page === 'resource-control' ? 'resource control' : page} settings)` : ''}.`,
    docUrl: `${MAN}systemd.${page || PAGE_OF_SECTION[section] || 'directives'}.html#${name}=`,
  };
  if (removed) d.removed = removed;
  if (enumRef) {
    const values = ENUMS[enumRef] ?? [];
    d.values = values.map(([v]) => v);
    d.enumName = enumRef;
    const later = values.filter(([, s]) => s > since);
    if (later.length) d.valueSince = Object.fromEntries(later);
  }
  if (flags.includes('b')) d.acceptsBoolean = true;
  if (prefixes) d.valuePrefixes = prefixes.split(' ');
  if (format) d.format = format as ValueFormat;
  if (flags.includes('e')) d.emptyInvalid = true;
  if (depSince) {
    d.deprecated = { since: depSince };
    if (replacement) d.deprecated.replacement = replacement;
    const ignored = /i(\d+)/.exec(flags);
    if (ignored) d.deprecated.ignoredSince = Number(ignored[1]);
    if (ignored || flags.includes('w')) d.deprecated.warns = true;
    if (flags.includes('u')) d.deprecated.replacementSection = 'Unit';
  }
  return d;
}

/** Every directive in the catalog, in data order (section, then name). */
export const DIRECTIVES: readonly Directive[] = ROWS.map(toDirective);

const bySectionAndName = new Map<string, Map<string, Directive>>();
const byName = new Map<string, Directive[]>();
for (const d of DIRECTIVES) {
  let m = bySectionAndName.get(d.section);
  if (!m) bySectionAndName.set(d.section, (m = new Map()));
  m.set(d.name, d);
  const list = byName.get(d.name);
  if (list) list.push(d);
  else byName.set(d.name, [d]);
}

/** Known in this version: catalogued since at or before it, not removed at or before it. */
export function knownIn(d: { since: number; removed?: number }, version: number): boolean {
  return d.since <= version && (d.removed === undefined || d.removed > version);
}

/**
 * Directives of a section for a unit type. With a version, only those that version knows;
 * without, those the latest catalogued version knows.
 */
export function directivesFor(section: string, unitType: string, version?: number): Directive[] {
  const info = sectionByName.get(section);
  if (!info || !appliesTo(info, unitType)) return [];
  const v = version ?? LATEST_CATALOGED_VERSION;
  return [...(bySectionAndName.get(section)?.values() ?? [])].filter(d => knownIn(d, v));
}

/** The directive `name` of `section` in any catalogued version (and, given a type, only if the section applies to it). */
export function lookupDirective(section: string, name: string, unitType?: string): Directive | undefined {
  if (unitType !== undefined) {
    const info = sectionByName.get(section);
    if (!info || !appliesTo(info, unitType)) return undefined;
  }
  return bySectionAndName.get(section)?.get(name);
}

/** Every section's directive of that name (e.g. ExecStartPre in [Service] and [Socket]). */
export function findDirective(name: string): readonly Directive[] {
  return byName.get(name) ?? [];
}

/** All directive names of a section (any version), for did-you-mean. */
export function directiveNames(section: string): string[] {
  return [...(bySectionAndName.get(section)?.keys() ?? [])];
}

/**
 * Values systemd still accepts but warns about when it loads the unit (hand-kept: systemd has no
 * table for these), by directive name; `replacement` is what systemd switches to or advises.
 */
export const DEPRECATED_VALUES: Readonly<Record<string, Readonly<Record<string, { since: number; replacement?: string; note: string }>>>> = {
  StandardOutput: {
    syslog: { since: 247, replacement: 'journal', note: 'systemd logs a warning and uses journal instead' },
    'syslog+console': { since: 247, replacement: 'journal+console', note: 'systemd logs a warning and uses journal+console instead' },
  },
  StandardError: {
    syslog: { since: 247, replacement: 'journal', note: 'systemd logs a warning and uses journal instead' },
    'syslog+console': { since: 247, replacement: 'journal+console', note: 'systemd logs a warning and uses journal+console instead' },
  },
  KillMode: {
    none: { since: 247, note: "it disables systemd's process lifecycle management; use mixed or control-group" },
  },
};

/** The specifiers systemd expands in unit files, with what each stands for. */
export const SYSTEMD_SPECIFIERS: readonly { specifier: string; meaning: string }[] = [
  { specifier: '%a', meaning: 'architecture (x86-64, arm64, …)' },
  { specifier: '%A', meaning: 'operating system image version' },
  { specifier: '%b', meaning: 'boot ID' },
  { specifier: '%B', meaning: 'operating system build ID' },
  { specifier: '%C', meaning: 'cache directory root (/var/cache, or the user cache directory)' },
  { specifier: '%d', meaning: 'credentials directory of the unit' },
  { specifier: '%D', meaning: 'shared data directory (/usr/share, or the user data directory)' },
  { specifier: '%E', meaning: 'configuration directory root (/etc, or the user config directory)' },
  { specifier: '%f', meaning: 'unescaped file name: the instance, or the prefix, with / prepended' },
  { specifier: '%g', meaning: 'group name of the service manager' },
  { specifier: '%G', meaning: 'group ID of the service manager' },
  { specifier: '%h', meaning: "home directory of the service manager's user" },
  { specifier: '%H', meaning: 'host name' },
  { specifier: '%i', meaning: 'instance name (the part after @, escaped)' },
  { specifier: '%I', meaning: 'instance name, unescaped' },
  { specifier: '%j', meaning: 'final component of the prefix (after the last -)' },
  { specifier: '%J', meaning: 'final component of the prefix, unescaped' },
  { specifier: '%l', meaning: 'short host name (up to the first dot)' },
  { specifier: '%L', meaning: 'log directory root (/var/log, or the user log directory)' },
  { specifier: '%m', meaning: 'machine ID' },
  { specifier: '%M', meaning: 'operating system image identifier' },
  { specifier: '%n', meaning: 'full unit name' },
  { specifier: '%N', meaning: 'full unit name without the type suffix' },
  { specifier: '%o', meaning: 'operating system ID' },
  { specifier: '%p', meaning: 'prefix name (the part before @, or the whole name without suffix)' },
  { specifier: '%P', meaning: 'prefix name, unescaped' },
  { specifier: '%q', meaning: 'pretty host name' },
  { specifier: '%s', meaning: "user shell of the service manager's user" },
  { specifier: '%S', meaning: 'state directory root (/var/lib, or the user state directory)' },
  { specifier: '%t', meaning: 'runtime directory root (/run, or $XDG_RUNTIME_DIR)' },
  { specifier: '%T', meaning: 'temporary directory (/tmp or $TMPDIR)' },
  { specifier: '%u', meaning: 'user name of the service manager' },
  { specifier: '%U', meaning: 'user ID of the service manager' },
  { specifier: '%v', meaning: 'kernel release (uname -r)' },
  { specifier: '%V', meaning: 'directory for larger temporary files (/var/tmp or $TMPDIR)' },
  { specifier: '%w', meaning: 'operating system version ID' },
  { specifier: '%W', meaning: 'operating system variant ID' },
  { specifier: '%y', meaning: "path of the unit's fragment file" },
  { specifier: '%Y', meaning: "directory of the unit's fragment file" },
  { specifier: '%%', meaning: 'a literal percent sign' },
];
