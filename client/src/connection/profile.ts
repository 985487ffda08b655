/**
 * Cluster profiles: where a fleet API is and how to reach it (directly, or through an SSH
 * tunnel as `fleetctl --tunnel` does). `resolveProfiles` turns the user's `fleet.clusters`
 * setting plus fleetctl's `FLEETCTL_*` environment into validated profiles, and every
 * rejected value into a problem that names the profile, the field and the fix.
 *
 * Plain Node: no `vscode` import. The only I/O is reading ~/.ssh/config (overridable).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';

export const DEFAULT_ENDPOINT = 'unix:///var/run/fleet.sock';
export const DEFAULT_SSH_USER = 'core';
export const DEFAULT_KNOWN_HOSTS_FILE = '~/.fleetctl/known_hosts';
export const DEFAULT_SSH_PORT = 22;
/** fleetctl's --ssh-timeout default (10.0 s). */
export const DEFAULT_SSH_TIMEOUT_MS = 10_000;
/**
 * fleetctl's API driver has no request timeout at all (a silent server hangs it forever); an
 * editor must not hang, so requests time out after this unless the profile says otherwise.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const ENVIRONMENT_PROFILE_NAME = 'FLEETCTL environment';
/** fleet's etcd_key_prefix default. */
export const DEFAULT_ETCD_KEY_PREFIX = '/_coreos.com/fleet/';
/** etcd's client ports: an endpoint on one of them selects the etcd driver when no driver is given. */
export const ETCD_PORTS = [2379, 4001];

/** How the extension talks to the cluster: fleet's HTTP API, or fleet's registry in etcd (fleetctl --driver). */
export type ClusterDriver = 'api' | 'etcd';

/** Where the tunnel goes after ~/.ssh/config aliases are applied. */
export interface SshTarget {
  /** The host to dial (ssh config `HostName`, else the tunnel host). */
  host: string;
  port: number;
  user: string;
  /** The name the user wrote, when an ssh config `Host` alias rewrote it. */
  alias?: string;
  identityFile?: string;
}

export interface ClusterProfile {
  name: string;
  /** `http://host:port[/prefix]`, `https://…` or `unix:///path` (fleetctl's `file://` is normalised to `unix://`); with the etcd driver, etcd's URL. */
  endpoint: string;
  /** fleetctl's --driver: `api` (fleet's HTTP API) or `etcd` (fleet's v2 keyspace in etcd). */
  driver: ClusterDriver;
  /** With the etcd driver: fleet's key prefix (fleetctl's --etcd-key-prefix). */
  etcdKeyPrefix: string;
  /** `host:port` of the SSH bastion, as fleetctl's --tunnel (`:22` appended when no port was given). */
  tunnel?: string;
  /** The tunnel after ~/.ssh/config; present exactly when `tunnel` is. */
  tunnelTarget?: SshTarget;
  sshUser: string;
  /** A private key file; without one the tunnel authenticates with ssh-agent (SSH_AUTH_SOCK), as fleetctl does. */
  identityFile?: string;
  /** Absolute path (`~` expanded). */
  knownHostsFile: string;
  strictHostKeyChecking: boolean;
  requestTimeoutMs: number;
  sshTimeoutMs: number;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Where the profile came from. */
  source: 'settings' | 'environment';
}

export interface ProfileProblem {
  /** The profile's name, or `fleet.clusters[i]` when it has none. */
  profile: string;
  /** The offending field or environment variable. */
  field?: string;
  severity: 'error' | 'warning';
  message: string;
}

export interface ResolvedProfiles {
  profiles: ClusterProfile[];
  problems: ProfileProblem[];
}

export interface ResolveOptions {
  /** Home directory for `~` (default: $HOME, else os.homedir()). */
  home?: string;
  /** The text of ~/.ssh/config; default: read `<home>/.ssh/config` if it exists. Pass '' to ignore it. */
  sshConfig?: string;
}

/** The FLEETCTL_* variables fleetctl reads for the flags a connection uses. */
export const FLEETCTL_ENV = [
  'FLEETCTL_ENDPOINT',
  'FLEETCTL_TUNNEL',
  'FLEETCTL_SSH_USERNAME',
  'FLEETCTL_KNOWN_HOSTS_FILE',
  'FLEETCTL_STRICT_HOST_KEY_CHECKING',
  'FLEETCTL_REQUEST_TIMEOUT',
  'FLEETCTL_SSH_TIMEOUT',
  'FLEETCTL_CA_FILE',
  'FLEETCTL_CERT_FILE',
  'FLEETCTL_KEY_FILE',
  'FLEETCTL_DRIVER',
  'FLEETCTL_ETCD_KEY_PREFIX',
] as const;

/** Fields a `fleet.clusters` entry may have (package.json's schema describes each: client/test/profile.test.ts checks). */
export const PROFILE_FIELDS = [
  'name', 'endpoint', 'tunnel', 'sshUser', 'sshUsername', 'identityFile', 'knownHostsFile', 'strictHostKeyChecking',
  'requestTimeout', 'requestTimeoutMs', 'sshTimeout', 'sshTimeoutMs', 'caFile', 'certFile', 'keyFile', 'driver', 'etcdKeyPrefix',
] as const;

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
function parseSeconds(raw: string): number | undefined {
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

// ---------------------------------------------------------------------------------------------

interface Draft {
  name: string;
  endpoint: string;
  tunnel?: { host: string; port: number | undefined };
  sshUser?: string;
  identityFile?: string;
  knownHostsFile?: string;
  strictHostKeyChecking?: boolean;
  requestTimeoutMs?: number;
  sshTimeoutMs?: number;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  driver?: ClusterDriver;
  etcdKeyPrefix?: string;
  source: ClusterProfile['source'];
}

function loadSshConfig(options: ResolveOptions, home: string, problems: ProfileProblem[]): SSHConfig | undefined {
  let text = options.sshConfig;
  const file = path.join(home, '.ssh', 'config');
  if (text === undefined) {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        problems.push({ profile: '~/.ssh/config', severity: 'warning', message: `cannot read ${file}: ${(err as Error).message}; host aliases are ignored` });
      }
      return undefined;
    }
  }
  if (text.trim() === '') return undefined;
  try {
    return SSHConfig.parse(text);
  } catch (err) {
    problems.push({ profile: '~/.ssh/config', severity: 'warning', message: `cannot parse ${file}: ${(err as Error).message}; host aliases are ignored` });
    return undefined;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Applies ~/.ssh/config (`HostName`, `Port`, `User`, `IdentityFile`) to the tunnel host; the profile's own values win. */
function sshTarget(draft: Draft, sshConfig: SSHConfig | undefined, home: string, problems: ProfileProblem[]): SshTarget | undefined {
  if (!draft.tunnel) return undefined;
  const computed = sshConfig?.compute(draft.tunnel.host) ?? {};
  for (const unsupported of ['ProxyJump', 'ProxyCommand']) {
    if (computed[unsupported] !== undefined && first(computed[unsupported]) !== 'none') {
      problems.push({
        profile: draft.name,
        field: 'tunnel',
        severity: 'warning',
        message: `profile "${draft.name}": ~/.ssh/config sets ${unsupported} for ${draft.tunnel.host}, which the extension does not follow (nor does fleetctl); the tunnel dials it directly. Use the jump host itself as the tunnel.`,
      });
    }
  }
  const hostName = first(computed['HostName']);
  const configPort = Number(first(computed['Port']));
  const configUser = first(computed['User']);
  const configIdentity = first(computed['IdentityFile']);
  const host = hostName ? hostName.replace(/%h/g, draft.tunnel.host) : draft.tunnel.host;
  const identity = draft.identityFile ? expandHome(draft.identityFile, home) : configIdentity ? expandHome(configIdentity, home) : undefined;
  return {
    host,
    port: draft.tunnel.port ?? (Number.isInteger(configPort) && configPort > 0 ? configPort : DEFAULT_SSH_PORT),
    user: draft.sshUser ?? configUser ?? DEFAULT_SSH_USER,
    ...(host !== draft.tunnel.host ? { alias: draft.tunnel.host } : {}),
    ...(identity ? { identityFile: identity } : {}),
  };
}

function finish(draft: Draft, sshConfig: SSHConfig | undefined, home: string, problems: ProfileProblem[]): ClusterProfile {
  const target = sshTarget(draft, sshConfig, home, problems);
  const profile: ClusterProfile = {
    name: draft.name,
    endpoint: draft.endpoint,
    driver: driverOf(draft),
    etcdKeyPrefix: draft.etcdKeyPrefix ?? DEFAULT_ETCD_KEY_PREFIX,
    sshUser: target?.user ?? draft.sshUser ?? DEFAULT_SSH_USER,
    knownHostsFile: expandHome(draft.knownHostsFile ?? DEFAULT_KNOWN_HOSTS_FILE, home),
    strictHostKeyChecking: draft.strictHostKeyChecking ?? true,
    requestTimeoutMs: draft.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    sshTimeoutMs: draft.sshTimeoutMs ?? DEFAULT_SSH_TIMEOUT_MS,
    source: draft.source,
  };
  if (draft.tunnel && target) {
    profile.tunnel = `${draft.tunnel.host.includes(':') ? `[${draft.tunnel.host}]` : draft.tunnel.host}:${draft.tunnel.port ?? target.port}`;
    profile.tunnelTarget = target;
  }
  const identity = target?.identityFile ?? (draft.identityFile ? expandHome(draft.identityFile, home) : undefined);
  if (identity) profile.identityFile = identity;
  if (draft.caFile) profile.caFile = expandHome(draft.caFile, home);
  if (draft.certFile) profile.certFile = expandHome(draft.certFile, home);
  if (draft.keyFile) profile.keyFile = expandHome(draft.keyFile, home);
  return profile;
}

/** Checks that belong to the whole profile rather than one field. */
function crossCheck(draft: Draft, problems: ProfileProblem[]): boolean {
  let ok = true;
  const driver = driverOf(draft);
  if (driver === 'etcd' && draft.endpoint.startsWith('unix://')) {
    problems.push({
      profile: draft.name,
      field: draft.source === 'environment' ? 'FLEETCTL_ENDPOINT' : 'endpoint',
      severity: 'error',
      message: `profile "${draft.name}": the etcd driver reaches etcd over http:// or https:// (e.g. http://10.0.0.1:2379), and the endpoint is ${draft.endpoint}; for fleet's unix socket use the API driver`,
    });
    ok = false;
  }
  if (draft.etcdKeyPrefix !== undefined && !draft.etcdKeyPrefix.startsWith('/')) {
    problems.push({ profile: draft.name, field: 'etcdKeyPrefix', severity: 'error', message: `profile "${draft.name}": etcdKeyPrefix "${draft.etcdKeyPrefix}" must start with / (fleet's default is /_coreos.com/fleet/)` });
    ok = false;
  }
  if (draft.etcdKeyPrefix !== undefined && driver !== 'etcd') {
    problems.push({ profile: draft.name, field: 'etcdKeyPrefix', severity: 'warning', message: `profile "${draft.name}": etcdKeyPrefix is only used with the etcd driver; this profile talks to fleet's HTTP API` });
  }
  if ((draft.certFile === undefined) !== (draft.keyFile === undefined)) {
    problems.push({
      profile: draft.name,
      field: draft.certFile === undefined ? 'certFile' : 'keyFile',
      severity: 'error',
      message: `profile "${draft.name}": certFile and keyFile go together; set both (a client certificate and its key) or neither`,
    });
    ok = false;
  }
  if ((draft.caFile || draft.certFile) && !draft.endpoint.startsWith('https://')) {
    problems.push({
      profile: draft.name,
      field: 'endpoint',
      severity: 'warning',
      message: `profile "${draft.name}": caFile/certFile/keyFile are only used with an https:// endpoint, and the endpoint is ${draft.endpoint}`,
    });
  }
  return ok;
}

/** The profile fleetctl itself would use, from FLEETCTL_* (or fleetctl's defaults). */
function environmentDraft(env: NodeJS.ProcessEnv, problems: ProfileProblem[]): Draft {
  const name = ENVIRONMENT_PROFILE_NAME;
  const get = (key: string): string | undefined => {
    const value = env[key];
    return value === undefined || value === '' ? undefined : value;
  };
  const bad = (field: string, message: string) => problems.push({ profile: name, field, severity: 'error', message: `${field}: ${message}` });
  const draft: Draft = { name, endpoint: DEFAULT_ENDPOINT, source: 'environment' };

  const endpoint = get('FLEETCTL_ENDPOINT');
  if (endpoint !== undefined) {
    const parsed = parseEndpoint(endpoint);
    if ('error' in parsed) bad('FLEETCTL_ENDPOINT', `${parsed.error}; using ${DEFAULT_ENDPOINT} instead`);
    else {
      draft.endpoint = parsed.value;
      if (parsed.warning) problems.push({ profile: name, field: 'FLEETCTL_ENDPOINT', severity: 'warning', message: `FLEETCTL_ENDPOINT: ${parsed.warning}` });
    }
  }
  const driver = get('FLEETCTL_DRIVER');
  if (driver !== undefined) {
    const parsed = parseDriver(driver);
    if (parsed === undefined) bad('FLEETCTL_DRIVER', `"${driver}" is not a driver fleetctl knows: write API (fleet's HTTP API) or etcd (fleet's registry in etcd)`);
    else draft.driver = parsed;
  }
  const prefix = get('FLEETCTL_ETCD_KEY_PREFIX');
  if (prefix !== undefined) draft.etcdKeyPrefix = prefix;
  const tunnel = get('FLEETCTL_TUNNEL');
  if (tunnel !== undefined) {
    const parsed = parseTunnel(tunnel);
    if ('error' in parsed) bad('FLEETCTL_TUNNEL', `${parsed.error}; no tunnel is used`);
    else draft.tunnel = parsed.value;
  }
  const user = get('FLEETCTL_SSH_USERNAME');
  if (user !== undefined) draft.sshUser = user;
  const knownHosts = get('FLEETCTL_KNOWN_HOSTS_FILE');
  if (knownHosts !== undefined) draft.knownHostsFile = knownHosts;
  const strict = get('FLEETCTL_STRICT_HOST_KEY_CHECKING');
  if (strict !== undefined) {
    const parsed = parseGoBool(strict);
    if (parsed === undefined) bad('FLEETCTL_STRICT_HOST_KEY_CHECKING', `"${strict}" is not a boolean (write true or false); host keys are checked`);
    else draft.strictHostKeyChecking = parsed;
  }
  for (const [key, field] of [['FLEETCTL_REQUEST_TIMEOUT', 'requestTimeoutMs'], ['FLEETCTL_SSH_TIMEOUT', 'sshTimeoutMs']] as const) {
    const raw = get(key);
    if (raw === undefined) continue;
    const ms = parseSeconds(raw);
    if (ms === undefined) bad(key, `"${raw}" is not a positive number of seconds (e.g. 10 or 2.5); the default is used`);
    else draft[field] = ms;
  }
  for (const [key, field] of [['FLEETCTL_CA_FILE', 'caFile'], ['FLEETCTL_CERT_FILE', 'certFile'], ['FLEETCTL_KEY_FILE', 'keyFile']] as const) {
    const raw = get(key);
    if (raw !== undefined) draft[field] = raw;
  }
  return draft;
}

/** One `fleet.clusters` entry, or undefined (with problems) when it cannot be used. */
function settingsDraft(raw: unknown, index: number, problems: ProfileProblem[]): Draft | undefined {
  const where = `fleet.clusters[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push({ profile: where, severity: 'error', message: `${where} must be an object such as {"name": "prod", "endpoint": "http://10.0.0.1:49153"}` });
    return undefined;
  }
  const entry = raw as Record<string, unknown>;
  const rawName = entry['name'];
  if (typeof rawName !== 'string' || rawName.trim() === '') {
    problems.push({ profile: where, field: 'name', severity: 'error', message: `${where} has no "name"; give each cluster a unique name, e.g. "prod"` });
    return undefined;
  }
  const name = rawName.trim();
  let ok = true;
  const error = (field: string, message: string) => {
    problems.push({ profile: name, field, severity: 'error', message: `profile "${name}": ${field} ${message}` });
    ok = false;
  };
  for (const key of Object.keys(entry)) {
    if (!(PROFILE_FIELDS as readonly string[]).includes(key)) {
      problems.push({ profile: name, field: key, severity: 'warning', message: `profile "${name}": unknown field "${key}" is ignored; known fields are ${PROFILE_FIELDS.join(', ')}` });
    }
  }
  const string = (field: string): string | undefined => {
    const value = entry[field];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') {
      error(field, `must be a string, not ${JSON.stringify(value)}`);
      return undefined;
    }
    return value.trim();
  };
  const draft: Draft = { name, endpoint: DEFAULT_ENDPOINT, source: 'settings' };

  const endpoint = string('endpoint');
  if (endpoint === undefined) {
    if (entry['endpoint'] === undefined || entry['endpoint'] === '') {
      error('endpoint', `is missing; write e.g. "http://10.0.0.1:49153" or "unix:///var/run/fleet.sock" (with a tunnel: the endpoint as seen from the tunnel host)`);
    }
  } else {
    const parsed = parseEndpoint(endpoint);
    if ('error' in parsed) error('endpoint', parsed.error);
    else {
      draft.endpoint = parsed.value;
      if (parsed.warning) problems.push({ profile: name, field: 'endpoint', severity: 'warning', message: `profile "${name}": endpoint: ${parsed.warning}` });
    }
  }
  const tunnel = string('tunnel');
  if (tunnel !== undefined) {
    const parsed = parseTunnel(tunnel);
    if ('error' in parsed) error('tunnel', parsed.error);
    else draft.tunnel = parsed.value;
  }
  const user = string('sshUser') ?? string('sshUsername');
  if (user !== undefined) draft.sshUser = user;
  for (const field of ['identityFile', 'knownHostsFile', 'caFile', 'certFile', 'keyFile'] as const) {
    const value = string(field);
    if (value !== undefined) draft[field] = value;
  }
  const driver = string('driver');
  if (driver !== undefined) {
    const parsed = parseDriver(driver);
    if (parsed === undefined) error('driver', `must be "api" (fleet's HTTP API) or "etcd" (fleet's registry in etcd, as fleetctl --driver=etcd), not ${JSON.stringify(driver)}`);
    else draft.driver = parsed;
  }
  const prefix = string('etcdKeyPrefix');
  if (prefix !== undefined) draft.etcdKeyPrefix = prefix;
  const strict = entry['strictHostKeyChecking'];
  if (strict !== undefined) {
    if (typeof strict === 'boolean') draft.strictHostKeyChecking = strict;
    else error('strictHostKeyChecking', `must be true or false, not ${JSON.stringify(strict)}`);
  }
  const timeout = (msField: 'requestTimeoutMs' | 'sshTimeoutMs', secondsField: 'requestTimeout' | 'sshTimeout') => {
    for (const [field, factor] of [[msField, 1], [secondsField, 1000]] as const) {
      const value = entry[field];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        error(field, `must be a positive number (${factor === 1 ? 'milliseconds' : 'seconds'}), not ${JSON.stringify(value)}`);
      } else {
        draft[msField] = Math.round(value * factor);
      }
    }
  };
  timeout('requestTimeoutMs', 'requestTimeout');
  timeout('sshTimeoutMs', 'sshTimeout');
  if (!ok) return undefined;
  return crossCheck(draft, problems) ? draft : undefined;
}

/**
 * Validated profiles from `fleet.clusters` (in order) and the FLEETCTL_* environment.
 * The environment profile ("FLEETCTL environment") comes last; it is present when any
 * FLEETCTL_* variable is set, or when the settings define no usable profile (then it is what
 * fleetctl would use with no flags: unix:///var/run/fleet.sock).
 * Profiles with errors are left out; warnings keep the profile.
 */
export function resolveProfiles(settings: readonly unknown[], env: NodeJS.ProcessEnv, options: ResolveOptions = {}): ResolvedProfiles {
  const problems: ProfileProblem[] = [];
  const home = options.home ?? (env['HOME'] || os.homedir());
  const sshConfig = loadSshConfig(options, home, problems);
  const profiles: ClusterProfile[] = [];
  const seen = new Set<string>();
  if (!Array.isArray(settings)) {
    problems.push({ profile: 'fleet.clusters', severity: 'error', message: 'fleet.clusters must be a list of cluster objects' });
  } else {
    settings.forEach((raw, index) => {
      const draft = settingsDraft(raw, index, problems);
      if (!draft) return;
      if (seen.has(draft.name) || draft.name === ENVIRONMENT_PROFILE_NAME) {
        problems.push({ profile: draft.name, field: 'name', severity: 'error', message: `fleet.clusters[${index}]: the name "${draft.name}" is already used; give each cluster a unique name` });
        return;
      }
      seen.add(draft.name);
      profiles.push(finish(draft, sshConfig, home, problems));
    });
  }
  const envSet = FLEETCTL_ENV.some(key => (env[key] ?? '') !== '');
  if (envSet || profiles.length === 0) {
    const draft = environmentDraft(env, problems);
    if (crossCheck(draft, problems)) profiles.push(finish(draft, sshConfig, home, problems));
  }
  return { profiles, problems };
}

/** A short description for pickers and logs: `core@bastion:22 → unix:///var/run/fleet.sock`. */
export function describeProfile(profile: ClusterProfile): string {
  const target = profile.driver === 'etcd' ? `etcd ${profile.endpoint}` : profile.endpoint;
  if (!profile.tunnelTarget) return target;
  const t = profile.tunnelTarget;
  const host = t.alias ?? t.host;
  return `${t.user}@${host.includes(':') ? `[${host}]` : host}:${t.port} → ${target}`;
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
