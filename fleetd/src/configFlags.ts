/**
 * fleetd's flags: each one's name, value, FLEET_* variable, help line and subcommands, the single
 * source for parsing (config.ts) and for --help.
 */

export type Command = 'local' | 'agent' | 'help' | 'version';

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
