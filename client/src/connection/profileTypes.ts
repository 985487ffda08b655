/**
 * A cluster profile's shape, fleetctl's defaults and the fields a `fleet.clusters` entry may
 * have (profile.ts resolves them). Plain data: no `vscode`, no I/O.
 */
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
  'name',
  'endpoint',
  'tunnel',
  'sshUser',
  'sshUsername',
  'identityFile',
  'knownHostsFile',
  'strictHostKeyChecking',
  'requestTimeout',
  'requestTimeoutMs',
  'sshTimeout',
  'sshTimeoutMs',
  'caFile',
  'certFile',
  'keyFile',
  'driver',
  'etcdKeyPrefix',
] as const;
