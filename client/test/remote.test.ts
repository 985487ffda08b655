/**
 * fleetctl's SSH commands (journal, status, ssh) against REAL sshds: two fleet machines on
 * 127.0.0.11 and 127.0.0.12 and a bastion on 127.0.0.10 (test/support/fleetHosts.ts), with a
 * real ssh-agent. The `journalctl`, `systemctl` and `sudo` run on the machines are executables
 * that STAND IN FOR systemd: they record their argv and print a fixed transcript, so these tests
 * assert the exact command lines fleetctl would run, as sshd received them.
 * Without sshd: a loud skip on a developer machine, a failure under CI=true.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpFleetApi } from '../src/api/fleetApi';
import { RemoteTargetError, unitTarget } from '../src/cluster/remoteTargets';
import { goQuote, journalCommandLine, machineAddress, MachineSsh, remoteCommandLine, statusCommandLine, type RemoteOptions } from '../src/connection/remote';
import { SshConnectError } from '../src/connection/sshSession';
import { readKnownHosts } from '../src/connection/knownHosts';
import { waitFor } from '../../test/support/process';
import { skipUnlessAvailable } from '../../test/support/requirements';
import { sshdBinaries } from '../../test/support/sshd';
import { startFleetHosts, type FleetHosts } from '../../test/support/fleetHosts';
import { FakeFleetServer } from './fleetApiServer.test';

const skip = skipUnlessAvailable(...sshdBinaries());

async function rejectsWith(promise: Promise<unknown>, reason: SshConnectError['reason'], message: RegExp): Promise<SshConnectError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SshConnectError, `expected an SshConnectError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail('expected a rejection');
}

describe("fleetctl's remote command lines (fleet-etcd-v2 §5.4, captured from fleetctl v1.0.0)", () => {
  it('builds status and journal lines exactly as fleetctl does', () => {
    assert.equal(statusCommandLine('hello.service'), 'systemctl "status" "-l" "hello.service"');
    assert.equal(journalCommandLine('hello.service'), 'journalctl "--unit" "hello.service" "--no-pager" "-n" "10" "--output" "short"');
    assert.equal(
      journalCommandLine('hello.service', { lines: 50, follow: true, sudo: true, output: 'json' }),
      'sudo "journalctl" "--unit" "hello.service" "--no-pager" "-n" "50" "--output" "json" "-f"',
    );
    assert.equal(journalCommandLine('hello.service', { follow: true }), 'journalctl "--unit" "hello.service" "--no-pager" "-n" "10" "--output" "short" "-f"');
  });

  it('quotes arguments as Go %q (not shell quoting: $(…) stays live, as in fleetctl)', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('tab\tnl\ncr\r\x01\x7f'), '"tab\\tnl\\ncr\\r\\x01\\x7f"');
    assert.equal(goQuote('é€ $(id) `x`'), '"é€ $(id) `x`"');
    assert.equal(goQuote('\u0085'), '"\\u0085"');
    assert.equal(remoteCommandLine('echo', ['a b', '']), 'echo "a b" ""');
  });

  it('finds the SSH address from a PublicIP as findSSHPort/maybeAddDefaultPort do', () => {
    assert.deepEqual(machineAddress('10.0.0.2'), { host: '10.0.0.2', port: 22 });
    assert.deepEqual(machineAddress('10.0.0.2', 2222), { host: '10.0.0.2', port: 2222 });
    assert.deepEqual(machineAddress('10.0.0.2:2200', 2222), { host: '10.0.0.2', port: 2200 }, '--ssh-port is not added to an address with a port');
    assert.deepEqual(machineAddress('[fd00::2]:2200'), { host: 'fd00::2', port: 2200 });
    assert.deepEqual(machineAddress('fd00::2', 2222), { host: 'fd00::2', port: 2222 });
    assert.throws(() => machineAddress(' '), /Could not determine address of machine/);
    assert.throws(() => machineAddress('host:ssh'), /no valid port/);
  });
});

/** Alive and not a zombie (a container's PID 1 may never reap the orphans sshd leaves). */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('fleetctl journal/status/ssh over real sshds', { skip }, () => {
  let hosts: FleetHosts;
  let work: string;
  let knownHosts: string;
  let m1: FleetHosts['machines'][number];
  let m2: FleetHosts['machines'][number];

  const ssh = (overrides: Partial<RemoteOptions> = {}, via = false): MachineSsh =>
    new MachineSsh({
      username: hosts.user,
      agentSocket: hosts.agentSocket,
      knownHostsFile: knownHosts,
      strictHostKeyChecking: true,
      timeoutMs: 10_000,
      ...(via ? { tunnel: { host: hosts.bastion.address, port: hosts.port } } : {}),
      ...overrides,
    });
  const at = (h: { address: string }) => ({ host: h.address, port: hosts.port });

  before(async () => {
    hosts = await startFleetHosts(2);
    [m1, m2] = hosts.machines as [typeof m1, typeof m2];
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-remote-'));
    knownHosts = path.join(work, 'known_hosts');
    fs.writeFileSync(knownHosts, hosts.knownHosts(hosts.bastion, m1, m2));
  });
  after(async () => {
    await hosts?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs fleetctl status directly on the machine: the exact command line, its output and exit status', async () => {
    const result = await ssh().capture(at(m1), statusCommandLine('hello.service'));
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /● hello.service - Hello\n.*\n\s+Active: active \(running\) on machine1\n/);
    const session = m1.sessions().at(-1)!;
    assert.equal(session.command, 'systemctl "status" "-l" "hello.service"');
    assert.equal(session.agent, '', 'fleetctl status requests no agent forwarding');
    assert.equal(session.tty, 'none', 'no pty without a terminal');
    assert.match(m1.argv().at(-1)!, /^systemctl <status> <-l> <hello.service> pid=\d+$/);

    const failed = await ssh().capture(at(m1), statusCommandLine('broken-failed.service'));
    assert.equal(failed.exitCode, 3, 'systemctl status exits 3 for a failed unit, as fleetctl reports');
    assert.match(failed.stdout, /Active: failed/);
  });

  it('runs fleetctl journal through the bastion (SSH over direct-tcpip), with --sudo quoting as fleetctl', async () => {
    const before = m2.sessions().length;
    const line = journalCommandLine('web@1.service', { lines: 50, sudo: true, output: 'json' });
    const result = await ssh({}, true).capture(at(m2), line);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /Hello from machine2/);
    const session = m2.sessions().at(-1)!;
    assert.equal(m2.sessions().length, before + 1);
    assert.equal(session.command, 'sudo "journalctl" "--unit" "web@1.service" "--no-pager" "-n" "50" "--output" "json"');
    const argv = m2.argv().slice(-2);
    assert.match(argv[0]!, /^sudo <journalctl> <--unit> <web@1.service> <--no-pager> <-n> <50> <--output> <json> pid=\d+$/);
    assert.match(argv[1]!, /^journalctl <--unit> <web@1.service> <--no-pager> <-n> <50> <--output> <json> pid=\d+$/);
    // The bastion opened the channel to the machine's address, from originator 0.0.0.0:0, as fleetctl does.
    const bastionLog = fs.readFileSync(path.join(hosts.bastion.dir, 'sshd.log'), 'utf8');
    assert.match(bastionLog, new RegExp(`originator 0\\.0\\.0\\.0 port 0, target 127\\.0\\.0\\.12 port ${hosts.port}`));
  });

  it('forwards the agent through the bastion only when asked (fleetctl ssh --forward-agent)', async () => {
    const pub = fs.readFileSync(`${hosts.clientKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const forwarded = await ssh({}, true).capture(at(m1), 'ssh-add -L', { forwardAgent: true });
    assert.equal(forwarded.exitCode, 0, forwarded.stderr);
    assert.ok(forwarded.stdout.includes(pub), `the machine sees the local agent's key: ${forwarded.stdout}`);
    assert.notEqual(m1.sessions().at(-1)!.agent, '');

    const plain = await ssh({}, true).capture(at(m1), 'ssh-add -L');
    assert.notEqual(plain.exitCode, 0);
    assert.equal(m1.sessions().at(-1)!.agent, '');
  });

  it('refuses a machine whose host key changed, and runs nothing there (directly and through the bastion)', async () => {
    const wrong = path.join(work, 'known_hosts.wrong');
    // machine1's entry carries machine2's key.
    fs.writeFileSync(wrong, `${hosts.bastion.knownHostsLine}\n${m2.knownHostsLine.replace(/^\[127\.0\.0\.12\]/, '[127.0.0.11]')}\n`);
    const sessions = m1.sessions().length;
    const argv = m1.argv().length;
    await rejectsWith(
      ssh({ knownHostsFile: wrong }).run(at(m1), statusCommandLine('hello.service')),
      'host-key-changed',
      /REMOTE HOST IDENTIFICATION HAS CHANGED for \[127\.0\.0\.11\]:\d+.*Nothing was run/,
    );
    await rejectsWith(ssh({ knownHostsFile: wrong }, true).run(at(m1), statusCommandLine('hello.service')), 'host-key-changed', /\[127\.0\.0\.11\]/);
    assert.equal(m1.sessions().length, sessions);
    assert.equal(m1.argv().length, argv);
    // A changed bastion key stops before the machine is even dialled.
    fs.writeFileSync(wrong, `${m1.knownHostsLine.replace(/^\[127\.0\.0\.11\]/, '[127.0.0.10]')}\n${m1.knownHostsLine}\n`);
    await rejectsWith(ssh({ knownHostsFile: wrong }, true).run(at(m1), 'true'), 'host-key-changed', /\[127\.0\.0\.10\].*the tunnel host/);
    assert.equal(m1.sessions().length, sessions);
  });

  it('asks about unknown hosts (bastion and machine), records the addresses dialled, and does not ask again', async () => {
    const file = path.join(work, 'tofu', 'known_hosts');
    const asked: string[] = [];
    const confirmUnknownHost = async (host: string, fingerprint: string, keyType: string) => {
      asked.push(`${host} ${keyType} ${fingerprint.slice(0, 7)}`);
      return true;
    };
    const r = await ssh({ knownHostsFile: file, confirmUnknownHost }, true).capture(at(m2), statusCommandLine('hello.service'));
    assert.equal(r.exitCode, 0);
    assert.deepEqual(asked, [`[127.0.0.10]:${hosts.port} ssh-ed25519 SHA256:`, `[127.0.0.12]:${hosts.port} ssh-ed25519 SHA256:`]);
    const recorded = readKnownHosts(file).entries.map(
      e => `${e.hosts} ${e.key.equals(hosts.bastion.hostKeyBlob) ? 'bastion' : e.key.equals(m2.hostKeyBlob) ? 'machine2' : '?'}`,
    );
    assert.deepEqual(recorded, [`[127.0.0.10]:${hosts.port} bastion`, `[127.0.0.12]:${hosts.port} machine2`]);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    await ssh({ knownHostsFile: file, confirmUnknownHost }, true).capture(at(m2), 'true');
    assert.equal(asked.length, 2, 'known now: no second prompt');

    // Declined: nothing runs; without a prompt: refused with the fix.
    const sessions = m1.sessions().length;
    await rejectsWith(
      ssh({ knownHostsFile: path.join(work, 'none'), confirmUnknownHost: async () => false }).run(at(m1), 'true'),
      'host-key-rejected',
      /not trusted, so nothing was run/,
    );
    await rejectsWith(ssh({ knownHostsFile: path.join(work, 'none') }).run(at(m1), 'true'), 'host-key-unknown', /ssh-keyscan -p \d+ 127\.0\.0\.11/);
    assert.equal(m1.sessions().length, sessions);
  });

  it('follows a journal until cancelled, and the remote journalctl is gone afterwards', async () => {
    for (const via of [false, true]) {
      const abort = new AbortController();
      let output = '';
      const running = ssh({}, via).run(at(m1), journalCommandLine('hello.service', { follow: true }), {
        pty: { term: 'dumb', cols: 200, rows: 24 },
        signal: abort.signal,
        onStdout: chunk => {
          output += chunk.toString('utf8');
          if (/tick 3\b/.test(output)) abort.abort();
        },
      });
      const result = await running;
      assert.equal(result.stopped, true);
      assert.match(output, /Hello from machine1\r?\n[\s\S]*tick 1\r?\n/);
      const session = m1.sessions().at(-1)!;
      assert.equal(session.command, 'journalctl "--unit" "hello.service" "--no-pager" "-n" "10" "--output" "short" "-f"');
      assert.match(session.tty, /^\/dev\/pts\//);
      assert.equal(session.term, 'dumb');
      const pid = Number(fs.readFileSync(path.join(m1.dir, 'journalctl.pid'), 'utf8'));
      await waitFor(`no journalctl left on machine1 (via bastion: ${via})`, () => m1.runningJournalctl().length === 0, { timeoutMs: 5_000 });
      assert.ok(!isRunning(pid), `journalctl ${pid} is still running`);
    }
  });

  it('says clearly, within the SSH timeout, that a machine is down (silent, refused; directly and through the bastion)', async () => {
    const accepted = new Set<net.Socket>();
    // Accepts and never speaks, like a machine that hangs.
    const silent = net.createServer(socket => {
      accepted.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>(resolve => silent.listen(hosts.port, '127.0.0.13', resolve));
    try {
      for (const via of [false, true]) {
        const started = Date.now();
        await rejectsWith(
          ssh({ timeoutMs: 1_500 }, via).run({ host: '127.0.0.13', port: hosts.port }, 'true', {}, 'machine 0d0d0d0d'),
          'timeout',
          /Timed out while initiating the SSH connection to machine 0d0d0d0d .*after 1\.5 s/,
        );
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 1_400 && elapsed < 4_000, `gave up after ${elapsed} ms`);
      }
      await rejectsWith(
        ssh({ timeoutMs: 1_500 }).run({ host: '127.0.0.14', port: hosts.port }, 'true'),
        'refused',
        /connection refused. Is sshd running there/,
      );
      await rejectsWith(
        ssh({ timeoutMs: 1_500 }, true).run({ host: '127.0.0.14', port: hosts.port }, 'true'),
        'refused',
        /tunnel host .* could not reach machine 127\.0\.0\.14:\d+ at 127\.0\.0\.14:\d+: Connection refused/,
      );
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>(resolve => silent.close(() => resolve()));
    }
  });

  it('opens an interactive shell with a pty that follows resizes (fleetctl ssh without a command)', async () => {
    const shell = await ssh({}, true).shell(at(m2), { cols: 80, rows: 24 });
    let output = '';
    shell.channel.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const waitOutput = (re: RegExp) => waitFor(`shell output ${re}`, () => re.test(output), { timeoutMs: 5_000 });
    shell.channel.write('echo answer=$((6*7))\n');
    await waitOutput(/answer=42/);
    shell.resize(100, 30);
    shell.channel.write('stty size\n');
    await waitOutput(/30 100/);
    shell.channel.write('exit 0\n');
    assert.equal(await shell.exited, 0);
    const session = m2.sessions().at(-1)!;
    assert.equal(session.command, '', 'a shell request, not exec');
    assert.equal(session.term, 'xterm-256color');
  });

  it("finds the machine of a unit from the registry by its PublicIP, with fleetctl's refusals", async () => {
    const server = new FakeFleetServer({
      machines: [
        { id: '11aa'.padEnd(32, '1'), primaryIP: '127.0.0.11' },
        { id: '12bb'.padEnd(32, '2'), primaryIP: '127.0.0.12' },
        { id: '13cc'.padEnd(32, '3') },
      ],
      units: [
        { name: 'hello.service', desiredState: 'launched', currentState: 'launched', machineID: '12bb'.padEnd(32, '2'), options: [] },
        { name: 'idle.service', desiredState: 'inactive', currentState: 'inactive', options: [] },
        { name: 'every.service', desiredState: 'launched', currentState: 'launched', options: [{ section: 'X-Fleet', name: 'Global', value: 'true' }] },
        { name: 'gone.service', desiredState: 'launched', currentState: 'launched', machineID: 'ffff'.padEnd(32, 'f'), options: [] },
        { name: 'noip.service', desiredState: 'launched', currentState: 'launched', machineID: '13cc'.padEnd(32, '3'), options: [] },
      ],
    });
    const api = new HttpFleetApi({ endpoint: await server.listen({ port: 0 }) });
    try {
      const target = await unitTarget(api, 'hello', 'journal', { sshPort: hosts.port });
      assert.deepEqual(target.address, { host: '127.0.0.12', port: hosts.port });
      const out = await ssh().capture(target.address, journalCommandLine(target.unit!));
      assert.match(out.stdout, /Hello from machine2/, 'the unit ran on machine2, and that is where the journal came from');

      await assert.rejects(
        unitTarget(api, 'nope', 'status'),
        (e: Error) => e instanceof RemoteTargetError && /Unit nope.service does not exist/.test(e.message),
      );
      await assert.rejects(unitTarget(api, 'idle.service', 'journal'), /Unit idle.service does not appear to be running/);
      await assert.rejects(unitTarget(api, 'idle.service', 'status'), /Unit idle.service does not appear to be loaded/);
      await assert.rejects(unitTarget(api, 'every.service', 'journal'), /Unable to retrieve journal of global unit every.service/);
      await assert.rejects(unitTarget(api, 'gone.service', 'status'), /Error getting machine IP: machine ffffffff/);
      await assert.rejects(unitTarget(api, 'noip.service', 'status'), /Could not determine address of machine 13cc3333: it advertises no PublicIP/);
      const pinned = await unitTarget(api, 'every.service', 'journal', { machineId: '11aa'.padEnd(32, '1') });
      assert.deepEqual(
        pinned.address,
        { host: '127.0.0.11', port: 22 },
        'a global unit picked under a machine goes to that machine; --ssh-port defaults to 22',
      );
    } finally {
      api.dispose();
      await server.close();
    }
  });
});
