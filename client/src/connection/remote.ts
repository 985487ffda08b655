/**
 * fleetctl's SSH commands on a fleet machine (fleet-etcd-v2 §5): `journal` and `status` run
 * fleetctl's exact remote command lines (the command, then each argument in Go `%q` form), and
 * `ssh` opens a shell. The machine is dialled directly, or, when the profile has a tunnel host,
 * with SSH over a `direct-tcpip` channel of the tunnel host (the target resolved locally,
 * originator 0.0.0.0:0), both with the same credentials and host-key rules (sshSession.ts).
 *
 * A followed journal gets a pty (TERM=dumb, so no colours): when the user stops following,
 * the channel is signalled and closed, sshd closes the pty and the remote journalctl gets
 * SIGHUP, so no process is left behind on the machine (fleetctl gets the same through its pty
 * when run from a terminal).
 *
 * Plain Node: no `vscode` import.
 */
import type { ClientChannel, Client, PseudoTtyOptions } from 'ssh2';
import type { Duplex } from 'node:stream';
import type { ClusterProfile } from './profile';
import { agentSocketOf, dialSsh, resolveAddress, SshConnectError, timeoutError, withTimeout, type SshCredentials } from './sshSession';

/** Go's `%q` for a string: double quotes, `\"`, `\\`, `\n`-style escapes, `\x..`/`\u....` for the rest. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** fleetctl's runRemoteCommand: `cmd` as is, then ` %q` for each argument. */
export function remoteCommandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args.map(goQuote)].join(' ');
}

export interface JournalOptions {
  /** `--lines` (default 10). */
  lines?: number;
  /** `--follow`: appends `-f`. */
  follow?: boolean;
  /** `--sudo`: prefixes `sudo`. */
  sudo?: boolean;
  /** `--output` (default `short`), passed through. */
  output?: string;
}

/** `fleetctl journal` on the unit's machine. */
export function journalCommandLine(unit: string, options: JournalOptions = {}): string {
  const command = ['journalctl', '--unit', unit, '--no-pager', '-n', String(options.lines ?? 10), '--output', options.output ?? 'short'];
  if (options.sudo) command.unshift('sudo');
  if (options.follow) command.push('-f');
  return remoteCommandLine(command[0]!, command.slice(1));
}

/** `fleetctl status` on the unit's machine (fleetctl has no --sudo here). */
export function statusCommandLine(unit: string): string {
  return remoteCommandLine('systemctl', ['status', '-l', unit]);
}

export interface SshAddress {
  host: string;
  port: number;
}

/**
 * fleetctl's findSSHPort + maybeAddDefaultPort: `--ssh-port` is added to a PublicIP without a
 * colon, and a colon-less address gets `:22`; `host:port` and `[v6]:port` are kept.
 */
export function machineAddress(publicIP: string, sshPort = 22): SshAddress {
  const text = publicIP.trim();
  if (text === '') throw new Error('Could not determine address of machine: its PublicIP is empty.');
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : sshPort };
  const colons = (text.match(/:/g) ?? []).length;
  if (colons === 1) {
    const [host, port] = text.split(':') as [string, string];
    if (/^\d+$/.test(port)) return { host, port: Number(port) };
    throw new Error(`The machine address ${text} has no valid port.`);
  }
  // A bare IPv6 address: fleetctl would fail to dial it; use it with the SSH port.
  return { host: text, port: sshPort };
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export interface RemoteOptions extends SshCredentials {
  /** The tunnel host (fleetctl --tunnel), when there is one. */
  tunnel?: SshAddress & { username?: string; label?: string };
}

/** The SSH side of a cluster profile: its user, key, known_hosts and tunnel. */
export function remoteOptionsFromProfile(profile: ClusterProfile, deps: Pick<SshCredentials, 'confirmUnknownHost' | 'log' | 'env'> = {}): RemoteOptions {
  const t = profile.tunnelTarget;
  return {
    username: profile.sshUser,
    identityFile: profile.identityFile,
    knownHostsFile: profile.knownHostsFile,
    strictHostKeyChecking: profile.strictHostKeyChecking,
    timeoutMs: profile.sshTimeoutMs,
    ...(t ? { tunnel: { host: t.host, port: t.port, username: t.user, label: `${t.user}@${hostPort(t.alias ?? t.host, t.port)}` } } : {}),
    ...deps,
  };
}

export interface RunOptions {
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Allocate a pty (merges stderr into stdout). Default: none. */
  pty?: PseudoTtyOptions;
  /** Request agent forwarding for this session (fleetctl: only `ssh --forward-agent`). */
  forwardAgent?: boolean;
  /** Stops the command: signal, close the channel, end the connection. */
  signal?: AbortSignal;
}

export interface RunResult {
  /** The remote exit status; null when the command ended by a signal or was stopped. */
  exitCode: number | null;
  exitSignal?: string;
  /** True when `signal` stopped it. */
  stopped: boolean;
}

export interface ShellOptions {
  cols: number;
  rows: number;
  term?: string;
  forwardAgent?: boolean;
}

/** An interactive shell on a machine: a channel with a pty; `close()` ends the connection too. */
export interface RemoteShell {
  readonly channel: ClientChannel;
  resize(cols: number, rows: number): void;
  close(): void;
  /** Resolves with the exit code (null: signal or closed) when the channel closes. */
  readonly exited: Promise<number | null>;
}

/** SSH sessions on fleet machines with a profile's credentials; each call opens its own connection. */
export class MachineSsh {
  constructor(private readonly options: RemoteOptions) {}

  private label(target: SshAddress): string {
    return `${this.options.username}@${hostPort(target.host, target.port)}${this.options.tunnel ? ` via ${this.tunnelLabel()}` : ''}`;
  }

  private tunnelLabel(): string {
    const t = this.options.tunnel!;
    return t.label ?? `${t.username ?? this.options.username}@${hostPort(t.host, t.port)}`;
  }

  /** A ready client on the machine, plus whatever must be closed with it (the tunnel connection). */
  async connect(target: SshAddress, what = `machine ${hostPort(target.host, target.port)}`): Promise<{ client: Client; close(): void }> {
    const o = this.options;
    const timeoutMs = o.timeoutMs ?? 10_000;
    const label = `${what} (${this.label(target)})`;
    if (!o.tunnel) {
      const client = await dialSsh({ ...o, host: target.host, port: target.port, label });
      return { client, close: () => client.end() };
    }
    const tunnel = o.tunnel;
    const bastion = await dialSsh({
      ...o,
      username: tunnel.username ?? o.username,
      host: tunnel.host,
      port: tunnel.port,
      label: `the tunnel host ${this.tunnelLabel()}`,
    });
    try {
      // fleetctl resolves the target locally and opens direct-tcpip with originator 0.0.0.0:0.
      const address = await resolveAddress(target.host, label, timeoutMs);
      const channel = await withTimeout(
        new Promise<Duplex>((resolve, reject) => {
          bastion.forwardOut('0.0.0.0', 0, address, target.port, (err, stream) => (err ? reject(err) : resolve(stream)));
        }),
        timeoutMs,
        () => timeoutError(label, timeoutMs),
      ).catch((err: Error) => {
        if (err instanceof SshConnectError) throw err;
        const why = err.message.replace(/^\(SSH\) Channel open failure: /, '');
        throw new SshConnectError(
          `The tunnel host ${this.tunnelLabel()} could not reach ${what} at ${hostPort(address, target.port)}: ${why}. Is the machine up, is sshd listening on port ${target.port}, and does the tunnel host allow TCP forwarding?`,
          /refused/i.test(why) ? 'refused' : /prohibited/i.test(why) ? 'config' : 'unreachable',
        );
      });
      // fleetctl puts no timeout on this inner handshake; an editor must not hang, so it has one.
      const client = await dialSsh({ ...o, host: target.host, address, port: target.port, label, sock: channel });
      return {
        client,
        close: () => {
          client.end();
          bastion.end();
        },
      };
    } catch (err) {
      bastion.end();
      throw err;
    }
  }

  private checkForwarding(forwardAgent: boolean | undefined): boolean {
    if (!forwardAgent) return false;
    if (agentSocketOf(this.options)) return true;
    this.options.log?.('warn', 'Agent forwarding was asked for, but there is no ssh-agent (SSH_AUTH_SOCK); the session runs without it.');
    return false;
  }

  /** Runs one command line on the machine (fleetctl's runRemoteCommand) until it exits or `signal` aborts. */
  async run(target: SshAddress, commandLine: string, options: RunOptions = {}, what?: string): Promise<RunResult> {
    if (options.signal?.aborted) return { exitCode: null, stopped: true };
    const connection = await this.connect(target, what);
    try {
      if (options.signal?.aborted) return { exitCode: null, stopped: true };
      const forward = this.checkForwarding(options.forwardAgent);
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        connection.client.exec(commandLine, { ...(options.pty ? { pty: options.pty } : {}), ...(forward ? { agentForward: true } : {}) } as never, (err, ch) =>
          err ? reject(err) : resolve(ch),
        );
      });
      return await new Promise<RunResult>(resolve => {
        let exitCode: number | null = null;
        let exitSignal: string | undefined;
        let stopped = false;
        const stop = () => {
          stopped = true;
          // sshd delivers the signal (OpenSSH ≥ 8.1); closing the pty hangs the command up either way.
          try {
            channel.signal('TERM');
          } catch {
            // the channel is already closing
          }
          channel.close();
        };
        if (options.signal?.aborted) stop();
        else options.signal?.addEventListener('abort', stop, { once: true });
        channel.on('data', (chunk: Buffer) => options.onStdout?.(chunk));
        channel.stderr.on('data', (chunk: Buffer) => options.onStderr?.(chunk));
        channel.on('exit', (code: number | null, signalName?: string) => {
          exitCode = typeof code === 'number' ? code : null;
          if (signalName) exitSignal = signalName;
        });
        channel.on('close', () => {
          options.signal?.removeEventListener('abort', stop);
          resolve({ exitCode: stopped ? null : exitCode, ...(exitSignal ? { exitSignal } : {}), stopped });
        });
      });
    } finally {
      connection.close();
    }
  }

  /** Runs a command line and collects its output (for status pages and tests). */
  async capture(
    target: SshAddress,
    commandLine: string,
    options: Omit<RunOptions, 'onStdout' | 'onStderr'> = {},
    what?: string,
  ): Promise<RunResult & { stdout: string; stderr: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const result = await this.run(target, commandLine, { ...options, onStdout: c => out.push(c), onStderr: c => err.push(c) }, what);
    return { ...result, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  /** An interactive login shell (an SSH `shell` request with a pty, as `fleetctl ssh` without a command). */
  async shell(target: SshAddress, options: ShellOptions, what?: string): Promise<RemoteShell> {
    const connection = await this.connect(target, what);
    try {
      const forward = this.checkForwarding(options.forwardAgent);
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        connection.client.shell(
          { rows: options.rows, cols: options.cols, height: 0, width: 0, term: options.term ?? 'xterm-256color' },
          (forward ? { agentForward: true } : {}) as never,
          (err, ch) => (err ? reject(err) : resolve(ch)),
        );
      });
      const exited = new Promise<number | null>(resolve => {
        let code: number | null = null;
        channel.on('exit', (c: number | null) => (code = typeof c === 'number' ? c : null));
        channel.on('close', () => {
          connection.close();
          resolve(code);
        });
      });
      return {
        channel,
        exited,
        resize: (cols, rows) => channel.setWindow(rows, cols, 0, 0),
        close: () => {
          channel.close();
          connection.close();
        },
      };
    } catch (err) {
      connection.close();
      throw err;
    }
  }
}
