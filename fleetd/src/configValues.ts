/**
 * The grammars of fleetd's flag values (metadata pairs, Go durations, HOST:PORT, seconds, etcd
 * endpoints), each refusing bad text with a ConfigError that names the flag (or its FLEET_*
 * variable) and gives an example.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** fleet's metadata syntax: `k=v,k2=v2`; pairs trimmed; split on the first `=`; malformed pairs rejected here with the pair named. */
export function parseMetadata(text: string, what = '--metadata'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const pair = raw.trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${what}: "${pair}" is not key=value (example: region=us-east,disk=ssd)`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("30s", "1m30s", "500ms") in milliseconds. */
export function parseGoDuration(text: string, what: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) throw new ConfigError(`${what}: "${text}" is not a duration (examples: 30s, 1m30s, 500ms)`);
  return total;
}

export function parseListen(text: string, what: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${what}: "${text}" is not HOST:PORT (example: 127.0.0.1:49153; port 0 picks a free port)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function parseSeconds(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new ConfigError(`${what}: "${text}" is not a number of seconds between 0 and 3600 (example: 2)`);
  return n * 1000;
}

export function parseEndpoints(text: string, what: string): string[] {
  const list = text
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError(`${what}: no etcd endpoint given (example: http://127.0.0.1:2379)`);
  for (const url of list) {
    if (!/^(https?:\/\/[^/]+|unix:\/\/\/.+)/.test(url))
      throw new ConfigError(`${what}: "${url}" is not an http(s) URL or a unix:///path socket (example: http://127.0.0.1:2379)`);
  }
  return list;
}
