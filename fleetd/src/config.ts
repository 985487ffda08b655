/**
 * fleetd's command line and environment, parsed once into a frozen Config (pure: no I/O).
 * Flags win over FLEET_* environment variables, which win over defaults — as fleet's
 * config file and FLEET_<KEY> overrides do (fleet-reference §5.2).
 */

export type Command = 'local' | 'agent' | 'help' | 'version';

export interface ListenAddress {
  host: string;
  port: number;
}

export type RegistryChoice = { kind: 'embedded' } | { kind: 'etcd'; endpoints: string[] } | { kind: 'etcd-binary'; path: string };

export interface Config {
  command: Command;
  /** `local`: number of machines. */
  machines: number;
  /** The i-th entry is the i-th machine's metadata (`local`), or this machine's (`agent`). */
  metadata: Record<string, string>[];
  registry: RegistryChoice;
  /** The etcd URL units get in ETCDCTL_ENDPOINTS (`--unit-etcd`), when it is not the registry's. */
  unitEtcd: string | undefined;
  /** Which etcd keyspace: `v3` (fleetd's layout on etcd's v3 API, the default) or `v2` (fleet v1.0's own, shared with fleet and fleetctl --driver=etcd). */
  etcdApi: 'v2' | 'v3';
  prefix: string;
  /** TCP address of the v1 API; undefined: none (`local` then serves STATE_DIR/fleet.sock). */
  api: ListenAddress | undefined;
  /** Unix socket of the v1 API, when asked for. */
  socket: string | undefined;
  /** TLS for the TCP API, with client certificates signed by `caFile` required (fleetctl's FLEETCTL_CA_FILE & co.). */
  apiTls: { caFile: string; certFile: string; keyFile: string } | undefined;
  stateDir: string | undefined;
  machineId: string | undefined;
  publicIp: string | undefined;
  /**
   * Where the agent's journal endpoint listens on TCP (port 0: any free port); undefined: a unix
   * socket in the machine's state dir (`journal.sock`, 0600), which other local users cannot read.
   */
  journal: ListenAddress | undefined;
  agentTtlMs: number;
  engineIntervalMs: number;
  agentIntervalMs: number;
  disableEngine: boolean;
  verbosity: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface FlagSpec {
  name: string;
  value?: string;
  env?: string;
  help: string;
  commands: readonly Command[];
  repeatable?: boolean;
}

const BOTH: readonly Command[] = ['local', 'agent'];

/** Every flag, its FLEET_* variable and its help line: the single source for parsing and --help. */
export const FLAGS: readonly FlagSpec[] = [
  { name: 'machines', value: 'N', help: 'number of machines in the local cluster (default 3, at most 64)', commands: ['local'] },
  {
    name: 'metadata',
    value: 'k=v,k2=v2',
    env: 'FLEET_METADATA',
    help: 'machine metadata; with `local`, the i-th --metadata goes to the i-th machine (repeatable)',
    commands: BOTH,
    repeatable: true,
  },
  { name: 'embedded', help: 'keep the registry in this process (the default for `local`)', commands: ['local'] },
  {
    name: 'etcd',
    value: 'URL[,URL…]',
    env: 'FLEET_ETCD_SERVERS',
    help: 'use an existing etcd (v3 API), e.g. http://127.0.0.1:2379',
    commands: BOTH,
  },
  {
    name: 'unit-etcd',
    value: 'URL',
    env: 'FLEET_UNIT_ETCD',
    help: 'the etcd URL every unit gets in ETCDCTL_ENDPOINTS/ETCDCTL_PEERS (default: the --etcd URL)',
    commands: ['agent'],
  },
  {
    name: 'etcd-api',
    value: 'v2|v3',
    env: 'FLEET_ETCD_API',
    help: "etcd keyspace: v3 (default, fleetd's layout, fastest) or v2 (fleet v1.0's own keys: shared with real fleet machines and `fleetctl --driver=etcd`; etcd needs --enable-v2=true)",
    commands: BOTH,
  },
  {
    name: 'etcd-binary',
    value: 'PATH',
    help: "start a private etcd from this binary, owned by fleetd: on a unix socket in the state dir, which units reach through a loopback gate open to fleetd's user only (with --etcd-api v2 also on loopback TCP for fleet's tools)",
    commands: ['local'],
  },
  { name: 'etcd-key-prefix', value: 'PREFIX', env: 'FLEET_ETCD_KEY_PREFIX', help: 'key prefix in etcd (default /_coreos.com/fleet/)', commands: BOTH },
  {
    name: 'api',
    value: 'HOST:PORT',
    env: 'FLEET_API',
    help: "serve fleet's v1 API on this TCP address, which every local user can use (port 0 picks a free port); `local` serves a unix socket without it",
    commands: BOTH,
  },
  {
    name: 'api-ca-file',
    value: 'FILE',
    env: 'FLEET_API_CA_FILE',
    help: 'serve the TCP API over TLS and accept only clients with a certificate signed by this CA (with --api-cert-file and --api-key-file)',
    commands: BOTH,
  },
  { name: 'api-cert-file', value: 'FILE', env: 'FLEET_API_CERT_FILE', help: 'the TLS certificate of the TCP API', commands: BOTH },
  { name: 'api-key-file', value: 'FILE', env: 'FLEET_API_KEY_FILE', help: 'the key of --api-cert-file', commands: BOTH },
  {
    name: 'socket',
    value: 'PATH',
    env: 'FLEET_API_SOCKET',
    help: 'serve the API on this unix socket, mode 0600 (default for `local` without --api: STATE_DIR/fleet.sock)',
    commands: BOTH,
  },
  {
    name: 'state-dir',
    value: 'DIR',
    env: 'FLEET_STATE_DIR',
    help: 'where machine IDs and unit files are kept (default: a new temporary directory)',
    commands: BOTH,
  },
  {
    name: 'machine-id',
    value: 'ID',
    env: 'FLEET_MACHINE_ID',
    help: "this machine's 32-hex ID (default: kept in the state dir, created once)",
    commands: ['agent'],
  },
  {
    name: 'public-ip',
    value: 'IP',
    env: 'FLEET_PUBLIC_IP',
    help: 'the IP this machine advertises (default 127.0.0.1; `local` gives machine i 127.0.0.(i+2))',
    commands: BOTH,
  },
  {
    name: 'journal',
    value: 'HOST:PORT',
    env: 'FLEET_JOURNAL',
    help: "serve the agent's journal endpoint on this TCP address, which every local user can read (default: STATE_DIR/journal.sock, mode 0600)",
    commands: BOTH,
  },
  { name: 'agent-ttl', value: 'DURATION', env: 'FLEET_AGENT_TTL', help: 'machine presence TTL, a Go duration (default 30s, as fleet)', commands: BOTH },
  {
    name: 'engine-reconcile-interval',
    value: 'SECONDS',
    env: 'FLEET_ENGINE_RECONCILE_INTERVAL',
    help: 'seconds between engine passes (default 2)',
    commands: BOTH,
  },
  {
    name: 'agent-reconcile-interval',
    value: 'SECONDS',
    env: 'FLEET_AGENT_RECONCILE_INTERVAL',
    help: 'seconds between agent passes (default 5)',
    commands: BOTH,
  },
  { name: 'disable-engine', env: 'FLEET_DISABLE_ENGINE', help: 'never become the engine leader', commands: ['agent'] },
  { name: 'verbosity', value: 'N', env: 'FLEET_VERBOSITY', help: '0 quiet, 1 info, 2 debug (default 1)', commands: BOTH },
];

export const DEFAULT_PREFIX = '/_coreos.com/fleet/';
export const MAX_LOCAL_MACHINES = 64;

export function helpText(): string {
  const lines = [
    "fleetd: a headless fleet engine and agent speaking fleet's v1 API.",
    '',
    'Usage:',
    '  fleetd local [flags]   start a whole local cluster: an engine, the API and --machines agents',
    '  fleetd agent [flags]   join one machine (agent, and engine candidate) to an existing etcd',
    '  fleetd --help | --version',
    '',
    'Flags (flags override FLEET_* environment variables):',
  ];
  for (const f of FLAGS) {
    const left = `  --${f.name}${f.value ? ` ${f.value}` : ''}`;
    lines.push(`${left.padEnd(42)} ${f.help}${f.env ? ` [${f.env}]` : ''}${f.commands.length === 1 ? ` (${f.commands[0]} only)` : ''}`);
  }
  lines.push(
    '',
    'When the API is ready, fleetd prints one line: `fleetd: API ready at http://HOST:PORT`.',
    'SIGINT or SIGTERM stops everything it started: agents stop and unload their units, as fleet does.',
    '',
    'Examples:',
    '  fleetd local --machines 3 --metadata region=east --metadata region=west --metadata region=west,disk=ssd --api 127.0.0.1:49153',
    '  fleetd local --etcd-binary /usr/bin/etcd --machines 3',
    '  fleetd local --etcd-binary /usr/bin/etcd --etcd-api v2   # then: fleetctl --driver=etcd --endpoint <etcd URL> list-machines',
    '  FLEET_ETCD_SERVERS=http://127.0.0.1:2379 fleetd agent --metadata role=db',
  );
  return lines.join('\n');
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

function parseSeconds(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new ConfigError(`${what}: "${text}" is not a number of seconds between 0 and 3600 (example: 2)`);
  return n * 1000;
}

function parseEndpoints(text: string, what: string): string[] {
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

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return defaults('help');
  if (first === '--version' || first === 'version') return defaults('version');
  if (first !== 'local' && first !== 'agent') throw new ConfigError(`unknown command "${first}": use \`fleetd local\`, \`fleetd agent\` or \`fleetd --help\``);
  const command: Command = first;
  const values = new Map<string, string[]>();
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return defaults('help');
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}": flags start with -- (see fleetd --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = FLAGS.find(f => f.name === name);
    if (!spec) throw new ConfigError(`unknown flag --${name} (see fleetd --help)`);
    if (!spec.commands.includes(command)) throw new ConfigError(`--${name} is not a flag of \`fleetd ${command}\` (see fleetd --help)`);
    let value: string;
    if (!spec.value) value = eq < 0 ? 'true' : arg.slice(eq + 1);
    else if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`--${name} needs a value: --${name} ${spec.value}`);
      value = next;
      i++;
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !spec.repeatable) throw new ConfigError(`--${name} given twice; give it once`);
    list.push(value);
    values.set(name, list);
  }
  const get = (name: string): string | undefined => {
    const v = values.get(name)?.[0];
    if (v !== undefined) return v;
    const envName = FLAGS.find(f => f.name === name)?.env;
    const e = envName ? env[envName] : undefined;
    return e === undefined || e === '' ? undefined : e;
  };
  const what = (name: string) => {
    const spec = FLAGS.find(f => f.name === name);
    return values.has(name) || !spec?.env ? `--${name}` : spec.env;
  };

  const config = defaults(command);
  if (command === 'local') {
    const n = get('machines');
    if (n !== undefined) {
      config.machines = Number(n);
      if (!Number.isInteger(config.machines) || config.machines < 1 || config.machines > MAX_LOCAL_MACHINES) {
        throw new ConfigError(`--machines: "${n}" is not a whole number from 1 to ${MAX_LOCAL_MACHINES}`);
      }
    }
  }
  const metadata = values.get('metadata') ?? (env.FLEET_METADATA ? [env.FLEET_METADATA] : []);
  config.metadata = metadata.map(m => parseMetadata(m, what('metadata')));
  if (command === 'local' && config.metadata.length > config.machines) {
    throw new ConfigError(
      `--metadata given ${config.metadata.length} times for ${config.machines} machines: give at most one per machine, or raise --machines`,
    );
  }
  if (command === 'agent' && config.metadata.length > 1)
    throw new ConfigError('--metadata given twice: an agent is one machine; join the pairs with commas (k=v,k2=v2)');

  const etcd = get('etcd');
  const etcdBinary = get('etcd-binary');
  const embedded = get('embedded');
  const chosen = [etcd !== undefined && values.has('etcd'), etcdBinary !== undefined, embedded !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new ConfigError('choose one registry: --embedded, --etcd URL or --etcd-binary PATH');
  if (etcdBinary !== undefined) config.registry = { kind: 'etcd-binary', path: etcdBinary };
  else if (embedded !== undefined) config.registry = { kind: 'embedded' };
  else if (etcd !== undefined) config.registry = { kind: 'etcd', endpoints: parseEndpoints(etcd, what('etcd')) };
  else if (command === 'agent') config.registry = { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] };
  if (command === 'agent' && config.registry.kind === 'embedded') throw new ConfigError('`fleetd agent` joins an etcd cluster: give --etcd URL');

  const unitEtcd = get('unit-etcd');
  if (unitEtcd !== undefined) config.unitEtcd = parseEndpoints(unitEtcd, what('unit-etcd'))[0];
  const etcdApi = get('etcd-api');
  if (etcdApi !== undefined) {
    if (etcdApi !== 'v2' && etcdApi !== 'v3')
      throw new ConfigError(`${what('etcd-api')}: "${etcdApi}" is not v2 or v3 (v2: fleet v1.0's keyspace, for fleetctl --driver=etcd and mixed clusters)`);
    if (config.registry.kind === 'embedded')
      throw new ConfigError(`${what('etcd-api')}: the embedded registry has no etcd; add --etcd URL or --etcd-binary PATH`);
    config.etcdApi = etcdApi;
  }
  const prefix = get('etcd-key-prefix');
  if (prefix !== undefined) {
    if (!prefix.startsWith('/')) throw new ConfigError(`${what('etcd-key-prefix')}: "${prefix}" must start with / (example: /_coreos.com/fleet/)`);
    config.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }
  const api = get('api');
  if (api !== undefined) config.api = parseListen(api, what('api'));
  config.socket = get('socket');
  const tlsFiles = [get('api-ca-file'), get('api-cert-file'), get('api-key-file')];
  if (tlsFiles.some(f => f !== undefined)) {
    if (tlsFiles.some(f => f === undefined))
      throw new ConfigError(
        "--api-ca-file, --api-cert-file and --api-key-file go together: give all three (the CA of the client certificates, the server's certificate and its key)",
      );
    if (!config.api)
      throw new ConfigError('--api-ca-file, --api-cert-file and --api-key-file need --api HOST:PORT (TLS is for the TCP API; the unix socket needs none)');
    config.apiTls = { caFile: tlsFiles[0]!, certFile: tlsFiles[1]!, keyFile: tlsFiles[2]! };
  }
  config.stateDir = get('state-dir');
  const machineId = get('machine-id');
  if (machineId !== undefined) {
    if (!/^[0-9a-f]{32}$/.test(machineId)) throw new ConfigError(`${what('machine-id')}: "${machineId}" is not 32 lowercase hex digits, as in /etc/machine-id`);
    config.machineId = machineId;
  }
  const ip = get('public-ip');
  if (ip !== undefined) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && !ip.includes(':')) throw new ConfigError(`${what('public-ip')}: "${ip}" is not an IP address`);
    config.publicIp = ip;
  }
  const journal = get('journal');
  if (journal !== undefined) config.journal = parseListen(journal, what('journal'));
  const ttl = get('agent-ttl');
  if (ttl !== undefined) {
    config.agentTtlMs = parseGoDuration(ttl, what('agent-ttl'));
    if (config.agentTtlMs < 1000) throw new ConfigError(`${what('agent-ttl')}: "${ttl}" is shorter than 1s; presence would flap`);
  }
  const engineInterval = get('engine-reconcile-interval');
  if (engineInterval !== undefined) config.engineIntervalMs = parseSeconds(engineInterval, what('engine-reconcile-interval'));
  const agentInterval = get('agent-reconcile-interval');
  if (agentInterval !== undefined) config.agentIntervalMs = parseSeconds(agentInterval, what('agent-reconcile-interval'));
  const disable = get('disable-engine');
  if (disable !== undefined) config.disableEngine = TRUE_WORDS.has(disable.toLowerCase());
  const verbosity = get('verbosity');
  if (verbosity !== undefined) {
    config.verbosity = Number(verbosity);
    if (!Number.isInteger(config.verbosity) || config.verbosity < 0) throw new ConfigError(`${what('verbosity')}: "${verbosity}" is not 0, 1 or 2`);
  }
  return Object.freeze(config);
}

function defaults(command: Command): Config {
  return {
    command,
    machines: 3,
    metadata: [],
    registry: { kind: 'embedded' },
    etcdApi: 'v3',
    unitEtcd: undefined,
    prefix: DEFAULT_PREFIX,
    api: undefined,
    socket: undefined,
    apiTls: undefined,
    stateDir: undefined,
    machineId: undefined,
    publicIp: undefined,
    journal: undefined,
    agentTtlMs: 30_000,
    engineIntervalMs: 2_000,
    agentIntervalMs: 5_000,
    disableEngine: false,
    verbosity: 1,
  };
}

/** The argv that starts machine `index` of a local etcd cluster as its own `fleetd agent` process. */
export function agentArgs(
  config: Config,
  index: number,
  machine: { id: string; publicIp: string; stateDir: string },
  endpoints: readonly string[],
  /** The etcd units get in ETCDCTL_ENDPOINTS, when it is not `endpoints` (fleet's tools' TCP URL). */
  unitEtcd?: string,
): string[] {
  const args = [
    'agent',
    '--etcd',
    endpoints.join(','),
    '--etcd-key-prefix',
    config.prefix,
    '--etcd-api',
    config.etcdApi,
    '--machine-id',
    machine.id,
    '--public-ip',
    machine.publicIp,
    '--state-dir',
    machine.stateDir,
    '--agent-ttl',
    `${config.agentTtlMs}ms`,
    '--engine-reconcile-interval',
    String(config.engineIntervalMs / 1000),
    '--agent-reconcile-interval',
    String(config.agentIntervalMs / 1000),
    '--verbosity',
    String(config.verbosity),
  ];
  if (unitEtcd) args.push('--unit-etcd', unitEtcd);
  // Without --journal the machine serves its journal on a socket in its own state dir.
  if (config.journal) args.push('--journal', `${config.journal.host}:0`);
  const md = config.metadata[index];
  if (md && Object.keys(md).length > 0)
    args.push(
      '--metadata',
      Object.entries(md)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    );
  return args;
}
