/**
 * "Fleet: Add Cluster" / "Fleet: Edit Cluster": the wizard's steps, answers and decisions, in
 * plain Node. The UI (status/clusterPicker.ts) implements WizardUi with input boxes, quick picks,
 * a file dialog and a progress notification; tests script it.
 *
 * Order (issue 11): name; how to reach fleet (REACH_CHOICES); tunnel host (`user@host:port`, the
 * user split out); SSH user and authentication (ssh-agent when SSH_AUTH_SOCK is set, else an
 * identity file); known-hosts policy; then a connection test, and "Connect now" / "Save without
 * connecting". A failed test keeps every answer and lets the user change one. The active
 * cluster changes only on "Connect now".
 */
import { DEFAULT_KNOWN_HOSTS_FILE, DEFAULT_SSH_USER, driverOf, parseDriver, parseEndpoint, parseTunnel } from './profile';

/** One way to reach fleet. Other drivers add theirs to REACH_CHOICES (e.g. an etcd endpoint). */
export interface ReachChoice {
  id: string;
  label: string;
  detail: string;
  /** The prompt for the address, its placeholder and default. */
  prompt: string;
  placeholder: string;
  defaultValue: string;
  /** What the user typed → an error to show, or undefined. */
  validate(value: string): string | undefined;
  /** The profile fields for the address (at least `endpoint`). */
  toFields(value: string): Record<string, unknown>;
  /** Does this choice describe an existing profile entry? Then the address to show. */
  fromEntry(entry: Record<string, unknown>): string | undefined;
  /** The tunnel question's wording for this choice. */
  tunnelPrompt: string;
}

const endpointError = (value: string, schemes: RegExp, hint: string): string | undefined => {
  const parsed = parseEndpoint(value);
  if ('error' in parsed) return parsed.error;
  return schemes.test(parsed.value) ? undefined : hint;
};

export const REACH_CHOICES: ReachChoice[] = [
  {
    id: 'api',
    label: 'Fleet API endpoint',
    detail: 'http:// or https:// (fleetctl --endpoint); with a tunnel, the address as seen from the tunnel host',
    prompt: 'The fleet API URL',
    placeholder: 'http://127.0.0.1:49153',
    defaultValue: 'http://127.0.0.1:49153',
    validate: v => endpointError(v, /^https?:\/\//, 'Write an http:// or https:// URL here, or pick "Unix socket" for a socket path.'),
    toFields: v => ({ endpoint: (parseEndpoint(v) as { value: string }).value }),
    fromEntry: e =>
      typeof e['endpoint'] === 'string' &&
      /^https?:\/\//.test(e['endpoint']) &&
      driverOf({ driver: parseDriver(String(e['driver'] ?? '')), endpoint: e['endpoint'] }) === 'api'
        ? e['endpoint']
        : undefined,
    tunnelPrompt: 'SSH tunnel host, as user@host:port (fleetctl --tunnel); leave empty to connect directly',
  },
  {
    id: 'etcd',
    label: "The cluster's etcd (fleetctl --driver=etcd)",
    detail:
      "fleet v1.0's registry in etcd's v2 API, as the article's FLEETCTL_ENDPOINT=http://<host>:4001; with a tunnel, etcd's address as seen from the tunnel host",
    prompt: "The cluster's etcd URL",
    placeholder: 'http://127.0.0.1:2379',
    defaultValue: 'http://127.0.0.1:2379',
    validate: v => endpointError(v, /^https?:\/\//, 'Write etcd as an http:// or https:// URL, e.g. http://127.0.0.1:2379 (port 4001 on older CoreOS).'),
    toFields: v => ({ endpoint: (parseEndpoint(v) as { value: string }).value, driver: 'etcd' }),
    fromEntry: e =>
      typeof e['endpoint'] === 'string' &&
      /^https?:\/\//.test(e['endpoint']) &&
      driverOf({ driver: parseDriver(String(e['driver'] ?? '')), endpoint: e['endpoint'] }) === 'etcd'
        ? e['endpoint']
        : undefined,
    tunnelPrompt: 'SSH tunnel host, as user@host:port (fleetctl --tunnel); leave empty to connect to etcd directly',
  },
  {
    id: 'unix',
    label: 'Unix socket on the tunnel host',
    detail: "fleet's socket (default /var/run/fleet.sock) on the tunnel host, or on this machine without a tunnel",
    prompt: "The path of fleet's unix socket",
    placeholder: '/var/run/fleet.sock',
    defaultValue: '/var/run/fleet.sock',
    validate: v => {
      const text = v.trim();
      if (text === '') return 'Enter the socket path, e.g. /var/run/fleet.sock.';
      return endpointError(text.startsWith('/') ? `unix://${text}` : text, /^unix:\/\//, 'Write an absolute socket path such as /var/run/fleet.sock.');
    },
    toFields: v => ({ endpoint: (parseEndpoint(v.trim().startsWith('/') ? `unix://${v.trim()}` : v) as { value: string }).value }),
    fromEntry: e =>
      typeof e['endpoint'] === 'string' && e['endpoint'].startsWith('unix://')
        ? e['endpoint'].slice('unix://'.length)
        : e['endpoint'] === undefined
          ? '/var/run/fleet.sock'
          : undefined,
    tunnelPrompt: 'SSH tunnel host, as user@host:port (fleetctl --tunnel); leave empty for a socket on this machine',
  },
];

export type KnownHostsPolicy = 'strict' | 'strict-file' | 'off';

export interface WizardAnswers {
  name: string;
  reach: string;
  address: string;
  /** `host[:port]` without the user; '' for none. */
  tunnel: string;
  sshUser: string;
  auth: 'agent' | 'identityFile';
  identityFile: string;
  knownHosts: KnownHostsPolicy;
  knownHostsFile: string;
}

/** `[user@]host[:port]` → the user and fleetctl's --tunnel value; errors name the fix. */
export function splitTunnelInput(raw: string): { user?: string; tunnel: string } | { error: string } {
  const text = raw.trim();
  if (text === '') return { tunnel: '' };
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const hostPort = at >= 0 ? text.slice(at + 1) : text;
  if (user !== undefined && (user === '' || /[\s:/]/.test(user)))
    return { error: `"${user}" in "${text}" is not a user name; write user@host:port, e.g. core@bastion.example.com:22` };
  const parsed = parseTunnel(hostPort.replace(/^ssh:\/\//, ''));
  if ('error' in parsed) return { error: parsed.error };
  const host = parsed.value.host.includes(':') ? `[${parsed.value.host}]` : parsed.value.host;
  return { ...(user ? { user } : {}), tunnel: parsed.value.port === undefined ? host : `${host}:${parsed.value.port}` };
}

export function validateName(value: string, existing: readonly string[], editing?: string): string | undefined {
  const name = value.trim();
  if (name === '') return 'Enter a name, e.g. production.';
  if (name !== editing && existing.includes(name)) return `A cluster named "${name}" already exists; choose another name.`;
  return undefined;
}

export function defaultAnswers(env: NodeJS.ProcessEnv): WizardAnswers {
  return {
    name: '',
    reach: 'unix',
    address: '/var/run/fleet.sock',
    tunnel: '',
    sshUser: DEFAULT_SSH_USER,
    auth: env['SSH_AUTH_SOCK'] ? 'agent' : 'identityFile',
    identityFile: '',
    knownHosts: 'strict',
    knownHostsFile: DEFAULT_KNOWN_HOSTS_FILE,
  };
}

/** The answers an existing `fleet.clusters` entry stands for (Edit Cluster starts from them). */
export function answersFromEntry(entry: Record<string, unknown>, env: NodeJS.ProcessEnv, choices: readonly ReachChoice[] = REACH_CHOICES): WizardAnswers {
  const answers = defaultAnswers(env);
  const str = (k: string) => (typeof entry[k] === 'string' ? (entry[k] as string) : undefined);
  answers.name = str('name') ?? '';
  for (const choice of choices) {
    const address = choice.fromEntry(entry);
    if (address !== undefined) {
      answers.reach = choice.id;
      answers.address = address;
      break;
    }
  }
  answers.tunnel = str('tunnel') ?? '';
  answers.sshUser = str('sshUser') ?? str('sshUsername') ?? DEFAULT_SSH_USER;
  if (str('identityFile')) {
    answers.auth = 'identityFile';
    answers.identityFile = str('identityFile')!;
  } else answers.auth = 'agent';
  if (entry['strictHostKeyChecking'] === false) answers.knownHosts = 'off';
  else if (str('knownHostsFile') && str('knownHostsFile') !== DEFAULT_KNOWN_HOSTS_FILE) {
    answers.knownHosts = 'strict-file';
    answers.knownHostsFile = str('knownHostsFile')!;
  }
  return answers;
}

/**
 * The `fleet.clusters` entry for the answers. Fields of `base` (an edited entry) that the wizard
 * does not ask about (timeouts, TLS files, …) are kept.
 */
export function entryFromAnswers(
  a: WizardAnswers,
  base: Record<string, unknown> = {},
  choices: readonly ReachChoice[] = REACH_CHOICES,
): Record<string, unknown> {
  const choice = choices.find(c => c.id === a.reach);
  if (!choice) throw new Error(`unknown way to reach fleet: ${a.reach}`);
  const entry: Record<string, unknown> = { ...base };
  for (const k of ['endpoint', 'tunnel', 'sshUser', 'sshUsername', 'identityFile', 'knownHostsFile', 'strictHostKeyChecking']) delete entry[k];
  entry['name'] = a.name.trim();
  Object.assign(entry, choice.toFields(a.address));
  if (a.tunnel) entry['tunnel'] = a.tunnel;
  if (a.tunnel || a.sshUser !== DEFAULT_SSH_USER) entry['sshUser'] = a.sshUser;
  if (a.auth === 'identityFile' && a.identityFile) entry['identityFile'] = a.identityFile;
  if (a.knownHosts === 'off') entry['strictHostKeyChecking'] = false;
  else if (a.knownHosts === 'strict-file' && a.knownHostsFile) entry['knownHostsFile'] = a.knownHostsFile;
  return entry;
}

/** `list` with `entry` in place of the entry named `replacing` (or appended). */
export function upsertEntry(list: readonly unknown[], entry: Record<string, unknown>, replacing?: string): unknown[] {
  const index = replacing === undefined ? -1 : list.findIndex(e => typeof e === 'object' && e !== null && (e as Record<string, unknown>)['name'] === replacing);
  if (index < 0) return [...list, entry];
  return list.map((e, i) => (i === index ? entry : e));
}
