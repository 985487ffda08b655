/**
 * Test hosts for fleetctl's SSH commands: real sshds on distinct loopback addresses, one per
 * fleet machine (127.0.0.11, .12, … by default) plus a bastion (127.0.0.10), all on one port (fleetctl's
 * --ssh-port is one number for every machine), and one ssh-agent holding the key all of them
 * authorize.
 *
 * systemd is not here, so each machine has executables named `journalctl`, `systemctl` and
 * `sudo` first on its PATH that STAND IN FOR systemd (and sudo): they record their argv in
 * `argv.log` and print a fixed transcript; `journalctl … -f` keeps printing a tick every 0.2 s
 * (bounded to 2 minutes) and writes its PID to `journalctl.pid`. A ForceCommand wrapper records
 * every session as sshd received it in `sessions.log` (the command line, SSH_AUTH_SOCK, the tty,
 * TERM, SSH_CONNECTION) and then runs it as sshd would (`sh -c "$SSH_ORIGINAL_COMMAND"`, or a
 * login shell for a `shell` request).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';
import { processesWhere } from './process';
import { SshAgent, SshServer } from './sshd';

export interface FleetHost {
  name: string;
  address: string;
  port: number;
  server: SshServer;
  dir: string;
  /** `[ip]:port key-type base64` */
  knownHostsLine: string;
  hostKeyBlob: Buffer;
  /** What the fake journalctl/systemctl/sudo recorded: one line per call, `prog <arg> <arg> … pid=N`. */
  argv(): string[];
  /** One record per SSH session. */
  sessions(): Array<{ command: string; agent: string; tty: string; term: string; connection: string }>;
  /** PIDs of this host's fake journalctl processes still running. */
  runningJournalctl(): number[];
}

export interface FleetHosts {
  bastion: FleetHost;
  machines: FleetHost[];
  agentSocket: string;
  clientKey: string;
  user: string;
  port: number;
  dir: string;
  /** A known_hosts text with the given hosts. */
  knownHosts(...hosts: FleetHost[]): string;
  stop(): Promise<void>;
}

const TRANSCRIPT = [
  '-- Logs begin at Mon 2026-12-07 04:00:00 UTC. --',
  'Dec 07 04:00:01 HOST systemd[1]: Started Hello.',
  'Dec 07 04:00:02 HOST hello[42]: Hello from HOST',
];

function write(file: string, text: string, mode = 0o755): void {
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
}

function record(dir: string, prog: string): string {
  return `{ printf '%s' '${prog}'; for a in "$@"; do printf ' <%s>' "$a"; done; printf ' pid=%s\\n' "$$"; } >> '${dir}/argv.log'`;
}

function installFakes(dir: string, name: string): void {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const lines = TRANSCRIPT.map(l => `echo '${l.replace(/HOST/g, name)}'`).join('\n');
  write(
    path.join(bin, 'journalctl'),
    `#!/bin/sh
# Stands in for systemd's journalctl on a fleet machine (no systemd in tests).
${record(dir, 'journalctl')}
${lines}
follow=
for a in "$@"; do [ "$a" = -f ] && follow=1; done
if [ -n "$follow" ]; then
  echo $$ > '${dir}/journalctl.pid'
  i=0
  while [ $i -lt 600 ]; do i=$((i+1)); echo "Dec 07 04:00:03 ${name} hello[42]: tick $i"; sleep 0.2; done
fi
exit 0
`,
  );
  write(
    path.join(bin, 'systemctl'),
    `#!/bin/sh
# Stands in for systemd's systemctl on a fleet machine (no systemd in tests).
${record(dir, 'systemctl')}
unit=$3
case "$unit" in
  *failed*) echo "× $unit - Hello"; echo "     Loaded: loaded (/run/fleet/units/$unit; linked-runtime)"; echo "     Active: failed (Result: exit-code) on ${name}"; exit 3 ;;
esac
echo "● $unit - Hello"
echo "     Loaded: loaded (/run/fleet/units/$unit; linked-runtime)"
echo "     Active: active (running) on ${name}"
echo "   Main PID: 42 (hello)"
exit 0
`,
  );
  write(
    path.join(bin, 'sudo'),
    `#!/bin/sh
# Stands in for sudo on a fleet machine: records its argv, then runs the command.
${record(dir, 'sudo')}
exec "$@"
`,
  );
  write(
    path.join(dir, 'session.sh'),
    `#!/bin/sh
# sshd ForceCommand: records the session as sshd received it, then runs it as sshd would.
{
  echo '--session--'
  printf 'command=%s\\n' "$SSH_ORIGINAL_COMMAND"
  printf 'agent=%s\\n' "\${SSH_AUTH_SOCK:-}"
  if tty -s; then printf 'tty=%s\\n' "$(tty)"; else echo 'tty=none'; fi
  printf 'term=%s\\n' "\${TERM:-}"
  printf 'connection=%s\\n' "$SSH_CONNECTION"
} >> '${dir}/sessions.log'
PATH='${bin}':$PATH
export PATH
if [ -z "$SSH_ORIGINAL_COMMAND" ]; then
  PS1='${name}$ '
  export PS1
  exec /bin/sh -i
fi
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
`,
  );
}

function readLines(file: string): string[] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(l => l !== '');
  } catch {
    return [];
  }
}

function hostView(name: string, address: string, port: number, server: SshServer): FleetHost {
  const dir = server.dir;
  return {
    name,
    address,
    port,
    server,
    dir,
    knownHostsLine: server.endpoint.knownHostsLine,
    hostKeyBlob: server.endpoint.hostKeyBlob,
    argv: () => readLines(path.join(dir, 'argv.log')),
    sessions: () => {
      const out: ReturnType<FleetHost['sessions']> = [];
      for (const line of readLines(path.join(dir, 'sessions.log'))) {
        if (line === '--session--') out.push({ command: '', agent: '', tty: '', term: '', connection: '' });
        else {
          const eq = line.indexOf('=');
          const key = line.slice(0, eq) as keyof (typeof out)[number];
          if (out.length > 0 && key in out[out.length - 1]!) out[out.length - 1]![key] = line.slice(eq + 1);
        }
      }
      return out;
    },
    runningJournalctl: () => {
      const script = path.join(dir, 'bin', 'journalctl');
      return processesWhere(argv => argv.includes(script)).map(p => p.pid);
    },
  };
}

/**
 * Starts the bastion and `machineCount` machines (127.0.0.11 …, or from 127.0.0.`firstMachine`:
 * 2 matches the PublicIPs `fleetd local` gives its machines) and the agent.
 */
export async function startFleetHosts(machineCount = 2, options: { firstMachine?: number } = {}): Promise<FleetHosts> {
  const first = options.firstMachine ?? 11;
  if (!Number.isInteger(first) || first < 2 || first + machineCount > 255 || (first <= 10 && first + machineCount > 10)) {
    throw new Error(`startFleetHosts: machines from 127.0.0.${first} would leave 127.0.0.2-254 or overlap the bastion (127.0.0.10)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-hosts-'));
  const clientKey = path.join(dir, 'id_ed25519');
  const port = await freePort();
  const started: SshServer[] = [];
  let agent: SshAgent | undefined;
  try {
    const start = async (name: string, address: string): Promise<FleetHost> => {
      const hostDir = path.join(dir, name);
      fs.mkdirSync(hostDir, { recursive: true, mode: 0o700 });
      installFakes(hostDir, name);
      const server = await SshServer.start({
        dir: hostDir,
        port,
        host: address,
        clientKey,
        extraConfig: [`ForceCommand ${path.join(hostDir, 'session.sh')}`],
        // DEBUG1 shows the bastion's direct-tcpip targets; on a machine, sshd -e would write debug lines into session ptys.
        logLevel: name === 'bastion' ? 'DEBUG1' : 'VERBOSE',
      });
      started.push(server);
      return hostView(name, address, port, server);
    };
    const bastion = await start('bastion', '127.0.0.10');
    const machines: FleetHost[] = [];
    for (let i = 0; i < machineCount; i++) machines.push(await start(`machine${i + 1}`, `127.0.0.${first + i}`));
    agent = await SshAgent.start(path.join(dir, 'agent.sock'), [clientKey]);
    const theAgent = agent;
    return {
      bastion,
      machines,
      agentSocket: agent.socket,
      clientKey,
      user: os.userInfo().username,
      port,
      dir,
      knownHosts: (...hosts) => hosts.map(h => `${h.knownHostsLine}\n`).join(''),
      stop: async () => {
        await theAgent.stop();
        for (const s of started) await s.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await agent?.stop();
    for (const s of started) await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
