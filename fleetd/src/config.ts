/**
 * fleetd's command line and environment, parsed once into a frozen Config (pure: no I/O).
 * Flags win over FLEET_* environment variables, which win over defaults — as fleet's
 * config file and FLEET_<KEY> overrides do (fleet-reference §5.2). The flags are declared in
 * configFlags.ts, their values' grammars in configValues.ts.
 */
import { DEFAULT_PREFIX } from '../../registry/src/keyspace';
import { FLAGS, type Command } from './configFlags';
import { ConfigError, parseEndpoints, parseGoDuration, parseListen, parseMetadata, parseSeconds, type ListenAddress } from './configValues';

export { ConfigError } from './configValues';

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

export { DEFAULT_PREFIX };
export const MAX_LOCAL_MACHINES = 64;

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
