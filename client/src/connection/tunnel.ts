/**
 * SshTunnel: fleetctl's --tunnel in Node (fleet-reference §4.4). One SSH connection to the
 * bastion, dialled by sshSession's `dialSsh` (ssh-agent or an identity file, the host key checked
 * against known_hosts before anything is sent). Each API request gets its own channel:
 * `direct-tcpip` for TCP endpoints, `direct-streamlocal@openssh.com` for unix sockets, and, when
 * the server refuses streamlocal, `fleetctl fd-forward <socket>` run on the bastion, as fleetctl
 * itself does. A dropped connection is re-dialled by the next request.
 *
 * Prompts are injected (`confirmUnknownHost`), so this file is plain Node: no `vscode` import.
 */
import { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { abortError, errorMessage } from '../../../protocol/src/log';
import type { DialTarget } from '../api/httpTransport';
import { FleetApiError } from '../api/types';
import { dialSsh, SshConnectError, type SshCredentials } from './sshSession';

/** The tunnel host and how to log in there (`strictHostKeyChecking: false` is fleetctl's --strict-host-key-checking=false). */
export interface TunnelOptions extends SshCredentials {
  host: string;
  port: number;
  /** Shown in messages instead of the host (e.g. the ssh config alias). */
  displayHost?: string | undefined;
  /** The command run on the bastion when streamlocal is refused; default `fleetctl fd-forward`. */
  fdForwardCommand?: string;
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
  /** Live connections (dialSsh destroys one that never finished its handshake: a silent peer never answers end()). */
  private readonly clients = new Set<Client>();
  /** Aborted by dispose(): a handshake under way gives up. */
  private readonly closing = new AbortController();
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
      if (signal?.aborted) throw abortError(signal);
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
    if (this.disposed) return Promise.reject(this.closedError());
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
    this.closing.abort(this.closedError());
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private drop(client: Client): void {
    this.forget(client);
    client.end();
  }

  /** One handshake, sshSession's (host key, credentials, timeout, wording); dispose() gives up a handshake under way. */
  private async open(): Promise<Client> {
    const o = this.options;
    const client = await dialSsh({
      ...o,
      label: `the SSH tunnel host ${this.label}`,
      hostSource: 'the tunnel setting (or its ~/.ssh/config alias)',
      signal: this.closing.signal,
    });
    if (this.disposed) {
      client.end();
      throw this.closedError();
    }
    this.clients.add(client);
    // dialSsh logs a failure of the live connection; the next request dials again.
    client.on('error', () => this.forget(client));
    client.on('close', () => this.forget(client));
    o.log?.('info', `SSH tunnel to ${this.label} is up`);
    return client;
  }

  private closedError(): SshConnectError {
    return new SshConnectError(`the SSH tunnel ${this.label} was closed`, 'closed');
  }

  /** The connection went away: the next request dials again (unless a newer one is already up). */
  private forget(client: Client): void {
    this.clients.delete(client);
    if (this.live === client) {
      this.live = undefined;
      this.current = undefined;
    }
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
        this.options.log?.(
          'warn',
          `${this.label} did not open ${socketPath} itself (${refusal}); trying \`${this.fdForwardCommand()}\` there, as fleetctl does`,
        );
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
    const message = errorMessage(err);
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
