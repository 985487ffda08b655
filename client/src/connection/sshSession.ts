/**
 * One SSH client connection with fleetctl's rules (fleet-etcd-v2 §5.2–5.3, §5.6), the only SSH
 * handshake in the client: the API's tunnel (`tunnel.ts`) and the sessions on machines
 * (`remote.ts`) both dial through `dialSsh`. ssh-agent (SSH_AUTH_SOCK) or an identity file; the
 * host key checked against known_hosts before anything is sent, under the host name as written
 * (OpenSSH's rule: a key recorded only for an address it resolves to is not trusted for the name,
 * and the prompt says where it is recorded), trust on first use through an injected prompt,
 * refusal on a changed key, and a timeout around TCP, handshake and authentication. `sock` runs
 * the handshake over an existing stream, e.g. a `direct-tcpip` channel of the tunnel host, as
 * fleetctl's NewTunnelledSSHClient does.
 *
 * Every failure is an SshConnectError whose `reason` says what went wrong (for the UI) and whose
 * message names the host and the fix. Plain Node: no `vscode` import.
 */
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ConnectConfig } from 'ssh2';
import { abortError, errorMessage, type Log } from '../../../protocol/src/log';
import { FleetApiError } from '../api/types';
import { appendKnownHost, fingerprintSha256, hostKeyAlgorithms, hostToken, keyTypeOf, knownKeyTypes, lookupHostKey, readKnownHosts } from './knownHosts';

export type SshFailure =
  | 'no-credentials'
  | 'host-key-changed'
  | 'host-key-unknown'
  | 'host-key-rejected'
  | 'auth'
  | 'refused'
  | 'unreachable'
  | 'timeout'
  | 'closed'
  | 'config'
  | 'other';

/** A failed SSH connection: `reason` for decisions, the message for people. */
export class SshConnectError extends FleetApiError {
  constructor(
    message: string,
    readonly reason: SshFailure,
  ) {
    super(message, undefined, reason === 'config' ? 'config' : 'ssh');
    this.name = 'SshConnectError';
  }
}

/** How to authenticate and which host keys to trust; shared by the tunnel host and the machines. */
export interface SshCredentials {
  username: string;
  identityFile?: string | undefined;
  /** ssh-agent socket; default $SSH_AUTH_SOCK of `env`. '' means no agent. */
  agentSocket?: string;
  knownHostsFile: string;
  strictHostKeyChecking: boolean;
  /** TCP + handshake + authentication (prompts excluded); default 10 s (fleetctl --ssh-timeout). */
  timeoutMs?: number;
  /**
   * Asked when known_hosts has no key for the host; true records the key. Absent: unknown hosts are refused.
   * `notes`: what the user should weigh (the same key recorded for the address only, known_hosts lines ignored, by number).
   */
  confirmUnknownHost?: ((host: string, fingerprint: string, keyType: string, notes?: readonly string[]) => Promise<boolean>) | undefined;
  /** Progress at info, warnings (e.g. "Permanently added …", a failed connection) at warn. */
  log?: Log | undefined;
  /** Environment for SSH_AUTH_SOCK; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface DialOptions extends SshCredentials {
  /** The host as written (name or IP) and its SSH port. */
  host: string;
  port: number;
  /** What messages call the host, e.g. `machine 0a1b2c3d (core@10.0.0.2:22)`. */
  label: string;
  /** What to check when `host` does not resolve; default `the host name (or the machine's PublicIP)`. */
  hostSource?: string;
  /** The address dialled, whose known_hosts entries count after the host name's (`lookupHostKey`); default: `host` resolved locally. */
  address?: string;
  /** Run the handshake over this stream instead of dialling TCP. */
  sock?: Duplex;
  /** Gives up the handshake (the connection is destroyed) with the signal's reason. */
  signal?: AbortSignal;
}

export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

/** The agent socket the credentials use, or '' for none. */
export function agentSocketOf(credentials: Pick<SshCredentials, 'agentSocket' | 'env'>): string {
  return credentials.agentSocket ?? (credentials.env ?? process.env)['SSH_AUTH_SOCK'] ?? '';
}

/** ssh-agent and/or the identity file, as ssh2 takes them; refuses (with the fix) when there is neither. */
export function authConfig(o: Pick<SshCredentials, 'agentSocket' | 'env' | 'identityFile'>, label: string): Pick<ConnectConfig, 'agent' | 'privateKey'> {
  const agent = agentSocketOf(o);
  const config: Pick<ConnectConfig, 'agent' | 'privateKey'> = {};
  if (agent) {
    if (!fs.existsSync(agent)) {
      throw new SshConnectError(
        `SSH_AUTH_SOCK points to ${agent}, which does not exist. Start ssh-agent and add your key (ssh-add), or set identityFile in the cluster profile.`,
        'no-credentials',
      );
    }
    config.agent = agent;
  }
  if (o.identityFile) {
    try {
      config.privateKey = fs.readFileSync(o.identityFile);
    } catch (err) {
      throw new SshConnectError(
        `Cannot read the identity file ${o.identityFile} for ${label}: ${errorMessage(err)}. Fix identityFile in the cluster profile.`,
        'config',
      );
    }
  }
  if (!config.agent && !config.privateKey) {
    throw new SshConnectError(
      `No SSH credentials for ${label}: SSH_AUTH_SOCK is not set (is ssh-agent running?) and the profile has no identityFile. Run ssh-agent and ssh-add your key, or set identityFile.`,
      'no-credentials',
    );
  }
  return config;
}

/** Races a promise against the dial timeout. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), timeoutMs)))]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export function timeoutError(label: string, timeoutMs: number): SshConnectError {
  return new SshConnectError(
    `Timed out while initiating the SSH connection to ${label} (after ${timeoutMs / 1000} s). Is the machine up and sshd running there? (The limit is the profile's sshTimeout.)`,
    'timeout',
  );
}

/** The IP fleetctl dials: the host itself when it is one, else its local DNS answer. */
export async function resolveAddress(
  host: string,
  label: string,
  timeoutMs: number,
  hostSource = "the host name (or the machine's PublicIP)",
): Promise<string> {
  if (net.isIP(host)) return host;
  try {
    return (await withTimeout(dns.lookup(host), timeoutMs, () => timeoutError(label, timeoutMs))).address;
  } catch (err) {
    if (err instanceof SshConnectError) throw err;
    throw new SshConnectError(`Cannot resolve ${host} for ${label}: ${errorMessage(err)}. Check ${hostSource}.`, 'unreachable');
  }
}

async function verifyHostKey(o: DialOptions, key: Buffer, address: string, timer: { pause(): void; resume(): void }): Promise<void> {
  if (!o.strictHostKeyChecking) return;
  const name = hostToken(o.host, o.port);
  const fingerprint = fingerprintSha256(key);
  const keyType = keyTypeOf(key) ?? 'unknown';
  const known = readKnownHosts(o.knownHostsFile);
  const verdict = lookupHostKey(known, [o.host, address], o.port, key);
  if (verdict.result === 'match') return;
  if (verdict.result === 'mismatch') {
    const lines = verdict.entries.map(e => e.line).join(', ');
    throw new SshConnectError(
      verdict.revoked
        ? `The host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${o.knownHostsFile} (line ${lines}). Not connecting to ${o.label}.`
        : `REMOTE HOST IDENTIFICATION HAS CHANGED for ${name} (${o.label}): it sent ${keyType} key ${fingerprint}, which differs from the key in ${o.knownHostsFile} (line ${lines}). ` +
            `Someone could be intercepting the connection, or the host was reinstalled. Nothing was run. If the change is expected, remove line ${lines} from ${o.knownHostsFile} and connect again.`,
      'host-key-changed',
    );
  }
  const notes = [
    ...(verdict.knownForAddresses ?? []).map(
      e =>
        `the same key is recorded for ${e.hosts} only (${o.knownHostsFile} line ${e.line}); ` +
        'a key is trusted under the name you connect to, not under an address it resolves to',
    ),
    ...known.problems.map(p => `${o.knownHostsFile} line ${p.line} is ignored: ${p.message}`),
  ];
  if (!o.confirmUnknownHost) {
    throw new SshConnectError(
      `Unknown host ${name} (${keyType} ${fingerprint}) for ${o.label} and no one to ask; add it with: ssh-keyscan -p ${o.port} ${o.host} >> ${o.knownHostsFile} (after checking the fingerprint), or connect interactively once.` +
        notes.map(n => ` Note: ${n}.`).join(''),
      'host-key-unknown',
    );
  }
  timer.pause();
  let trusted: boolean;
  try {
    trusted = await o.confirmUnknownHost(name, fingerprint, keyType, notes);
  } finally {
    timer.resume();
  }
  if (!trusted) {
    throw new SshConnectError(
      `Host key verification failed: the key of ${name} (${keyType} ${fingerprint}) was not trusted, so nothing was run on ${o.label}.`,
      'host-key-rejected',
    );
  }
  try {
    // Under the name checked next time (for a machine dialled by its PublicIP, the address, as fleetctl records it).
    await appendKnownHost(o.knownHostsFile, o.host, o.port, key);
    o.log?.('warn', `Permanently added '${name}' (${keyType}) to the list of known hosts (${o.knownHostsFile}).`);
  } catch (err) {
    // As fleetctl: the user said yes, so connect, but say why it will ask again.
    o.log?.('warn', `Failed to add the host to the list of known hosts (${o.knownHostsFile}): ${errorMessage(err)}`);
  }
}

function connectError(o: DialOptions, err: Error & { code?: string }, auth: Pick<ConnectConfig, 'agent' | 'privateKey'>): SshConnectError {
  const message = errorMessage(err);
  if (/All configured authentication methods failed/i.test(message)) {
    const tried = [auth.agent ? `the keys in ssh-agent (${auth.agent})` : undefined, o.identityFile ? `the identity file ${o.identityFile}` : undefined]
      .filter(Boolean)
      .join(' and ');
    return new SshConnectError(
      `SSH authentication as ${o.username} to ${o.label} failed (tried ${tried}). Check sshUser, that your public key is in ~${o.username}/.ssh/authorized_keys there, and that the key is loaded (ssh-add -l).`,
      'auth',
    );
  }
  if (/encrypted/i.test(message) && /passphrase/i.test(message)) {
    return new SshConnectError(
      `The identity file ${o.identityFile} is encrypted. Load it into ssh-agent (ssh-add ${o.identityFile}) and remove identityFile from the profile.`,
      'config',
    );
  }
  if (/Cannot parse privateKey/i.test(message)) {
    return new SshConnectError(
      `The identity file ${o.identityFile} is not a private key ssh2 can read (${message}). Point identityFile at an OpenSSH or PEM private key.`,
      'config',
    );
  }
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED')
    return new SshConnectError(`Cannot reach ${o.label}: connection refused. Is sshd running there, and is the SSH port right?`, 'refused');
  if (['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) {
    return new SshConnectError(`Cannot reach ${o.label}: ${code}. Is the machine up? Check the network or VPN.`, 'unreachable');
  }
  return new SshConnectError(`SSH connection to ${o.label} failed: ${message}`, 'other');
}

/**
 * ssh2, loaded on its first use: most sessions never open an SSH connection, and evaluating it
 * is a large part of loading the extension (its activation, e.g. the explorer's cold open).
 */
export function loadSsh2(): Promise<typeof import('ssh2')> {
  return import('ssh2');
}

/** A ready (authenticated) ssh2 Client. The caller ends it. */
export async function dialSsh(o: DialOptions): Promise<Client> {
  const { Client } = await loadSsh2();
  const timeoutMs = o.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  const auth = authConfig(o, o.label);
  const address = o.address ?? (await resolveAddress(o.host, o.label, timeoutMs, o.hostSource));
  let knownTypes: string[] = [];
  if (o.strictHostKeyChecking) {
    try {
      knownTypes = knownKeyTypes(readKnownHosts(o.knownHostsFile), [o.host, address], o.port);
    } catch (err) {
      throw new SshConnectError(`Cannot read the known hosts file ${o.knownHostsFile}: ${errorMessage(err)}`, 'config');
    }
  }
  // fleetctl offers only the key types known_hosts has for the host (GetHostKeyAlgorithms): first here.
  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    let refusal: SshConnectError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stopTimer = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };
    const fail = (err: Error) => {
      stopTimer();
      o.signal?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      client.destroy();
      reject(err);
    };
    const startTimer = () => {
      if (!settled) timer = setTimeout(() => fail(timeoutError(o.label, timeoutMs)), timeoutMs);
    };
    const onAbort = () => fail(abortError(o.signal!));
    const config: ConnectConfig = {
      ...(o.sock ? { sock: o.sock } : { host: address, port: o.port }),
      username: o.username,
      ...auth,
      readyTimeout: 0,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) },
      hostVerifier: ((key: Buffer, verify: (ok: boolean) => void) => {
        verifyHostKey(o, key, address, { pause: stopTimer, resume: startTimer }).then(
          () => verify(true),
          (err: unknown) => {
            refusal = err instanceof SshConnectError ? err : new SshConnectError(String(err), 'other');
            verify(false);
          },
        );
        return undefined;
      }) as unknown as NonNullable<ConnectConfig['hostVerifier']>,
    };
    client.on('ready', () => {
      stopTimer();
      o.signal?.removeEventListener('abort', onAbort);
      if (settled) {
        client.end();
        return;
      }
      settled = true;
      resolve(client);
    });
    client.on('error', (err: Error & { code?: string }) => {
      if (settled) o.log?.('warn', `The SSH connection to ${o.label} failed: ${err.message}`);
      else fail(refusal ?? connectError(o, err, auth));
    });
    client.on('close', () => {
      if (!settled)
        fail(
          refusal ??
            new SshConnectError(
              `The SSH server closed the connection to ${o.label} during the handshake. Check sshd's logs and that ${o.username} may log in.`,
              'closed',
            ),
        );
    });
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    startTimer();
    try {
      client.connect(config);
    } catch (err) {
      fail(connectError(o, err as Error, auth));
    }
  });
}
