/**
 * SshTunnel against a REAL OpenSSH server on 127.0.0.1 with a real ssh-agent (test/support/sshd):
 * direct-tcpip, streamlocal, the fd-forward fallback, host-key checking (match, changed,
 * unknown with and without a prompt), authentication and reachability errors, reconnects.
 * Without sshd: a loud skip on a developer machine, a failure under CI=true.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpFleetApi } from '../src/api/fleetApi';
import { FleetApiError } from '../src/api/types';
import { createFleetApi } from '../src/connection/connect';
import { fingerprintSha256, lookupHostKey, readKnownHosts } from '../src/connection/knownHosts';
import { resolveProfiles } from '../src/connection/profile';
import { SshTunnel, type TunnelOptions } from '../src/connection/tunnel';
import { freePort } from '../../test/support/ports';
import { spawnDetached, stopSpawned, waitFor, type Spawned } from '../../test/support/process';
import { skipUnlessAvailable } from '../../test/support/requirements';
import { sshdAvailable, useSshd, type SshFixture } from '../../test/support/sshd';
import { FakeFleetServer } from './fleetApiServer.test';
import { classifyConnectionError } from '../src/cluster/connectionProblem';

const skip = skipUnlessAvailable(...sshdAvailable());

async function rejectsWith(promise: Promise<unknown>, message: RegExp, kind: FleetApiError['kind'] = 'ssh'): Promise<FleetApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FleetApiError, `expected a FleetApiError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.kind, kind);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('SshTunnel against a real sshd', { skip }, () => {
  let ssh: SshFixture;
  let work: string;
  let tcpServer: FakeFleetServer;
  let unixServer: FakeFleetServer;
  let tcpEndpoint: string;
  let unixEndpoint: string;
  const disposables: Array<{ dispose(): void }> = [];

  const tunnel = (overrides: Partial<TunnelOptions> = {}): SshTunnel => {
    const t = new SshTunnel({
      host: ssh.host,
      port: ssh.port,
      username: ssh.user,
      agentSocket: ssh.agentSocket,
      knownHostsFile: ssh.knownHosts,
      strictHostKeyChecking: true,
      timeoutMs: 10_000,
      ...overrides,
    });
    disposables.push(t);
    return t;
  };
  const apiVia = (t: SshTunnel, endpoint: string): HttpFleetApi => {
    const api = new HttpFleetApi({ endpoint, dial: (target, signal) => t.dial(target, signal), requestTimeoutMs: 10_000 });
    disposables.push(api);
    return api;
  };
  const knownHostsWith = (name: string, content: string): string => {
    const file = path.join(work, name);
    fs.writeFileSync(file, content);
    return file;
  };

  before(async () => {
    ssh = await useSshd();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-tunnel-'));
    tcpServer = new FakeFleetServer({ units: [{ name: 'tcp.service', desiredState: 'launched' }], machines: [{ id: 'm1' }] });
    tcpEndpoint = await tcpServer.listen({ port: 0 });
    unixServer = new FakeFleetServer({ units: [{ name: 'sock@1.service', desiredState: 'loaded' }] });
    unixEndpoint = await unixServer.listen({ path: path.join(work, 'fleet.sock') });
  });
  after(async () => {
    for (const d of disposables) d.dispose();
    await tcpServer?.close();
    await unixServer?.close();
    await ssh?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('reaches a TCP endpoint through direct-tcpip', async () => {
    const t = tunnel();
    const api = apiVia(t, tcpEndpoint);
    assert.deepEqual(
      (await api.listUnits()).map(u => u.name),
      ['tcp.service'],
    );
    assert.deepEqual(await api.listMachines(), [{ id: 'm1' }]);
    assert.equal(t.label, `${ssh.user}@127.0.0.1:${ssh.port}`);
  });

  it('reaches a unix-socket endpoint through streamlocal (with %40 names)', async () => {
    const api = apiVia(tunnel(), unixEndpoint);
    assert.equal((await api.getUnit('sock@1.service'))?.desiredState, 'loaded');
    assert.equal(unixServer.requests.at(-1)!.url, '/fleet/v1/units/sock%401.service?alt=json');
    assert.equal(unixServer.requests.at(-1)!.headers.host, 'domain-sock');
  });

  it('shares one SSH connection between requests, and re-dials after a drop', async () => {
    const t = tunnel();
    const api = apiVia(t, tcpEndpoint);
    await Promise.all([api.listUnits(), api.listMachines(), api.listUnitStates()]);
    const first = await t.connect();
    assert.equal(await t.connect(), first);
    // The connection dies under us (as when a laptop sleeps or the bastion restarts).
    const closed = new Promise(resolve => first.once('close', () => resolve(undefined)));
    first.destroy();
    await closed;
    assert.deepEqual(
      (await api.listUnits()).map(u => u.name),
      ['tcp.service'],
    );
    assert.notEqual(await t.connect(), first);
  });

  it('dials once for concurrent requests, and again after the network drops', async () => {
    // A TCP relay in front of sshd: counts SSH connections and can cut them like a network failure.
    const sockets = new Set<net.Socket>();
    let accepted = 0;
    const relay = net.createServer(inbound => {
      accepted++;
      const outbound = net.connect({ host: '127.0.0.1', port: ssh.port });
      sockets.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      const cut = () => (inbound.destroy(), outbound.destroy());
      inbound.on('error', cut).on('close', cut);
      outbound.on('error', cut).on('close', cut);
    });
    await new Promise<void>(r => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as net.AddressInfo).port;
    try {
      const file = knownHostsWith('relay_known_hosts', `[127.0.0.1]:${relayPort} ${ssh.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
      const t = tunnel({ port: relayPort, knownHostsFile: file });
      const api = apiVia(t, tcpEndpoint);
      const results = await Promise.all(Array.from({ length: 5 }, () => api.listUnits()));
      assert.ok(results.every(r => r.length === 1));
      assert.equal(accepted, 1, 'one SSH connection for all five requests');
      for (const s of sockets) s.destroy();
      sockets.clear();
      assert.deepEqual(
        (await api.listUnits()).map(u => u.name),
        ['tcp.service'],
      );
      assert.equal(accepted, 2, 're-dialled after the drop');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>(r => relay.close(() => r()));
    }
  });

  it('refuses a changed host key without sending anything', async () => {
    const other = path.join(work, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other], { stdio: 'pipe' });
    const [type, b64] = fs.readFileSync(`${other}.pub`, 'utf8').split(' ');
    const file = knownHostsWith('changed_known_hosts', `# old key\n[127.0.0.1]:${ssh.port} ${type} ${b64}\n`);
    const before = tcpServer.requests.length;
    let asked = false;
    const api = apiVia(tunnel({ knownHostsFile: file, confirmUnknownHost: async () => (asked = true) }), tcpEndpoint);
    const err = await rejectsWith(
      api.listUnits(),
      /^REMOTE HOST IDENTIFICATION HAS CHANGED for \[127\.0\.0\.1\]:\d+ \(the SSH tunnel host \S+\): it sent ssh-ed25519 key SHA256:\S+, which differs from the key in .*changed_known_hosts \(line 2\)\..* remove line 2 from .*changed_known_hosts and connect again\.$/,
    );
    assert.ok(err.message.includes(fingerprintSha256(ssh.hostKeyBlob)));
    assert.equal(asked, false, 'a changed key is never offered for trust');
    assert.equal(classifyConnectionError(err), 'host-key-changed');
    assert.equal(tcpServer.requests.length, before);
    assert.equal(fs.readFileSync(file, 'utf8'), `# old key\n[127.0.0.1]:${ssh.port} ${type} ${b64}\n`, 'known_hosts untouched');
  });

  it('a key recorded only for the address is not accepted for the host name (OpenSSH): the prompt says where it is recorded', async () => {
    // The file holds [127.0.0.1]:PORT only; dialling "localhost" asks, then records the name.
    const file = knownHostsWith('by_address_known_hosts', fs.readFileSync(ssh.knownHosts, 'utf8'));
    const asked: [string, readonly string[]][] = [];
    const api = apiVia(
      tunnel({ host: 'localhost', knownHostsFile: file, confirmUnknownHost: async (host, _f, _t, notes) => (asked.push([host, notes ?? []]), true) }),
      tcpEndpoint,
    );
    assert.equal((await api.listUnits()).length, 1);
    assert.equal(asked.length, 1);
    assert.equal(asked[0]![0], `[localhost]:${ssh.port}`);
    assert.match(
      asked[0]![1].join('\n'),
      new RegExp(`the same key is recorded for \\[127\\.0\\.0\\.1\\]:${ssh.port} only \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 1\\)`),
    );
    assert.equal(lookupHostKey(readKnownHosts(file), 'localhost', ssh.port, ssh.hostKeyBlob).result, 'match', 'the host name is recorded now');
  });

  it('a corrupted known_hosts line is reported by its line number in the trust prompt', async () => {
    const file = knownHostsWith('corrupted_known_hosts', '# mine\nsomehost ssh-ed25519 not*base64\n');
    const asked: (readonly string[])[] = [];
    const api = apiVia(tunnel({ knownHostsFile: file, confirmUnknownHost: async (_h, _f, _t, notes) => (asked.push(notes ?? []), false) }), tcpEndpoint);
    await rejectsWith(api.listUnits(), /^Host key verification failed/);
    assert.equal(asked.length, 1);
    assert.deepEqual(asked[0], [`${file} line 2 is ignored: key is not base64 for host somehost`]);
  });

  it('an unknown host name is asked about (and recorded) under the name the user wrote', async () => {
    const file = path.join(work, 'byname', 'known_hosts');
    const asked: string[] = [];
    const api = apiVia(tunnel({ host: 'localhost', knownHostsFile: file, confirmUnknownHost: async host => (asked.push(host), true) }), tcpEndpoint);
    assert.equal((await api.listUnits()).length, 1);
    assert.deepEqual(asked, [`[localhost]:${ssh.port}`]);
    assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`^\\[localhost\\]:${ssh.port} ssh-ed25519 `));
  });

  it('reports a host name that does not resolve', async () => {
    await rejectsWith(
      apiVia(tunnel({ host: 'no-such-host.invalid', timeoutMs: 5000 }), tcpEndpoint).listUnits(),
      /^(Cannot resolve no-such-host\.invalid for the SSH tunnel host \S+: .*\. Check the tunnel setting \(or its ~\/\.ssh\/config alias\)\.|Timed out while initiating the SSH connection to the SSH tunnel host \S*no-such-host\.invalid:\d+ )/,
    );
  });

  it('with strictHostKeyChecking=false connects whatever the key', async () => {
    const file = knownHostsWith(
      'ignored_known_hosts',
      `[127.0.0.1]:${ssh.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtVcXk2jQXhDcK2Y1HnS5FZ4ZkYVn5X0o0v8xY7pQ1e\n`,
    );
    const api = apiVia(tunnel({ knownHostsFile: file, strictHostKeyChecking: false }), tcpEndpoint);
    assert.equal((await api.listUnits()).length, 1);
  });

  it('an unknown host with no one to ask is refused, with the command that fixes it', async () => {
    const file = path.join(work, 'none', 'known_hosts');
    const api = apiVia(tunnel({ knownHostsFile: file }), tcpEndpoint);
    const err = await rejectsWith(
      api.listUnits(),
      new RegExp(
        `^Unknown host \\[127\\.0\\.0\\.1\\]:${ssh.port} \\(ssh-ed25519 SHA256:\\S+\\) for the SSH tunnel host \\S+ and no one to ask; add it with: ssh-keyscan -p ${ssh.port} 127\\.0\\.0\\.1 >> .*none/known_hosts`,
      ),
    );
    assert.equal(fs.existsSync(file), false);
    assert.equal(classifyConnectionError(err), 'host-key-unknown');
  });

  it('an unknown host declined at the prompt is refused', async () => {
    const file = path.join(work, 'declined', 'known_hosts');
    const api = apiVia(tunnel({ knownHostsFile: file, confirmUnknownHost: async () => false }), tcpEndpoint);
    const err = await rejectsWith(
      api.listUnits(),
      /^Host key verification failed: the key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:\S+\) was not trusted, so nothing was run on the SSH tunnel host \S+\.$/,
    );
    assert.equal(fs.existsSync(file), false);
    assert.equal(classifyConnectionError(err), 'host-key-unknown');
  });

  it('an unknown host accepted at the prompt connects and is remembered (dir 0700, file 0600)', async () => {
    const file = path.join(work, 'fresh', '.fleetctl', 'known_hosts');
    const asked: string[][] = [];
    const logs: string[] = [];
    const api = apiVia(
      tunnel({
        knownHostsFile: file,
        log: (level, m) => logs.push(`${level}: ${m}`),
        confirmUnknownHost: async (host, fingerprint, keyType) => {
          asked.push([host, fingerprint, keyType]);
          await new Promise(r => setTimeout(r, 50)); // a human takes a moment
          return true;
        },
      }),
      tcpEndpoint,
    );
    assert.equal((await api.listUnits()).length, 1);
    assert.deepEqual(asked, [[`[127.0.0.1]:${ssh.port}`, fingerprintSha256(ssh.hostKeyBlob), 'ssh-ed25519']]);
    assert.equal(fs.readFileSync(file, 'utf8'), `${ssh.knownHostsLine}\n`);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok(
      // OpenSSH says "Warning: Permanently added …": a warning, not progress (issue 13, item 10).
      logs.some(l => l.startsWith(`warn: Permanently added '[127.0.0.1]:${ssh.port}' (ssh-ed25519)`)),
      logs.join('\n'),
    );
    // Next time the key is known: no prompt.
    const again = apiVia(tunnel({ knownHostsFile: file, confirmUnknownHost: async () => assert.fail('must not ask again') }), tcpEndpoint);
    assert.equal((await again.listUnits()).length, 1);
    assert.equal(readKnownHosts(file).entries.length, 1);
  });

  it('a prompt slower than the SSH timeout still connects (the timer pauses while asking)', async () => {
    const file = path.join(work, 'slow', 'known_hosts');
    const api = apiVia(
      tunnel({ knownHostsFile: file, timeoutMs: 300, confirmUnknownHost: () => new Promise(r => setTimeout(() => r(true), 600)) }),
      tcpEndpoint,
    );
    assert.equal((await api.listUnits()).length, 1);
  });

  it('authenticates with an identity file and no agent', async () => {
    const api = apiVia(tunnel({ agentSocket: '', identityFile: ssh.clientKey }), tcpEndpoint);
    assert.equal((await api.listUnits()).length, 1);
  });

  it('reports an authentication failure clearly', async () => {
    const stranger = path.join(work, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger], { stdio: 'pipe' });
    const api = apiVia(tunnel({ agentSocket: '', identityFile: stranger }), tcpEndpoint);
    const err = await rejectsWith(
      api.listUnits(),
      new RegExp(
        `^SSH authentication as ${ssh.user} to the SSH tunnel host ${ssh.user}@127\\.0\\.0\\.1:${ssh.port} failed \\(tried the identity file .*stranger_key\\)\\. Check sshUser, that your public key is in ~${ssh.user}/\\.ssh/authorized_keys there, and that the key is loaded \\(ssh-add -l\\)\\.$`,
      ),
    );
    assert.equal(classifyConnectionError(err), 'auth');
  });

  it('reports missing credentials and a bad identity file before dialing', async () => {
    const none = await rejectsWith(
      apiVia(tunnel({ agentSocket: '', env: {} }), tcpEndpoint).listUnits(),
      /^No SSH credentials for .*: SSH_AUTH_SOCK is not set \(is ssh-agent running\?\) and the profile has no identityFile/,
    );
    const dangling = await rejectsWith(
      apiVia(tunnel({ agentSocket: path.join(work, 'no-agent.sock') }), tcpEndpoint).listUnits(),
      /^SSH_AUTH_SOCK points to .*no-agent\.sock, which does not exist\. Start ssh-agent/,
    );
    assert.deepEqual([none, dangling].map(classifyConnectionError), ['no-agent', 'no-agent']);
    await rejectsWith(
      apiVia(tunnel({ agentSocket: '', identityFile: path.join(work, 'absent_key') }), tcpEndpoint).listUnits(),
      /^Cannot read the identity file .*absent_key .*Fix identityFile/,
      'config',
    );
    const notAKey = knownHostsWith('not_a_key', 'hello\n');
    await rejectsWith(
      apiVia(tunnel({ agentSocket: '', identityFile: notAKey }), tcpEndpoint).listUnits(),
      /^The identity file .*not_a_key is not a private key/,
      'config',
    );
  });

  it('reports an unreachable SSH host', async () => {
    const port = await freePort();
    const err = await rejectsWith(
      apiVia(tunnel({ port }), tcpEndpoint).listUnits(),
      new RegExp(
        `^Cannot reach the SSH tunnel host ${ssh.user}@127\\.0\\.0\\.1:${port}: connection refused\\. Is sshd running there, and is the SSH port right\\?$`,
      ),
    );
    assert.equal(classifyConnectionError(err), 'refused');
  });

  it('times out on a host that never speaks SSH', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const err = await rejectsWith(
        apiVia(tunnel({ port, timeoutMs: 300 }), tcpEndpoint).listUnits(),
        /^Timed out while initiating the SSH connection to .* \(after 0\.3 s\)/,
      );
      assert.equal(classifyConnectionError(err), 'timeout');
      assert.ok(Date.now() - started < 3000);
    } finally {
      silent.close();
    }
  });

  it('reports an endpoint the tunnel host cannot reach', async () => {
    const port = await freePort();
    const refused = await rejectsWith(
      apiVia(tunnel(), `http://127.0.0.1:${port}`).listUnits(),
      new RegExp(
        `^The tunnel .* could not reach fleet at 127\\.0\\.0\\.1:${port}: Connection refused\\. Is fleetd listening on 127\\.0\\.0\\.1:${port} as seen from the tunnel host\\?`,
      ),
    );
    const socket = path.join(work, 'missing.sock');
    const err = await rejectsWith(
      apiVia(tunnel(), `unix://${socket}`).listUnits(),
      /^127\.0\.0\.1 would not open .*missing\.sock over SSH \(open failed: the socket is missing or AllowStreamLocalForwarding is off\), and `fleetctl fd-forward '.*missing\.sock'` on .* exited with 127/,
    );
    assert.match(err.message, /Install fleetctl \(with fd-forward\) on 127\.0\.0\.1/);
    assert.deepEqual([refused, err].map(classifyConnectionError), ['refused', 'unreachable']);
  });

  it('dispose closes the connection and refuses further use', async () => {
    const t = tunnel();
    const api = apiVia(t, tcpEndpoint);
    await api.listUnits();
    const client = await t.connect();
    const closed = new Promise(resolve => client.once('close', () => resolve(undefined)));
    t.dispose();
    await closed;
    await rejectsWith(api.listUnits(), /^the SSH tunnel .* was closed$/);
  });

  it('dispose gives up a handshake under way at once, and closes its socket', async () => {
    const accepted: net.Socket[] = [];
    let closed = 0;
    // Reads what comes and never answers, like a host that hangs.
    const silent = net.createServer(socket =>
      accepted.push(
        socket
          .on('error', () => undefined)
          .on('close', () => closed++)
          .resume(),
      ),
    );
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const t = tunnel({ port, timeoutMs: 10_000 });
      const dialing = apiVia(t, tcpEndpoint).listUnits();
      await waitFor('the tunnel dialled', () => accepted.length === 1, { timeoutMs: 5_000 });
      const started = Date.now();
      t.dispose();
      await rejectsWith(dialing, /^the SSH tunnel .* was closed$/);
      assert.ok(Date.now() - started < 2_000, 'not after the SSH timeout');
      await waitFor('the socket closed', () => closed === 1, { timeoutMs: 5_000 });
    } finally {
      for (const socket of accepted) socket.destroy();
      silent.close();
    }
  });

  it('createFleetApi: a profile with an ~/.ssh/config alias reaches fleet end to end', async () => {
    const sshConfig = fs.readFileSync(ssh.sshConfig, 'utf8');
    const { profiles, problems } = resolveProfiles(
      [{ name: 'test', endpoint: unixEndpoint, tunnel: 'fleet-test', knownHostsFile: ssh.knownHosts }],
      {},
      { home: work, sshConfig },
    );
    assert.deepEqual(problems, []);
    const profile = profiles[0]!;
    assert.deepEqual(profile.tunnelTarget, { host: '127.0.0.1', port: ssh.port, user: ssh.user, alias: 'fleet-test', identityFile: ssh.clientKey });
    const api = createFleetApi(profile, { env: {} });
    disposables.push(api);
    assert.equal(api.label, `${ssh.user}@fleet-test:${ssh.port} → ${unixEndpoint}`);
    assert.equal((await api.getUnit('sock@1.service'))?.name, 'sock@1.service');
    assert.throws(() => createFleetApi({ ...profile, caFile: path.join(work, 'absent-ca.pem') }), /profile "test": cannot read caFile .*absent-ca\.pem/);
  });

  describe('when the server refuses unix-socket forwarding', () => {
    let strict: Spawned;
    let strictPort: number;
    let forwarder: string;
    before(async () => {
      strictPort = await freePort();
      const config = fs
        .readFileSync(path.join(ssh.dir, 'sshd_config'), 'utf8')
        .replace(/^Port .*$/m, `Port ${strictPort}`)
        .replace(/^PidFile .*$/m, `PidFile ${path.join(work, 'strict-sshd.pid')}`)
        .replace(/^AllowStreamLocalForwarding .*$/m, 'AllowStreamLocalForwarding no');
      const configFile = path.join(work, 'strict_sshd_config');
      fs.writeFileSync(configFile, config);
      strict = spawnDetached('/usr/sbin/sshd', ['-D', '-e', '-f', configFile], { logFile: path.join(work, 'strict-sshd.log') });
      await waitFor(
        `strict sshd on ${strictPort}`,
        () =>
          new Promise<boolean>(resolve => {
            const s = net.connect({ host: '127.0.0.1', port: strictPort });
            s.once('data', () => (s.destroy(), resolve(true)));
            s.once('error', () => resolve(false));
          }),
        { timeoutMs: 10_000, abortIf: () => (strict.hasExited() ? 'sshd exited' : undefined) },
      );
      // A stand-in for `fleetctl fd-forward SOCKET`: copies stdin/stdout to and from the socket.
      forwarder = path.join(work, 'fd-forward.cjs');
      fs.writeFileSync(
        forwarder,
        "const s=require('net').connect(process.argv[2]);process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',e=>{console.error(e.message);process.exit(1)});s.on('close',()=>process.exit(0));\n",
      );
    });
    after(async () => {
      if (strict) await stopSpawned(strict);
    });

    it('falls back to running fd-forward on the host, as fleetctl does', async () => {
      const file = knownHostsWith('strict_known_hosts', `[127.0.0.1]:${strictPort} ${ssh.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
      const logs: string[] = [];
      const t = tunnel({
        port: strictPort,
        knownHostsFile: file,
        fdForwardCommand: `${process.execPath} ${forwarder}`,
        log: (level, m) => logs.push(`${level}: ${m}`),
      });
      const api = apiVia(t, unixEndpoint);
      assert.equal((await api.getUnit('sock@1.service'))?.name, 'sock@1.service');
      assert.equal((await api.listUnits()).length, 1);
      assert.ok(
        logs.some(l => /^warn: .* did not open .*fleet\.sock itself \(open failed\); trying `.*fd-forward\.cjs` there, as fleetctl does/.test(l)),
        logs.join('\n'),
      );
      assert.equal(logs.filter(l => /did not open/.test(l)).length, 1, 'once fd-forward worked, streamlocal is not tried again');
      // Sessions are capped (sshd MaxSessions): many requests queue instead of failing, and every slot is given back.
      for (let i = 0; i < 9; i++) await api.listMachines();
      const results = await Promise.all(Array.from({ length: 10 }, () => api.listUnits()));
      assert.ok(results.every(r => r.length === 1));
      const controller = new AbortController();
      const follows = Array.from({ length: 3 }, () => api.followJournal('sock@1.service', () => undefined, controller.signal));
      await new Promise(r => setTimeout(r, 200));
      assert.equal((await api.listUnits()).length, 1, 'long-lived follows leave room for requests');
      controller.abort();
      await Promise.all(follows);
    });

    it('explains a host without fleetctl', async () => {
      const file = knownHostsWith('strict_known_hosts2', `[127.0.0.1]:${strictPort} ${ssh.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
      const api = apiVia(tunnel({ port: strictPort, knownHostsFile: file, fdForwardCommand: '/nonexistent/fleetctl fd-forward' }), unixEndpoint);
      await rejectsWith(
        api.listUnits(),
        /^127\.0\.0\.1 would not open .*fleet\.sock over SSH \(open failed: .*\), and `\/nonexistent\/fleetctl fd-forward '.*fleet\.sock'` on .* exited with 127: .*No such file or directory\. Install fleetctl \(with fd-forward\) on 127\.0\.0\.1, or allow unix-socket forwarding in its sshd \(AllowStreamLocalForwarding yes\), or use an http:\/\/ endpoint\.$/,
      );
    });
  });
});
