/**
 * A profile draft from one of its two sources: a `fleet.clusters` entry, or fleetctl's FLEETCTL_*
 * environment (the profile fleetctl itself would use). Each rejected value becomes a problem that
 * names the profile, the field and the fix; profile.ts turns a draft into a profile.
 */
import { driverOf, parseDriver, parseEndpoint, parseGoBool, parseSeconds, parseTunnel } from './profileFields';
import { DEFAULT_ENDPOINT, ENVIRONMENT_PROFILE_NAME, PROFILE_FIELDS, type ClusterDriver, type ClusterProfile, type ProfileProblem } from './profileTypes';

export interface Draft {
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

/** The profile fleetctl itself would use, from FLEETCTL_* (or fleetctl's defaults). */
export function environmentDraft(env: NodeJS.ProcessEnv, problems: ProfileProblem[]): Draft {
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
    if (parsed === undefined)
      bad('FLEETCTL_DRIVER', `"${driver}" is not a driver fleetctl knows: write API (fleet's HTTP API) or etcd (fleet's registry in etcd)`);
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
  for (const [key, field] of [
    ['FLEETCTL_REQUEST_TIMEOUT', 'requestTimeoutMs'],
    ['FLEETCTL_SSH_TIMEOUT', 'sshTimeoutMs'],
  ] as const) {
    const raw = get(key);
    if (raw === undefined) continue;
    const ms = parseSeconds(raw);
    if (ms === undefined) bad(key, `"${raw}" is not a positive number of seconds (e.g. 10 or 2.5); the default is used`);
    else draft[field] = ms;
  }
  for (const [key, field] of [
    ['FLEETCTL_CA_FILE', 'caFile'],
    ['FLEETCTL_CERT_FILE', 'certFile'],
    ['FLEETCTL_KEY_FILE', 'keyFile'],
  ] as const) {
    const raw = get(key);
    if (raw !== undefined) draft[field] = raw;
  }
  return draft;
}

/** One `fleet.clusters` entry, or undefined (with problems) when it cannot be used. */
export function settingsDraft(raw: unknown, index: number, problems: ProfileProblem[]): Draft | undefined {
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
      problems.push({
        profile: name,
        field: key,
        severity: 'warning',
        message: `profile "${name}": unknown field "${key}" is ignored; known fields are ${PROFILE_FIELDS.join(', ')}`,
      });
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
      error(
        'endpoint',
        `is missing; write e.g. "http://10.0.0.1:49153" or "unix:///var/run/fleet.sock" (with a tunnel: the endpoint as seen from the tunnel host)`,
      );
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
    if (parsed === undefined)
      error('driver', `must be "api" (fleet's HTTP API) or "etcd" (fleet's registry in etcd, as fleetctl --driver=etcd), not ${JSON.stringify(driver)}`);
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
    for (const [field, factor] of [
      [msField, 1],
      [secondsField, 1000],
    ] as const) {
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

/** Checks that belong to the whole profile rather than one field. */
export function crossCheck(draft: Draft, problems: ProfileProblem[]): boolean {
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
    problems.push({
      profile: draft.name,
      field: 'etcdKeyPrefix',
      severity: 'error',
      message: `profile "${draft.name}": etcdKeyPrefix "${draft.etcdKeyPrefix}" must start with / (fleet's default is /_coreos.com/fleet/)`,
    });
    ok = false;
  }
  if (draft.etcdKeyPrefix !== undefined && driver !== 'etcd') {
    problems.push({
      profile: draft.name,
      field: 'etcdKeyPrefix',
      severity: 'warning',
      message: `profile "${draft.name}": etcdKeyPrefix is only used with the etcd driver; this profile talks to fleet's HTTP API`,
    });
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
