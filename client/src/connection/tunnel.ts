/**
 * SshTunnel: fleetctl's --tunnel in Node (fleet-reference §4.4). One SSH connection to the
 * bastion, authenticated with ssh-agent (SSH_AUTH_SOCK) or an identity file; the host key is
 * checked against known_hosts before anything is sent. Each API request gets its own channel:
 * `direct-tcpip` for TCP endpoints, `direct-streamlocal@openssh.com` for unix sockets, and, when
 * the server refuses streamlocal, `fleetctl fd-forward <socket>` run on the bastion, as fleetctl
 * itself does. A dropped connection is re-dialled by the next request.
 *
 * Prompts are injected (`confirmUnknownHost`), so this file is plain Node: no `vscode` import.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import type { DialTarget } from '../api/httpTransport';
import { FleetApiError } from '../api/types';
import { authConfig, loadSsh2, SshConnectError } from './sshSession';
import { appendKnownHost, fingerprintSha256, hostKeyAlgorithms, hostToken, keyTypeOf, knownKeyTypes, lookupHostKey, readKnownHosts } from './knownHosts';

export interface TunnelOptions {
  host: string;
  port: number;
  username: string;
  /** Shown in messages instead of the host (e.g. the ssh config alias). */
  displayHost?: string;
  identityFile?: string;
  /** ssh-agent socket; default $SSH_AUTH_SOCK. Pass '' to not use an agent. */
  agentSocket?: string;
  knownHostsFile: string;
  /** false: accept any host key without looking (fleetctl --strict-host-key-checking=false). */
  strictHostKeyChecking: boolean;
  /** Time to connect, verify and authenticate (prompts excluded); default 10 s. */
  timeoutMs?: number;
  /** Asked when known_hosts has no key for the host; true trusts and records the key. Absent: refuse. */
  /** `notes`: what the user should weigh (the same key recorded for the address only, known_hosts lines ignored, by number). */
  confirmUnknownHost?: (host: string, fingerprint: string, keyType: string, notes?: readonly string[]) => Promise<boolean>;
  /** The command run on the bastion when streamlocal is refused; default `fleetctl fd-forward`. */
  fdForwardCommand?: string;
  /** Progress and warnings (e.g. "Permanently added …"). */
  log?: (message: string) => void;
  /** Environment for SSH_AUTH_SOCK; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** SSH channel-open failure reasons (RFC 4254 §5.1) that mean "this kind of channel is not allowed". */
const SSH_OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
const SSH_OPEN_UNKNOWN_CHANNEL_TYPE = 3;
/** Below OpenSSH's default MaxSessions (10), leaving room for an interactive session. */
const MAX_EXEC_CHANNELS = 8;

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The exec channel as a Duplex whose end is held back until the channel closes, so that a
 * command that failed (exit status arrives before close) ends the stream with its error instead
 * of an anonymous "socket hang up".
 */
function endAfterExit(channel: ClientChannel, failure: () => Error | undefined): Duplex {
  const stream = new Duplex({
    write(chunk: Buffer, encoding, callback) {
      channel.write(chunk, encoding, callback);
    },
    final(callback) {
      channel.end();
      callback();
    },
    read() {
      channel.resume();
    },
    destroy(err, callback) {
      channel.destroy();
      callback(err);
    },
  });
  channel.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) channel.pause();
  });
  channel.on('error', (err: Error) => stream.destroy(err));
  channel.on('close', () => {
    const err = failure();
    if (err) stream.destroy(err);
    else stream.push(null);
  });
  return stream;
}

export class SshTunnel {
  readonly label: string;
  private current: Promise<Client> | undefined;
  /** What `current` resolved to. */
  private live: Client | undefined;
  private readonly clients = new Set<Client>();
  /** Clients past the handshake: closed politely; others are destroyed (a silent peer never answers end()). */
  private readonly ready = new WeakSet<Client>();
  private streamLocalRefused = false;
  /** fd-forward channels are SSH sessions, which sshd caps per connection (MaxSessions, default 10). */
  private execChannels = 0;
  private readonly execWaiters: Array<() => void> = [];
  private disposed = false;

  constructor(private readonly options: TunnelOptions) {
    const host = options.displayHost ?? options.host;
    this.label = `${options.username}@${host.includes(':') ? `[${host}]` : host}:${options.port}`;
  }

  /** Opens a byte stream to `target` as seen from the bastion (HttpFleetApiOptions.dial). */
  async dial(target: DialTarget, signal?: AbortSignal): Promise<Duplex> {
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const client = await this.connect();
      try {
        return target.kind === 'tcp' ? await this.forwardTcp(client, target.host, target.port) : await this.forwardUnix(client, target.path);
      } catch (err) {
        // A connection that died under us (not yet noticed) is re-dialled once.
        if (attempt === 0 && !(err instanceof FleetApiError) && !this.disposed) {
          this.drop(client);
          continue;
        }
        throw err;
      }
    }
  }

  /** The live connection, dialling one if there is none. Concurrent callers share one dial. */
  connect(): Promise<Client> {
    if (this.disposed) return Promise.reject(new SshConnectError(`the SSH tunnel ${this.label} was closed`, 'closed'));
    if (!this.current) {
      const dialing = this.open();
      this.current = dialing;
      dialing.then(
        client => {
          if (this.current === dialing) this.live = client;
        },
        () => {
          if (this.current === dialing) this.current = undefined;
        },
      );
    }
    return this.current;
  }

  dispose(): void {
    this.disposed = true;
    this.current = undefined;
    this.live = undefined;
    for (const client of this.clients) this.close(client);
    this.clients.clear();
  }

  private close(client: Client): void {
    if (this.ready.has(client)) client.end();
    else client.destroy();
  }

  private drop(client: Client): void {
    this.forget(client);
    this.close(client);
  }

  private authConfig(): Pick<ConnectConfig, 'agent' | 'privateKey'> {
    return authConfig(this.options, this.label);
  }

  /** The address to dial: fleetctl checks (and records) the host key under the address it dialled. */
  private async resolveAddress(): Promise<string> {
    const o = this.options;
    if (net.isIP(o.host)) return o.host;
    const timeoutMs = o.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const found = await Promise.race([
        dns.lookup(o.host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
        }),
      ]);
      return found.address;
    } catch (err) {
      throw this.connectError(err as Error, {});
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private async open(): Promise<Client> {
    const address = await this.resolveAddress();
    return this.handshake(address, (await loadSsh2()).Client);
  }

  private handshake(address: string, Client: typeof import('ssh2').Client): Promise<Client> {
    const o = this.options;
    const timeoutMs = o.timeoutMs ?? 10_000;
    return new Promise<Client>((resolve, reject) => {
      let auth: Pick<ConnectConfig, 'agent' | 'privateKey'>;
      try {
        auth = this.authConfig();
      } catch (err) {
        reject(err);
        return;
      }
      const client = new Client();
      let settled = false;
      /** Why the host key was refused, when it was. */
      let refusal: SshConnectError | undefined;
      let timer: NodeJS.Timeout | undefined;
      const startTimer = () => {
        timer = setTimeout(() => {
          fail(
            new SshConnectError(
              `Timed out while initiating the SSH connection to ${this.label} (after ${timeoutMs / 1000} s). Is the host reachable and is sshd running? (The limit is the profile's sshTimeout.)`,
              'timeout',
            ),
          );
          client.destroy();
        }, timeoutMs);
      };
      const stopTimer = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
      };
      const fail = (err: SshConnectError) => {
        stopTimer();
        if (settled) return;
        settled = true;
        this.clients.delete(client);
        reject(err);
      };

      let knownTypes: string[] = [];
      if (o.strictHostKeyChecking) {
        try {
          knownTypes = knownKeyTypes(readKnownHosts(o.knownHostsFile), [o.host, address], o.port);
        } catch (err) {
          reject(new SshConnectError(`Cannot read the known hosts file ${o.knownHostsFile}: ${(err as Error).message}`, 'config'));
          return;
        }
      }
      const config: ConnectConfig = {
        host: address,
        port: o.port,
        username: o.username,
        ...auth,
        readyTimeout: 0,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 3,
        algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) },
        hostVerifier: ((key: Buffer, verify: (ok: boolean) => void) => {
          this.verifyHostKey(key, address, { pause: stopTimer, resume: startTimer }).then(
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
        this.ready.add(client);
        if (settled || this.disposed) {
          client.end();
          if (!settled) fail(new SshConnectError(`the SSH tunnel ${this.label} was closed`, 'closed'));
          return;
        }
        settled = true;
        o.log?.(`SSH tunnel to ${this.label} is up`);
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) {
          o.log?.(`SSH tunnel ${this.label}: ${err.message}`);
          this.forget(client);
          return;
        }
        fail(refusal ?? this.connectError(err, auth));
      });
      client.on('close', () => {
        this.forget(client);
        if (!settled)
          fail(
            refusal ??
              new SshConnectError(
                `The SSH server ${this.label} closed the connection during the handshake. Check sshd's logs and that ${o.username} may log in.`,
                'closed',
              ),
          );
      });
      this.clients.add(client);
      startTimer();
      try {
        client.connect(config);
      } catch (err) {
        fail(this.connectError(err as Error, auth));
      }
    });
  }

  /** The connection went away: the next request dials again (unless a newer one is already up). */
  private forget(client: Client): void {
    this.clients.delete(client);
    if (this.live === client) {
      this.live = undefined;
      this.current = undefined;
    }
  }

  private async verifyHostKey(key: Buffer, address: string, timer: { pause(): void; resume(): void }): Promise<void> {
    const o = this.options;
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
          ? `The host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${o.knownHostsFile} (line ${lines}). Not connecting.`
          : `REMOTE HOST IDENTIFICATION HAS CHANGED for ${name}: it sent ${keyType} key ${fingerprint}, which differs from the key in ${o.knownHostsFile} (line ${lines}). ` +
              `Someone could be intercepting the connection, or the host was reinstalled. Not connecting. If the change is expected, remove line ${lines} from ${o.knownHostsFile} and connect again.`,
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
        `Unknown host ${name} (${keyType} ${fingerprint}) and no one to ask; add it with: ssh-keyscan -p ${o.port} ${o.host} >> ${o.knownHostsFile} (after checking the fingerprint), or connect interactively once.` +
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
        `Host key verification failed: the key of ${name} (${keyType} ${fingerprint}) was not trusted, so the tunnel was not opened.`,
        'host-key-rejected',
      );
    }
    try {
      await appendKnownHost(o.knownHostsFile, o.host, o.port, key);
      o.log?.(`Permanently added '${name}' (${keyType}) to the list of known hosts (${o.knownHostsFile}).`);
    } catch (err) {
      // As fleetctl: the user said yes, so connect, but say why it will ask again.
      o.log?.(`Failed to add the host to the list of known hosts (${o.knownHostsFile}): ${(err as Error).message}`);
    }
  }

  private connectError(err: Error & { level?: string; code?: string }, auth: Pick<ConnectConfig, 'agent' | 'privateKey'>): SshConnectError {
    const o = this.options;
    const message = err.message ?? String(err);
    if (/All configured authentication methods failed/i.test(message)) {
      const tried = [auth.agent ? `the keys in ssh-agent (${auth.agent})` : undefined, o.identityFile ? `the identity file ${o.identityFile}` : undefined]
        .filter(Boolean)
        .join(' and ');
      return new SshConnectError(
        `SSH authentication as ${o.username} to ${this.label} failed (tried ${tried}). Check sshUser, that your public key is in ~${o.username}/.ssh/authorized_keys there, and that the key is loaded (ssh-add -l).`,
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
      return new SshConnectError(
        `Cannot reach the SSH tunnel host ${this.label}: connection refused. Is sshd running there, and is the port right?`,
        'refused',
      );
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return new SshConnectError(
        `Cannot reach the SSH tunnel host ${this.label}: host name not found. Check the tunnel setting (or its ~/.ssh/config alias).`,
        'unreachable',
      );
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT')
      return new SshConnectError(`Cannot reach the SSH tunnel host ${this.label}: ${code}. Check the network or VPN.`, 'unreachable');
    return new SshConnectError(`SSH connection to ${this.label} failed: ${message}`, 'other');
  }

  private forwardTcp(client: Client, host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (!err) return resolve(channel);
        reject(
          this.channelError(
            err,
            `fleet at ${host}:${port}`,
            `Is fleetd listening on ${host}:${port} as seen from the tunnel host? (A TCP endpoint is resolved on the tunnel host.)`,
          ),
        );
      });
    });
  }

  private forwardUnix(client: Client, socketPath: string): Promise<Duplex> {
    if (this.streamLocalRefused) return this.fdForward(client, socketPath, undefined);
    return new Promise<Duplex>((resolve, reject) => {
      client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
        if (!err) return resolve(channel);
        if (!/Channel open failure/i.test(err.message)) return reject(err);
        // OpenSSH answers "open failed" both when AllowStreamLocalForwarding is off and when the
        // socket is missing; only "administratively prohibited"/"unknown channel type" are certain.
        const reason = (err as Error & { reason?: number }).reason;
        if (reason === SSH_OPEN_ADMINISTRATIVELY_PROHIBITED || reason === SSH_OPEN_UNKNOWN_CHANNEL_TYPE) this.streamLocalRefused = true;
        const refusal = err.message.replace(/^\(SSH\) Channel open failure: /, '');
        this.options.log?.(`${this.label} did not open ${socketPath} itself (${refusal}); trying \`${this.fdForwardCommand()}\` there, as fleetctl does`);
        this.fdForward(client, socketPath, refusal).then(resolve, reject);
      });
    });
  }

  private fdForwardCommand(): string {
    return this.options.fdForwardCommand ?? 'fleetctl fd-forward';
  }

  /**
   * `fleetctl fd-forward <socket>` on the bastion; its stdin/stdout become the HTTP connection.
   * `refusal` is why streamlocal failed first, for the message if this fails too.
   */
  private async fdForward(client: Client, socketPath: string, refusal: string | undefined): Promise<Duplex> {
    while (this.execChannels >= MAX_EXEC_CHANNELS) await new Promise<void>(resolve => this.execWaiters.push(resolve));
    this.execChannels++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.execChannels--;
      this.execWaiters.shift()?.();
    };
    try {
      const stream = await this.execForward(client, socketPath, refusal);
      stream.once('close', release);
      return stream;
    } catch (err) {
      release();
      throw err;
    }
  }

  private execForward(client: Client, socketPath: string, refusal: string | undefined): Promise<Duplex> {
    const command = `${this.fdForwardCommand()} ${shellQuote(socketPath)}`;
    const host = this.options.displayHost ?? this.options.host;
    return new Promise((resolve, reject) => {
      client.exec(command, (err, channel: ClientChannel) => {
        if (err) {
          reject(this.channelError(err, `\`${command}\``, 'The SSH server refused to run it.'));
          return;
        }
        let sawData = false;
        let stderr = '';
        let failure: FleetApiError | undefined;
        channel.once('data', () => {
          sawData = true;
          // fd-forward works here: skip the streamlocal attempt from now on.
          if (refusal !== undefined) this.streamLocalRefused = true;
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          if (stderr.length < 2000) stderr += chunk.toString('utf8');
        });
        channel.on('exit', (code: number | null) => {
          if (sawData || code === 0) return;
          const detail = stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : '';
          const first =
            refusal === undefined
              ? ''
              : `${host} would not open ${socketPath} over SSH (${refusal}: the socket is missing or AllowStreamLocalForwarding is off), and `;
          const what = `\`${command}\` on ${this.label} exited with ${code}${detail}.`;
          const fix =
            code === 127
              ? `Install fleetctl (with fd-forward) on ${host}, or allow unix-socket forwarding in its sshd (AllowStreamLocalForwarding yes), or use an http:// endpoint.`
              : `Is fleetd running there with its socket at ${socketPath}?`;
          failure = new FleetApiError(`${first}${what} ${fix}`, undefined, 'ssh');
        });
        resolve(endAfterExit(channel, () => failure));
      });
    });
  }

  private channelError(err: Error, what: string, fix: string): Error {
    const message = err.message ?? String(err);
    if (/Channel open failure/i.test(message)) {
      // sshd's "Connection refused": nothing listens at the endpoint as seen from the tunnel host.
      const refused = /refused/i.test(message);
      return new FleetApiError(
        `The tunnel ${this.label} could not reach ${what}: ${message.replace(/^\(SSH\) Channel open failure: /, '')}. ${fix}`,
        undefined,
        'ssh',
        refused ? 'ECONNREFUSED' : undefined,
      );
    }
    // "Not connected", "No response from server": a dead connection; dial() retries once.
    return err;
  }
}
