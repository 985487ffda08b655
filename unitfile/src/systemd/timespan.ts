/**
 * systemd's time spans (systemd.time(7), parse_time() in time-util.c): the one parser both the
 * editor's checks and fleetd's agent use. A span is one or more `<number>[<unit>]` parts,
 * optionally separated by white space (`2h 30min`, `55s500ms`); a number may have a fraction, and
 * a trailing dot is accepted (`5.` is 5 s, as strtoll then "." then no digits); a bare number
 * is in the default unit (seconds, or nanoseconds for the `…NSec` settings); `infinity` is
 * unbounded. Returns milliseconds, Infinity for `infinity`, or undefined when systemd would
 * refuse the text.
 */

/** Unit → milliseconds (systemd's table: m is minutes, M months; a month is 30.44 days, a year 365.25). */
const UNITS: Readonly<Record<string, number>> = {
  nsec: 1e-6,
  ns: 1e-6,
  usec: 1e-3,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  msec: 1,
  ms: 1,
  seconds: 1000,
  second: 1000,
  sec: 1000,
  s: 1000,
  minutes: 60_000,
  minute: 60_000,
  min: 60_000,
  m: 60_000,
  hours: 3_600_000,
  hour: 3_600_000,
  hr: 3_600_000,
  h: 3_600_000,
  days: 86_400_000,
  day: 86_400_000,
  d: 86_400_000,
  weeks: 604_800_000,
  week: 604_800_000,
  w: 604_800_000,
  months: 2_629_800_000,
  month: 2_629_800_000,
  M: 2_629_800_000,
  years: 31_557_600_000,
  year: 31_557_600_000,
  y: 31_557_600_000,
};
const NSEC_ONLY = new Set(['nsec', 'ns']);

export interface TimespanOptions {
  /** A `…NSec` setting: nanoseconds are a unit, and the default unit of a bare number. */
  nsec?: boolean;
}

export function parseTimespan(text: string, options: TimespanOptions = {}): number | undefined {
  const t = text.trim();
  if (t === 'infinity') return Infinity;
  if (t === '') return undefined;
  const defaultMs = options.nsec ? 1e-6 : 1000;
  let total = 0;
  let i = 0;
  while (i < t.length) {
    const m = /^(\d*)(?:\.(\d*))?/.exec(t.slice(i))!;
    // A part needs digits before or after the dot ("5", "5.", ".5"; not ".").
    if (m[0] === '' || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
    i += m[0].length;
    while (i < t.length && /\s/.test(t[i]!)) i++;
    const unit = /^[a-zA-Zµμ]*/.exec(t.slice(i))![0];
    i += unit.length;
    let factor: number | undefined;
    if (unit === '') factor = defaultMs;
    else if (NSEC_ONLY.has(unit) && !options.nsec) return undefined;
    else factor = UNITS[unit];
    if (factor === undefined) return undefined;
    total += (Number(m[1] || '0') + Number(`0.${m[2] ?? ''}` || '0')) * factor;
    while (i < t.length && /\s/.test(t[i]!)) i++;
  }
  return total;
}

/** True when systemd accepts the text as a time span. */
export function isTimespan(text: string, nsec = false): boolean {
  return parseTimespan(text, { nsec }) !== undefined;
}

/** How systemd prints a span (format_timespan, to the millisecond): `1min 30s`, `500ms`, `infinity`. */
export function formatTimespan(ms: number): string {
  if (ms === Infinity) return 'infinity';
  if (ms === 0) return '0';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['y', 31_557_600_000],
    ['month', 2_629_800_000],
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  return parts.join(' ') || `${ms}ms`;
}
