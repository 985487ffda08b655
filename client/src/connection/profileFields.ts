/**
 * One parser per profile field, as fleetctl reads its flags: each returns the value or a message
 * saying what is wrong and what to write (profile.ts). No `vscode`, no I/O.
 */
import path from 'node:path';
import { ETCD_PORTS, type ClusterDriver } from './profileTypes';

// ---------------------------------------------------------------------------------------------
// Field parsers. Each returns the value or a message saying what is wrong and what to write.

type Parsed<T> = { value: T } | { error: string };

/** Validates and normalises an endpoint URL as fleetctl's getHTTPClient does. */
export function parseEndpoint(raw: string): Parsed<string> & { warning?: string } {
  let text = raw.trim();
  let warning: string | undefined;
  if (text.includes(',')) {
    const first = text.split(',')[0]!.trim();
    warning = `several endpoints given; only the first (${first}) is used, as fleetctl does`;
    text = first;
  }
  if (text === '') return { error: 'the endpoint is empty; write e.g. unix:///var/run/fleet.sock or http://10.0.0.1:49153' };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (!scheme) {
    return { error: `"${text}" has no scheme; write http://${text} (TCP) or unix:///path/to/fleet.sock (unix socket)` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { error: `"${text}" is not a valid URL; write e.g. http://10.0.0.1:49153` };
  }
  if (scheme === 'unix' || scheme === 'file') {
    if (url.host !== '') {
      return {
        error: `unable to connect to host "${url.host}" with scheme "${scheme}": a unix socket needs three slashes, e.g. unix:///${url.host}${url.pathname}`,
      };
    }
    const socketPath = decodeURIComponent(url.pathname);
    if (socketPath === '' || socketPath === '/') return { error: `"${text}" names no socket; write e.g. unix:///var/run/fleet.sock` };
    return { value: `unix://${socketPath}`, ...(warning ? { warning } : {}) };
  }
  if (scheme !== 'http' && scheme !== 'https') {
    return { error: `unsupported scheme "${scheme}" in "${text}"; use http://, https:// or unix://` };
  }
  if (url.hostname === '') return { error: `"${text}" has no host; write e.g. http://10.0.0.1:49153` };
  if (url.search || url.hash) return { error: `"${text}" must not have a query or fragment; write just ${scheme}://${url.host}${url.pathname}` };
  const prefix = url.pathname.replace(/\/+$/, '');
  return { value: `${scheme}://${url.host}${prefix}`, ...(warning ? { warning } : {}) };
}

/** fleetctl's --tunnel: `host[:port]`, `:22` appended without a port; IPv6 as `[::1]:22`. */
export function parseTunnel(raw: string): Parsed<{ host: string; port: number | undefined }> {
  const text = raw.trim();
  if (text === '') return { error: 'the tunnel is empty; write host or host:port' };
  if (/[\s/@]/.test(text)) {
    return { error: `"${text}" is not host[:port]; write the user in sshUser and no scheme or path (e.g. 10.0.0.1:22)` };
  }
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, portText] = text.split(':') as [string, string];
  } else if (text.includes(':')) {
    return { error: `"${text}" looks like an IPv6 address; write it as [${text}]:22` };
  }
  if (host === '') return { error: `"${text}" has no host; write host or host:port` };
  if (portText === undefined) return { value: { host, port: undefined } };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    return { error: `"${portText}" in "${text}" is not a port (1–65535)` };
  }
  return { value: { host, port } };
}

/** Go's strconv.ParseBool, which fleetctl's boolean flags (and so FLEETCTL_*) use. */
export function parseGoBool(raw: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  return undefined;
}

/** Seconds (fleetctl's float flags, e.g. `3.0`) to milliseconds. */
export function parseSeconds(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(text)) return undefined;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined;
}

/** `~` and `~/x` expanded against home; other paths unchanged. */
export function expandHome(file: string, home: string): string {
  if (file === '~') return home;
  if (file.startsWith('~/')) return path.join(home, file.slice(2));
  return file;
}

/** fleetctl's driver names (`API`, `etcd`), case-insensitively. */
export function parseDriver(raw: string): ClusterDriver | undefined {
  const d = raw.trim().toLowerCase();
  return d === 'api' ? 'api' : d === 'etcd' ? 'etcd' : undefined;
}

/**
 * The driver a profile uses: the one it names, else — friendlier than fleetctl v1.0.0, whose own
 * port-based switch never takes effect — etcd for an endpoint on etcd's ports 2379 and 4001.
 */
export function driverOf(p: { driver?: ClusterDriver | undefined; endpoint: string }): ClusterDriver {
  if (p.driver) return p.driver;
  const m = /^https?:\/\/(?:\[[^\]]+\]|[^/:]+):(\d+)/i.exec(p.endpoint);
  return m && ETCD_PORTS.includes(Number(m[1])) ? 'etcd' : 'api';
}
