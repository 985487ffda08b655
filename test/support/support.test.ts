/**
 * The test-support helpers themselves: etcd start/restart/crash, the shared-etcd prefix, sshd +
 * agent with TCP and unix-socket forwarding through ssh2, process-group cleanup, free ports.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Client } from 'ssh2';
import {
  binary,
  EtcdServer,
  etcdAvailable,
  etcdBinary,
  findBinary,
  freePorts,
  groupAlive,
  isPortFree,
  MissingRequirementError,
  prefixRangeEnd,
  preferredOrFreePort,
  processesWithEnv,
  requireBinary,
  skipUnlessAvailable,
  sshdAvailable,
  stopProcessGroup,
  stopTagged,
  useEtcd,
  useSshd,
  waitFor,
  waitForEqual,
  SSH_HOST_ALIAS,
} from './index';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function etcdPut(endpoint: string, key: string, value: string): Promise<void> {
  const res = await fetch(`http://${endpoint}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(value) }) });
  assert.equal(res.status, 200, await res.text());
}

async function etcdGet(endpoint: string, key: string): Promise<string | undefined> {
  const res = await fetch(`http://${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(key) }) });
  const body = (await res.json()) as { kvs?: { value: string }[] };
  const kv = body.kvs?.[0];
  return kv ? Buffer.from(kv.value, 'base64').toString() : undefined;
}

describe('ports and process groups', () => {
  test('freePorts returns distinct usable ports', async () => {
    const ports = await freePorts(5);
    assert.equal(new Set(ports).size, 5);
    // Below the kernel's ephemeral range, where no outgoing connection or listen(0) can take them.
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (const p of ports) assert.ok(p >= 20000 && p < low, `port ${p}`);
  });

  test('stopProcessGroup stops grandchildren and returns once the group is gone', async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 60 & sleep 60 & wait'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pgid = child.pid!;
    await waitFor('the group to exist', () => groupAlive(pgid));
    await stopProcessGroup(pgid, { timeoutMs: 5_000 });
    assert.equal(groupAlive(pgid), false);
  });
});

/** Runs `body` with process.env.CI set to `value` (or unset), restoring it afterwards. */
function withCI<T>(value: string | undefined, body: () => T): T {
  const saved = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

describe('requirements gate', () => {
  const missing = binary('fleet-test-intentionally-missing', 'fleet-test-no-package');

  test('a missing binary names its apt package', () => {
    assert.equal(findBinary('fleet-test-intentionally-missing'), undefined);
    assert.match(missing.missing!, /fleet-test-intentionally-missing is not installed \(as root: apt-get install fleet-test-no-package,/);
    assert.throws(
      () => requireBinary('fleet-test-intentionally-missing', 'fleet-test-no-package'),
      (err: unknown) => err instanceof MissingRequirementError && /apt-get install fleet-test-no-package/.test(err.message),
    );
    assert.equal(binary('sh', 'dash').missing, undefined);
    assert.equal(findBinary('sh')?.endsWith('/sh'), true);
  });

  test('locally a missing tool skips with its reason; under CI=true it never skips', () => {
    assert.match(String(withCI(undefined, () => skipUnlessAvailable(missing))), /apt-get install fleet-test-no-package/);
    assert.equal(
      withCI('true', () => skipUnlessAvailable(missing)),
      false,
    );
    assert.equal(
      withCI('1', () => skipUnlessAvailable(missing)),
      false,
    );
    assert.equal(
      withCI(undefined, () => skipUnlessAvailable(binary('sh', 'dash'))),
      false,
    );
  });
});

describe('waitFor', () => {
  test('returns the first truthy value', async () => {
    let n = 0;
    assert.equal(await waitFor('n to reach 3', () => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
  });

  test('times out naming what it waited for and the last error', async () => {
    await assert.rejects(
      waitFor(
        'the moon',
        () => {
          throw new Error('no moon yet');
        },
        { timeoutMs: 100, intervalMs: 10 },
      ),
      /timed out after 100 ms waiting for the moon \(last error: no moon yet\)/,
    );
  });

  test('abortIf ends the wait early with its reason', async () => {
    const start = Date.now();
    await assert.rejects(
      waitFor('a server', () => false, { timeoutMs: 10_000, abortIf: () => 'it exited' }),
      /^Error: a server: it exited$/,
    );
    assert.ok(Date.now() - start < 5_000);
  });

  test('waitForEqual: until the value read deep-equals the expected one; else the difference', async () => {
    let n = 0;
    await waitForEqual('three', () => ({ n: ++n }), { n: 3 }, { intervalMs: 1 });
    assert.equal(n, 3);
    await assert.rejects(
      waitForEqual('a placement', async () => ({ 'a.service': 'm1' }), { 'a.service': 'm2' }, { timeoutMs: 50, intervalMs: 10 }),
      (e: Error) => /^timed out after 50 ms waiting for a placement: /.test(e.message) && /m1/.test(e.message) && /m2/.test(e.message),
    );
  });
});

describe('ports', () => {
  test('a port someone listens on is not free; preferredOrFreePort then picks another', async () => {
    const server = http.createServer();
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const taken = (server.address() as { port: number }).port;
    try {
      assert.equal(await isPortFree(taken), false);
      const other = await preferredOrFreePort(taken);
      assert.notEqual(other, taken);
      assert.equal(await isPortFree(other), true);
    } finally {
      server.close();
    }
  });
});

describe('cleanup when a test process is killed', () => {
  test('SIGTERM to a process that spawned detached servers kills their groups too', async () => {
    // A child test process starts a detached `sleep` group (as a test starts etcd), reports its
    // PGID, then waits; we SIGTERM it, as the test runner does on a timeout.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-support-kill-'));
    const script = path.join(tmp, 'child.ts');
    fs.writeFileSync(
      script,
      [
        `import { spawnDetached } from ${JSON.stringify(path.join(__dirname, 'process'))};`,
        `const s = spawnDetached('/bin/sh', ['-c', 'sleep 60 & sleep 60; wait'], { logFile: ${JSON.stringify(path.join(tmp, 'log'))} });`,
        'process.stdout.write(`${s.pid}\\n`);',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pgid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', d => {
          out += d;
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        child.once('exit', code => reject(new Error(`child exited early (${code})`)));
      });
      await waitFor('the detached group', () => groupAlive(pgid));
      const exited = new Promise<NodeJS.Signals | null>(r => child.once('exit', (_code, signal) => r(signal)));
      child.kill('SIGTERM');
      assert.equal(await exited, 'SIGTERM', 'the child still dies of the signal');
      await waitFor('the detached group to be gone', () => !groupAlive(pgid), { timeoutMs: 5_000 });
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('processes tagged in their environment', () => {
  test('are found even in their own session, and stopTagged stops exactly them', async () => {
    const tag = `t-${process.pid}-${Date.now()}`;
    const start = () => {
      const c = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, FLEET_SUPPORT_TAG: tag } });
      c.unref();
      return c;
    };
    const a = start();
    const b = start();
    const other = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, FLEET_SUPPORT_TAG: `${tag}-other` } });
    other.unref();
    try {
      const found = await waitFor('two tagged processes', () => {
        const pids = processesWithEnv('FLEET_SUPPORT_TAG', tag);
        return pids.length === 2 && pids;
      });
      assert.deepEqual([...found].sort(), [a.pid, b.pid].sort());
      assert.equal(await stopTagged('FLEET_SUPPORT_TAG', tag), 2);
      assert.deepEqual(processesWithEnv('FLEET_SUPPORT_TAG', tag), []);
      assert.deepEqual(processesWithEnv('FLEET_SUPPORT_TAG', `${tag}-other`), [other.pid], 'an untagged process is left alone');
      assert.equal(await stopTagged('FLEET_SUPPORT_TAG', tag), 0);
    } finally {
      for (const c of [a, b, other]) {
        try {
          process.kill(c.pid!, 'SIGKILL');
        } catch {
          // stopped already
        }
      }
    }
  });
});

describe('prefixRangeEnd', () => {
  test('is the prefix with its last byte incremented', () => {
    assert.deepEqual(prefixRangeEnd('/a/'), Buffer.from('/a0'));
    assert.deepEqual(prefixRangeEnd('ab'), Buffer.from('ac'));
  });
});

describe('etcd', { skip: skipUnlessAvailable(etcdBinary()) }, () => {
  let server: EtcdServer | undefined;
  after(async () => server?.stop());

  test('private etcd: data survives SIGTERM and SIGKILL restarts; stop() removes everything', async () => {
    server = await EtcdServer.start();
    const { endpoint, dataDir } = server;
    await etcdPut(endpoint, '/k', 'v1');
    await server.restart();
    assert.equal(server.endpoint, endpoint);
    assert.equal(await etcdGet(endpoint, '/k'), 'v1');
    await etcdPut(endpoint, '/k', 'v2');
    await server.halt('SIGKILL');
    assert.equal(await server.healthy(), false);
    await server.relaunch();
    assert.equal(await etcdGet(endpoint, '/k'), 'v2');
    const pid = server.pid!;
    await server.stop();
    assert.equal(groupAlive(pid), false);
    assert.equal(fs.existsSync(dataDir), false);
    server = undefined;
  });
});

describe('useEtcd', { skip: skipUnlessAvailable(etcdAvailable()) }, () => {
  test('keys under the fixture prefix are cleaned up (shared) or the server stops (private)', async () => {
    const etcd = await useEtcd('support');
    assert.match(etcd.prefix, /^\/fleet-test\/support-\d+-[0-9a-f]{8}\/$/);
    await etcdPut(etcd.endpoint, `${etcd.prefix}a`, '1');
    assert.equal(await etcdGet(etcd.endpoint, `${etcd.prefix}a`), '1');
    await etcd.stop();
    if (!etcd.server) assert.equal(await etcdGet(etcd.endpoint, `${etcd.prefix}a`), undefined);
  });
});

function connect(ssh: Awaited<ReturnType<typeof useSshd>>): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c))
      .on('error', reject)
      .connect({
        host: ssh.host,
        port: ssh.port,
        username: ssh.user,
        agent: ssh.agentSocket,
        hostVerifier: (key: Buffer) => key.equals(ssh.hostKeyBlob),
        readyTimeout: 5_000,
      });
  });
}

function httpOver(stream: NodeJS.ReadWriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    // No `agent` option: with agent:false Node ignores createConnection.
    const req = http.request({ path: '/units', createConnection: () => stream as never }, res => {
      let body = '';
      res.on('data', d => (body += d)).on('end', () => resolve(body));
    });
    req.on('error', reject).end();
  });
}

describe('sshd + ssh-agent', { skip: skipUnlessAvailable(...sshdAvailable()) }, () => {
  test('agent auth, pinned host key, TCP and unix-socket forwarding, ssh_config alias', async () => {
    const ssh = await useSshd();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-support-'));
    const app = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const sockApp = http.createServer((req, res) => res.end(`socket ${req.url}`));
    const sock = path.join(tmp, 'app.sock');
    let client: Client | undefined;
    try {
      await new Promise<void>(r => app.listen(0, '127.0.0.1', r));
      await new Promise<void>(r => sockApp.listen(sock, r));
      const port = (app.address() as { port: number }).port;
      client = await connect(ssh);
      const c = client;
      const tcp = await new Promise<NodeJS.ReadWriteStream>((resolve, reject) =>
        c.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (err, stream) => (err ? reject(err) : resolve(stream))),
      );
      assert.equal(await httpOver(tcp), 'hello /units');
      const unix = await new Promise<NodeJS.ReadWriteStream>((resolve, reject) =>
        c.openssh_forwardOutStreamLocal(sock, (err, stream) => (err ? reject(err) : resolve(stream))),
      );
      assert.equal(await httpOver(unix), 'socket /units');
      // The OpenSSH client accepts the generated config and known_hosts as they are.
      const out = execFileSync('ssh', ['-F', ssh.sshConfig, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', SSH_HOST_ALIAS, 'echo', 'ok'], {
        env: { ...process.env, SSH_AUTH_SOCK: ssh.agentSocket },
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(out.trim(), 'ok');
    } finally {
      client?.end();
      app.close();
      sockApp.close();
      await ssh.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('a wrong host key is refused', async () => {
    const ssh = await useSshd();
    try {
      await assert.rejects(connect({ ...ssh, hostKeyBlob: Buffer.from('not the key') }), /Host denied/);
    } finally {
      await ssh.stop();
    }
  });
});
