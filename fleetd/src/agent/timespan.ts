/**
 * systemd time spans (systemd.time(7)): "90", "5s", "1min 30s", "500ms", "2h", "infinity".
 * A bare number is seconds. Returns milliseconds, Infinity for "infinity", or undefined when the
 * text is not a time span (the caller reports it and keeps the default, as systemd does).
 */
const UNITS: Record<string, number> = {
  us: 0.001, usec: 0.001, 'µs': 0.001, 'μs': 0.001,
  ms: 1, msec: 1,
  s: 1000, sec: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
  M: 2_629_800_000, month: 2_629_800_000, months: 2_629_800_000,
  y: 31_557_600_000, year: 31_557_600_000, years: 31_557_600_000,
};

export function parseTimespan(text: string): number | undefined {
  const t = text.trim();
  if (t === 'infinity') return Infinity;
  if (t === '') return undefined;
  let total = 0;
  let rest = t;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Zµμ]*)\s*/.exec(rest);
    if (!m) return undefined;
    const unit = m[2]!;
    const factor = unit === '' ? 1000 : UNITS[unit];
    if (factor === undefined) return undefined;
    total += Number(m[1]) * factor;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** A timeout directive's value: "0" and "infinity" both disable the timeout. */
export function parseTimeout(text: string): number | undefined {
  const v = parseTimespan(text);
  if (v === undefined) return undefined;
  return v === 0 ? Infinity : v;
}

/** "90s", "100ms", "infinity": how a duration reads in a message. */
export function formatTimespan(ms: number): string {
  if (ms === Infinity) return 'infinity';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
