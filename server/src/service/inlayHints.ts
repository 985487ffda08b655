/**
 * Inlay hints for a range: what a specifier expands to for this file (`%n` → `web@1.service`;
 * `%m` from the connected cluster when the unit is scheduled), the normalised value of a time
 * span (`90` → `1min 30s`), and for `MachineID=` the machine's IP and metadata.
 */
import { InlayHintKind, type InlayHint } from 'vscode-languageserver-types';
import { machineIdMatches, specifierValue, XFLEET_SECTION, xfleetKey } from '../../../unitfile/src';
import type { ServiceContext, UnitDocument } from './types';

const USEC: Record<string, number> = {};
for (const [names, usec] of [
  [['usec', 'us', 'µs', 'μs'], 1],
  [['msec', 'ms'], 1e3],
  [['seconds', 'second', 'sec', 's', ''], 1e6],
  [['minutes', 'minute', 'min', 'm'], 60e6],
  [['hours', 'hour', 'hr', 'h'], 3600e6],
  [['days', 'day', 'd'], 86400e6],
  [['weeks', 'week', 'w'], 604800e6],
  [['months', 'month', 'M'], 2629800e6],
  [['years', 'year', 'y'], 31557600e6],
] as const)
  for (const n of names) USEC[n] = usec;

/** systemd's parse_sec: "1min 30", "90", "1.5h" → microseconds; undefined when not a time span. */
export function parseTimespan(value: string): number | undefined {
  const v = value.trim();
  if (v === '' || v === 'infinity') return undefined;
  const re = /\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Zµμ]*)/y;
  let total = 0,
    at = 0;
  while (at < v.length) {
    re.lastIndex = at;
    const m = re.exec(v);
    if (!m || m[0].length === 0) return undefined;
    const unit = USEC[m[2]!];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    at = re.lastIndex;
  }
  return Math.round(total);
}

const FORMAT_UNITS: [string, number][] = [
  ['y', 31557600e6],
  ['month', 2629800e6],
  ['w', 604800e6],
  ['d', 86400e6],
  ['h', 3600e6],
  ['min', 60e6],
  ['s', 1e6],
  ['ms', 1e3],
  ['us', 1],
];

/** systemd's format_timespan (accuracy 1us): 90000000 → "1min 30s". */
export function formatTimespan(usec: number): string {
  if (usec === 0) return '0';
  const parts: string[] = [];
  let rest = usec;
  for (const [name, size] of FORMAT_UNITS) {
    if (rest < size) continue;
    const n = Math.floor(rest / size);
    rest -= n * size;
    parts.push(`${n}${name}`);
  }
  return parts.join(' ');
}

export function inlayHints(doc: UnitDocument, range: { start: number; end: number }, ctx: ServiceContext): InlayHint[] {
  const { file, document } = doc;
  const text = file.text;
  const out: InlayHint[] = [];
  const hint = (offset: number, label: string, tooltip: string): InlayHint => ({
    position: document.positionAt(offset),
    label,
    kind: InlayHintKind.Parameter,
    paddingLeft: true,
    tooltip,
  });
  const scheduledOn = doc.unitName !== undefined ? ctx.cluster?.unitDetails?.find(u => u.name === doc.unitName)?.machineID : undefined;
  // The first option that ends at or after the range (options are in text order).
  let lo = 0,
    hi = file.options.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (file.options[mid]!.end < range.start) lo = mid + 1;
    else hi = mid;
  }
  for (let k = lo; k < file.options.length; k++) {
    const o = file.options[k]!;
    if (o.start > range.end) break;
    const value = text.slice(o.valueStart, o.valueEnd);
    for (let i = value.indexOf('%'); i >= 0 && i < value.length - 1; i = value.indexOf('%', i + 2)) {
      const spec = value.slice(i, i + 2);
      const expanded = spec === '%m' ? scheduledOn : doc.unitName !== undefined ? specifierValue(spec, doc.unitName) : undefined;
      if (expanded === undefined) continue;
      const where = spec === '%m' ? 'the machine the connected cluster scheduled this unit to' : `this file's name ${doc.unitName}`;
      out.push(hint(o.valueStart + i + 2, `= ${expanded}`, `${spec} expands to "${expanded}" for ${where}.`));
    }
    if (o.section === XFLEET_SECTION) {
      if (xfleetKey(o.name)?.kind === 'machineId' && ctx.cluster && value !== '') {
        const m = ctx.cluster.machines.find(x => machineIdMatches(value, x.id));
        if (m) {
          const meta = Object.entries(m.metadata ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          out.push(hint(o.valueEnd, [m.primaryIP ?? 'no IP', ...(meta ? [meta] : [])].join(' · '), `Machine ${m.id} of the connected cluster.`));
        }
      }
      continue;
    }
    const d = ctx.catalog.lookupDirective(o.section, o.name);
    if (d?.kind !== 'timespan' || value.includes('%') || o.lineCount > 1) continue;
    const usec = parseTimespan(value);
    if (usec === undefined) continue;
    const normal = formatTimespan(usec);
    if (normal !== value) out.push(hint(o.valueEnd, `= ${normal}`, `${o.name}=${value} is ${normal} (a number without a unit means seconds).`));
  }
  return out;
}
