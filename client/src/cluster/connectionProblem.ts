/**
 * Why the active cluster cannot be read, as one of a few reasons a user can act on: the Units
 * and Machines views show one welcome message per reason (package.json `viewsWelcome`, chosen
 * by the `fleet.connectionProblem` context key) with Retry, Edit Cluster and Select Cluster.
 * The exact error stays in the log and the status bar's tooltip. Pure: no `vscode` import.
 */
import { FleetApiError } from '../api/types';
import { SshConnectError } from '../connection/sshSession';

/** Every value is named by a `viewsWelcome` entry (`fleet.connectionProblem == <value>`) for each view. */
export const CONNECTION_PROBLEMS = [
  /** No SSH credentials: SSH_AUTH_SOCK unset or dangling, and no identityFile. */
  'no-agent',
  /** The tunnel host (or a machine) sent a key that differs from known_hosts (or one marked @revoked). */
  'host-key-changed',
  /** An unknown host key nobody confirmed, or the user said no. */
  'host-key-unknown',
  /** SSH authentication failed (user or key). */
  'auth',
  /** Nothing listens there: TCP refused, at the tunnel host or at the endpoint. */
  'refused',
  /** No answer in time: the SSH handshake, the request or etcd. */
  'timeout',
  /** The endpoint is not what the profile's driver talks to (etcd answered the API driver, fleet's API the etcd driver). */
  'wrong-driver',
  /** TLS failed (CA, client certificate). */
  'tls',
  /** A file the profile names cannot be read, or a value is not usable. */
  'config',
  /** Anything else on the way (host not found, no such socket, closed, fleet answering with an error). */
  'unreachable',
] as const;

export type ConnectionProblem = (typeof CONNECTION_PROBLEMS)[number];

/** The context key the welcome views read; unset (undefined) while there is no problem to show. */
export const PROBLEM_CONTEXT = 'fleet.connectionProblem';

const SSH_REASONS: Record<SshConnectError['reason'], ConnectionProblem> = {
  'no-credentials': 'no-agent',
  'host-key-changed': 'host-key-changed',
  'host-key-unknown': 'host-key-unknown',
  'host-key-rejected': 'host-key-unknown',
  auth: 'auth',
  refused: 'refused',
  unreachable: 'unreachable',
  timeout: 'timeout',
  closed: 'unreachable',
  config: 'config',
  other: 'unreachable',
};

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ETIMEOUT_FLEET', 'ETIMEOUT_ETCD']);

/** The reason of a failed read: the first SSH failure on the error's cause chain wins, then the API error's code and kind. */
export function classifyConnectionError(err: unknown): ConnectionProblem {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  const ssh = chain.find((e): e is SshConnectError => e instanceof SshConnectError);
  if (ssh) return SSH_REASONS[ssh.reason];
  const api = chain.find((e): e is FleetApiError => e instanceof FleetApiError);
  if (!api) return 'unreachable';
  const code = api.code ?? '';
  if (code === 'wrong-driver') return 'wrong-driver';
  if (code === 'ECONNREFUSED') return 'refused';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (api.kind === 'tls') return 'tls';
  if (api.kind === 'config') return 'config';
  return 'unreachable';
}

/** What this module reads of treeItems' ConnectionView (which names ConnectionProblem: no import back). */
export interface ConnectionState {
  kind: 'disconnected' | 'loading' | 'connected' | 'error';
  problem?: ConnectionProblem;
}

/** What the welcome views show, from the connection state. */
export interface WelcomeState {
  /** `fleet.clusterConnected`: false shows the "not connected" welcome (Select Cluster, Start Local Cluster). */
  connected: boolean;
  /** `fleet.connectionProblem`: set, the views show that reason's welcome instead. */
  problem: ConnectionProblem | undefined;
}

/**
 * `fallback`: the cluster was not chosen by the user but connected to because the local cluster
 * stopped; if it cannot be read either, the views say "not connected" (with Start Local Cluster),
 * not the fallback's error.
 */
export function welcomeStateOf(view: ConnectionState, fallback = false): WelcomeState {
  if (view.kind === 'connected') return { connected: true, problem: undefined };
  if (view.kind === 'error' && !fallback) return { connected: false, problem: view.problem };
  return { connected: false, problem: undefined };
}
