/**
 * Why a cluster is unreachable, as the Units and Machines views' welcome messages say it
 * (cluster/connectionProblem.ts): the classification of the errors the connection layers throw
 * (constructed here; client/test/tunnel.test.ts classifies the real ones from a real sshd, and
 * the last case here real socket errors), which welcome the views show (fallback included), and
 * the manifest's `viewsWelcome`: exactly one message per reason and view, each with Retry, Edit
 * Cluster and Select Cluster.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EtcdFleetApi } from '../src/api/etcdFleetApi';
import { HttpFleetApi } from '../src/api/fleetApi';
import { FleetApiError } from '../src/api/types';
import { classifyConnectionError, CONNECTION_PROBLEMS, PROBLEM_CONTEXT, welcomeStateOf, type ConnectionProblem } from '../src/cluster/connectionProblem';
import type { ClusterSnapshot } from '../src/cluster/snapshot';
import type { ConnectionView } from '../src/cluster/treeItems';
import { SshConnectError } from '../src/connection/sshSession';
import { freePort } from '../../test/support/ports';

describe('classifyConnectionError', () => {
  it('names the reason of each failure a user can act on', () => {
    const cases: Array<[unknown, ConnectionProblem]> = [
      [new SshConnectError('No SSH credentials for core@bastion:22: SSH_AUTH_SOCK is not set', 'no-credentials'), 'no-agent'],
      [new SshConnectError('REMOTE HOST IDENTIFICATION HAS CHANGED for bastion', 'host-key-changed'), 'host-key-changed'],
      [new SshConnectError('Unknown host bastion and no one to ask', 'host-key-unknown'), 'host-key-unknown'],
      [new SshConnectError('Host key verification failed: not trusted', 'host-key-rejected'), 'host-key-unknown'],
      [new SshConnectError('SSH authentication as core failed', 'auth'), 'auth'],
      [new SshConnectError('Cannot reach the SSH tunnel host: connection refused', 'refused'), 'refused'],
      [new SshConnectError('Timed out while initiating the SSH connection', 'timeout'), 'timeout'],
      [new SshConnectError('Cannot read the identity file', 'config'), 'config'],
      [new SshConnectError('The SSH server closed the connection during the handshake', 'closed'), 'unreachable'],
      [new FleetApiError('Cannot reach fleet at http://10.0.0.1:49153: connection refused', undefined, 'network', 'ECONNREFUSED'), 'refused'],
      [new FleetApiError('The tunnel could not reach fleet at 127.0.0.1:49153: Connection refused', undefined, 'ssh', 'ECONNREFUSED'), 'refused'],
      [new FleetApiError('fleet at x did not answer within 10 s', undefined, 'network', 'ETIMEOUT_FLEET'), 'timeout'],
      [new FleetApiError('Cannot reach fleet: the host is unreachable (ETIMEDOUT)', undefined, 'network', 'ETIMEDOUT'), 'timeout'],
      [new FleetApiError("fleet API 404: x answers like etcd, not like fleet's HTTP API", 404, 'config', 'wrong-driver'), 'wrong-driver'],
      [new FleetApiError('TLS to fleet at x failed', undefined, 'tls', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'tls'],
      [new FleetApiError('profile "p": cannot read caFile', undefined, 'config'), 'config'],
      [new FleetApiError('Cannot reach the fleet socket /var/run/fleet.sock: no such socket', undefined, 'network', 'ENOENT'), 'unreachable'],
      [new FleetApiError('fleet API 500: boom', 500, 'http'), 'unreachable'],
      [new Error('something else'), 'unreachable'],
      ['a string', 'unreachable'],
    ];
    for (const [err, want] of cases) assert.equal(classifyConnectionError(err), want, String((err as Error).message ?? err));
  });

  it('an SSH failure under another error (the etcd driver\'s "cannot reach etcd" over a tunnel) is the reason', () => {
    const ssh = new SshConnectError('SSH_AUTH_SOCK points to /tmp/gone, which does not exist', 'no-credentials');
    const wrapped = new FleetApiError('cannot reach etcd at http://127.0.0.1:2379: SSH_AUTH_SOCK points to /tmp/gone', undefined, 'network', undefined, ssh);
    assert.equal(classifyConnectionError(wrapped), 'no-agent');
    // A cause chain that loops does not hang.
    const a = new FleetApiError('a', undefined, 'network') as FleetApiError & { cause?: unknown };
    const b = new FleetApiError('b', undefined, 'network', undefined, a);
    Object.defineProperty(a, 'cause', { value: b });
    assert.equal(classifyConnectionError(a), 'unreachable');
  });

  it("classifies real socket failures: refused, a request timeout, etcd answering the API driver, fleet's API answering the etcd driver", async () => {
    const closed = await freePort();
    const refused = await new HttpFleetApi({ endpoint: `http://127.0.0.1:${closed}` }).listMachines().catch((e: unknown) => e);
    assert.equal(classifyConnectionError(refused), 'refused', String(refused));

    const silent = net.createServer(() => undefined);
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
    const etcdLike = http.createServer((req, res) => {
      if (req.url?.startsWith('/fleet/v1/')) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      res.writeHead(404).end();
    });
    await new Promise<void>(r => etcdLike.listen(0, '127.0.0.1', r));
    const fleetLike = http.createServer(
      (_req, res) => void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":404,"message":"not found"}}'),
    );
    await new Promise<void>(r => fleetLike.listen(0, '127.0.0.1', r));
    try {
      const timedOut = await new HttpFleetApi({ endpoint: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, requestTimeoutMs: 200 })
        .listMachines()
        .catch((e: unknown) => e);
      assert.equal(classifyConnectionError(timedOut), 'timeout', String(timedOut));
      const etcd = await new HttpFleetApi({ endpoint: `http://127.0.0.1:${(etcdLike.address() as net.AddressInfo).port}` })
        .listMachines()
        .catch((e: unknown) => e);
      assert.equal(classifyConnectionError(etcd), 'wrong-driver', String(etcd));
      const api = new EtcdFleetApi({
        endpoint: `http://127.0.0.1:${(fleetLike.address() as net.AddressInfo).port}`,
        prefix: '/_coreos.com/fleet/',
        requestTimeoutMs: 2000,
      });
      const fleet = await api.listMachines().catch((e: unknown) => e);
      api.dispose();
      assert.ok(fleet instanceof FleetApiError, String(fleet));
      assert.equal(classifyConnectionError(fleet), 'wrong-driver', String(fleet));
    } finally {
      silent.close();
      etcdLike.close();
      fleetLike.close();
    }
  });
});

describe('welcomeStateOf', () => {
  const snapshot = { machines: [], units: [], states: [] } as unknown as ClusterSnapshot;
  it('connected, not connected, or the reason; a fallback after the local cluster stopped says "not connected"', () => {
    const of = (view: ConnectionView, fallback?: boolean) => welcomeStateOf(view, fallback);
    assert.deepEqual(of({ kind: 'disconnected' }), { connected: false, problem: undefined });
    assert.deepEqual(of({ kind: 'loading', label: 'prod' }), { connected: false, problem: undefined });
    assert.deepEqual(of({ kind: 'connected', label: 'prod', snapshot }), { connected: true, problem: undefined });
    // A snapshot kept through a failed read stays on screen (under its error node): no welcome.
    assert.deepEqual(of({ kind: 'connected', label: 'prod', snapshot, error: 'x' }), { connected: true, problem: undefined });
    const down: ConnectionView = { kind: 'error', label: 'prod', error: 'connection refused', problem: 'refused' };
    assert.deepEqual(of(down), { connected: false, problem: 'refused' });
    assert.deepEqual(of(down, true), { connected: false, problem: undefined });
    assert.deepEqual(of({ kind: 'connected', label: 'prod', snapshot }, true), { connected: true, problem: undefined });
  });
});

describe('the welcome views in package.json', () => {
  const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
    contributes: { viewsWelcome: Array<{ view: string; when: string; contents: string }>; commands: Array<{ command: string }> };
  };
  const welcome = manifest.contributes.viewsWelcome;
  /** The welcome entries whose `when` holds for these context values (the clauses used: ==, !, &&). */
  const shown = (view: string, connected: boolean, problem: string | undefined) =>
    welcome.filter(
      w =>
        w.view === view &&
        w.when
          .split('&&')
          .map(c => c.trim())
          .every(clause => {
            const eq = /^fleet\.connectionProblem == '([^']+)'$/.exec(clause);
            if (eq) return problem === eq[1];
            if (clause === '!fleet.connectionProblem') return problem === undefined;
            if (clause === '!fleet.clusterConnected') return !connected;
            if (clause === 'fleet.clusterConnected') return connected;
            throw new Error(`a when clause this test does not know: ${clause}`);
          }),
    );

  it('shows exactly one message per reason in each view: in Units with Retry, Edit Cluster (the active one) and Select Cluster, in Machines its headline and Retry', () => {
    assert.equal(PROBLEM_CONTEXT, 'fleet.connectionProblem');
    const commands = new Set(manifest.contributes.commands.map(c => c.command));
    for (const view of ['fleet.units', 'fleet.machines']) {
      for (const problem of CONNECTION_PROBLEMS) {
        const entries = shown(view, false, problem);
        assert.equal(entries.length, 1, `${view} shows one message for ${problem}: ${entries.map(e => e.when).join(' | ')}`);
        const text = entries[0]!.contents;
        assert.match(text, /^Cannot connect to the cluster: /);
        if (view === 'fleet.units')
          assert.match(
            text,
            /\n\[Retry\]\(command:fleet\.retryConnection\)\n\[Edit Cluster\]\(command:fleet\.editCluster\?%7B%22active%22%3Atrue%7D\)\n\[Select Cluster\]\(command:fleet\.selectCluster\)$/,
          );
        // The small Machines view (VS Code's least height, 120 px): the Units view's first
        // sentence, without its parenthesis, and Retry; the Units view below says what to check.
        else {
          const units = shown('fleet.units', false, problem)[0]!.contents;
          const headline = /^(.*?\.)(?: |$)/m.exec(units)![1]!.replace(/\s*\([^)]*\)\.$/, '.');
          assert.equal(text, `${headline}\n[Retry](command:fleet.retryConnection)`);
        }
        for (const [, id] of text.matchAll(/\(command:([\w.]+)/g)) assert.ok(commands.has(id!), `${id} is a contributed command`);
      }
      // Not connected (nothing chosen, or a fallback that cannot be read): the one "not connected" welcome.
      assert.equal(shown(view, false, undefined).length, 1);
      assert.equal(shown(view, true, undefined).length, 0);
    }
    // The Machines view is small (a few rows): one line and Select Cluster. The Units view, with the
    // room, offers the first hour's way in: Add Cluster, Start Local Cluster, the samples.
    assert.equal(shown('fleet.machines', false, undefined)[0]!.contents, 'Not connected to a fleet cluster.\n[Select Cluster](command:fleet.selectCluster)');
    assert.match(
      shown('fleet.units', false, undefined)[0]!.contents,
      /^Units appear here once a cluster is connected\.\n\[Add Cluster\]\(command:fleet\.addCluster\)\nNo cluster yet\? Run one on this machine:\n\[Start Local Cluster\]\(command:fleet\.startLocalCluster\)\nNew to fleet\? \[Open the sample units\]\(command:fleet\.openSampleUnits\)/,
    );
    const reasons = (view: string) => CONNECTION_PROBLEMS.map(p => shown(view, false, p)[0]!.contents.split('\n')[0]);
    assert.equal(new Set(reasons('fleet.units')).size, CONNECTION_PROBLEMS.length, 'each reason has its own text');
    assert.match(shown('fleet.units', false, 'no-agent')[0]!.contents, /no SSH credentials\. SSH_AUTH_SOCK is not set/);
    assert.match(shown('fleet.units', false, 'host-key-changed')[0]!.contents, /the SSH host key has changed/);
    assert.match(shown('fleet.units', false, 'refused')[0]!.contents, /connection refused/);
    assert.match(shown('fleet.units', false, 'timeout')[0]!.contents, /no answer in time/);
    assert.match(shown('fleet.units', false, 'wrong-driver')[0]!.contents, /wrong driver/);
  });
});
