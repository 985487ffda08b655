/**
 * A private OpenSSH server and ssh-agent for tunnel tests: 127.0.0.1 on a free port, its own host
 * key, the current user logging in with a generated client key (held by the agent), TCP and
 * unix-socket (StreamLocal) forwarding enabled, and a known_hosts line in `[127.0.0.1]:PORT` form.
 *
 *   const ssh = await useSshd();        // the runner's sshd + agent (FLEET_TEST_SSHD_DIR/PORT, SSH_AUTH_SOCK) or private ones
 *   new Client().connect({ host: ssh.host, port: ssh.port, username: ssh.user, agent: ssh.agentSocket,
 *                          hostVerifier: key => key.equals(ssh.hostKeyBlob) });
 *   await ssh.stop();
 *
 * Files in `dir`: ssh_host_ed25519_key(.pub), id_ed25519(.pub), authorized_keys, known_hosts,
 * ssh_config (a `Host fleet-test` block), sshd_config, sshd.log, agent.sock.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { spawnDetached, stopSpawned, tail, waitFor, type Spawned } from './process';
import { binary, requireBinary, type Requirement } from './requirements';

export const SSH_HOST_ALIAS = 'fleet-test';

/** What a test needs to start its own sshd and agent. */
export const sshdBinaries = (): Requirement[] => [
  binary('sshd', 'openssh-server'),
  binary('ssh-keygen', 'openssh-client'),
  binary('ssh-agent', 'openssh-client'),
  binary('ssh-add', 'openssh-client'),
];

/** What useSshd() needs: the runner's sshd, or the binaries to start one. */
export const sshdAvailable = (): Requirement[] =>
  process.env.FLEET_TEST_SSHD_DIR && process.env.FLEET_TEST_SSHD_PORT && process.env.SSH_AUTH_SOCK ? [{ name: 'sshd', missing: undefined }] : sshdBinaries();

/** File names inside an sshd fixture directory. */
export const SshFiles = {
  hostKey: 'ssh_host_ed25519_key',
  clientKey: 'id_ed25519',
  authorizedKeys: 'authorized_keys',
  knownHosts: 'known_hosts',
  sshConfig: 'ssh_config',
  sshdConfig: 'sshd_config',
  log: 'sshd.log',
  agentSocket: 'agent.sock',
} as const;

/** The connection facts a test needs, whether the sshd is private or the runner's. */
export interface SshEndpoint {
  /** A loopback address (127.0.0.1 unless the server was started on another). */
  host: string;
  port: number;
  user: string;
  dir: string;
  /** Private key of the client (also loaded into the agent). */
  clientKey: string;
  knownHosts: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA…` */
  knownHostsLine: string;
  /** The raw public host key (the bytes ssh2's hostVerifier receives). */
  hostKeyBlob: Buffer;
  /** An OpenSSH client config with a `Host fleet-test` block for this server. */
  sshConfig: string;
}

function keygen(file: string, comment: string): void {
  if (fs.existsSync(file)) return;
  execFileSync(requireBinary('ssh-keygen', 'openssh-client'), ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'pipe' });
}

function endpointIn(dir: string, port: number, user: string, host = '127.0.0.1', clientKey = path.join(dir, SshFiles.clientKey)): SshEndpoint {
  const hostPub = fs
    .readFileSync(path.join(dir, `${SshFiles.hostKey}.pub`), 'utf8')
    .trim()
    .split(/\s+/);
  return {
    host,
    port,
    user,
    dir,
    clientKey,
    knownHosts: path.join(dir, SshFiles.knownHosts),
    knownHostsLine: `[${host}]:${port} ${hostPub[0]} ${hostPub[1]}`,
    hostKeyBlob: Buffer.from(hostPub[1] ?? '', 'base64'),
    sshConfig: path.join(dir, SshFiles.sshConfig),
  };
}

/** Resolves once the server sends its `SSH-2.0-` banner. */
function sshBanner(host: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', data => done(data.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
  });
}

export class SshServer {
  private constructor(
    private readonly process: Spawned,
    readonly endpoint: SshEndpoint,
    private readonly ownedDir: string | undefined,
  ) {}

  get port(): number {
    return this.endpoint.port;
  }

  get dir(): string {
    return this.endpoint.dir;
  }

  get pid(): number {
    return this.process.pid;
  }

  /**
   * `host`: the loopback address to listen on (default 127.0.0.1; Linux serves all of 127/8).
   * `clientKey`: a private key whose `.pub` is authorized instead of a generated one (one agent
   * key for several servers). `extraConfig`: more sshd_config lines (e.g. a ForceCommand);
   * `logLevel`: sshd's LogLevel (default VERBOSE; DEBUG1 logs direct-tcpip targets).
   */
  static async start(
    options: { dir?: string; port?: number; host?: string; clientKey?: string; extraConfig?: readonly string[]; logLevel?: string } = {},
  ): Promise<SshServer> {
    const sshd = requireBinary('sshd', 'openssh-server');
    const ownedDir = options.dir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-sshd-'));
    const dir = options.dir ?? ownedDir!;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = (name: string) => path.join(dir, name);
    keygen(file(SshFiles.hostKey), 'fleet-test-host');
    const clientKey = options.clientKey ?? file(SshFiles.clientKey);
    keygen(clientKey, 'fleet-test-client');
    fs.copyFileSync(`${clientKey}.pub`, file(SshFiles.authorizedKeys));
    const host = options.host ?? '127.0.0.1';
    const user = os.userInfo().username;
    const port = options.port ?? (await freePort());
    fs.writeFileSync(
      file(SshFiles.sshdConfig),
      [
        `Port ${port}`,
        `ListenAddress ${host}`,
        `HostKey ${file(SshFiles.hostKey)}`,
        `PidFile ${file('sshd.pid')}`,
        `AuthorizedKeysFile ${file(SshFiles.authorizedKeys)}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        // The key files live in a temp dir whose permissions sshd would otherwise reject.
        'StrictModes no',
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'StreamLocalBindUnlink yes',
        'GatewayPorts no',
        'X11Forwarding no',
        'PrintMotd no',
        'MaxStartups 100:30:200',
        'MaxSessions 100',
        `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
        'Subsystem sftp internal-sftp',
        ...(options.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    const endpoint = endpointIn(dir, port, user, host, clientKey);
    fs.writeFileSync(endpoint.knownHosts, `${endpoint.knownHostsLine}\n`);
    fs.writeFileSync(
      endpoint.sshConfig,
      [
        `Host ${SSH_HOST_ALIAS}`,
        `  HostName ${host}`,
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${endpoint.clientKey}`,
        `  UserKnownHostsFile ${endpoint.knownHosts}`,
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege-separation directory.
    try {
      fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    } catch {
      // not root: sshd reports it below if it matters
    }
    const config = file(SshFiles.sshdConfig);
    try {
      execFileSync(sshd, ['-t', '-f', config], { stdio: 'pipe' });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
      if (ownedDir) fs.rmSync(ownedDir, { recursive: true, force: true });
      throw new Error(`sshd -t rejected ${config}: ${stderr.trim()}`);
    }
    const logFile = file(SshFiles.log);
    const started = spawnDetached(sshd, ['-D', '-e', '-f', config], { logFile });
    const server = new SshServer(started, endpoint, ownedDir);
    try {
      await waitFor(`sshd on ${host}:${port}`, () => sshBanner(host, port), {
        timeoutMs: 10_000,
        abortIf: () => (started.hasExited() ? `sshd exited:\n${tail(logFile)}` : undefined),
      });
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  async stop(): Promise<void> {
    await stopSpawned(this.process);
    if (this.ownedDir) fs.rmSync(this.ownedDir, { recursive: true, force: true });
  }
}

export class SshAgent {
  private constructor(
    private readonly process: Spawned,
    readonly socket: string,
  ) {}

  get pid(): number {
    return this.process.pid;
  }

  /** Starts `ssh-agent -D -a socket` and adds `keys` to it. The socket path must not exist yet. */
  static async start(socket: string, keys: readonly string[]): Promise<SshAgent> {
    const agentBin = requireBinary('ssh-agent', 'openssh-client');
    const addBin = requireBinary('ssh-add', 'openssh-client');
    fs.rmSync(socket, { force: true });
    const logFile = `${socket}.log`;
    const started = spawnDetached(agentBin, ['-D', '-a', socket], { logFile });
    const agent = new SshAgent(started, socket);
    try {
      await waitFor(`ssh-agent socket ${socket}`, () => fs.existsSync(socket), {
        timeoutMs: 5_000,
        abortIf: () => (started.hasExited() ? `ssh-agent exited:\n${tail(logFile)}` : undefined),
      });
      for (const key of keys) {
        execFileSync(addBin, ['-q', key], { stdio: 'pipe', env: { ...process.env, SSH_AUTH_SOCK: socket } });
      }
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  async stop(): Promise<void> {
    await stopSpawned(this.process);
    fs.rmSync(this.socket, { force: true });
  }
}

/** An sshd endpoint plus an agent socket holding the client key. */
export interface SshFixture extends SshEndpoint {
  agentSocket: string;
  /** The private server, when this fixture started one. */
  server: SshServer | undefined;
  stop(): Promise<void>;
}

/**
 * The runner's sshd and agent (FLEET_TEST_SSHD_DIR, FLEET_TEST_SSHD_PORT, SSH_AUTH_SOCK) when
 * provided, else a private sshd and agent that stop() shuts down.
 */
export async function useSshd(): Promise<SshFixture> {
  const sharedDir = process.env.FLEET_TEST_SSHD_DIR;
  const sharedPort = Number(process.env.FLEET_TEST_SSHD_PORT);
  const sharedAgent = process.env.SSH_AUTH_SOCK;
  if (sharedDir && sharedPort && sharedAgent) {
    return { ...endpointIn(sharedDir, sharedPort, os.userInfo().username), agentSocket: sharedAgent, server: undefined, stop: async () => {} };
  }
  const server = await SshServer.start();
  let agent: SshAgent;
  try {
    agent = await SshAgent.start(path.join(server.dir, SshFiles.agentSocket), [server.endpoint.clientKey]);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    ...server.endpoint,
    agentSocket: agent.socket,
    server,
    stop: async () => {
      await agent.stop();
      await server.stop();
    },
  };
}
