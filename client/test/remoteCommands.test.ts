/**
 * The wiring of Show Journal, Show Unit Status and Open Shell on Machine, run in Node against
 * the stand-in `vscode` (support/vscodeStub.ts) for a real fleet reached as in the article: a
 * `fleet.clusters` profile whose API is a unix socket behind a bastion (real sshd on 127.0.0.10,
 * real ssh-agent), and machines (real sshds on 127.0.0.11/.12) the API advertises by PublicIP.
 * The API has no journal extension (404, as fleet), so the journal and status come over SSH.
 * `journalctl`/`systemctl` on the machines STAND IN FOR systemd (test/support/fleetHosts.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commands, config, contentProviders, outputs, stubState, token, treeViews, Uri } from './support/vscodeStub';
import { waitFor } from '../../test/support/process';
import { skipUnlessAvailable } from '../../test/support/requirements';
import { sshdBinaries } from '../../test/support/sshd';
import { startFleetHosts, type FleetHosts } from '../../test/support/fleetHosts';
import { FakeFleetServer, sendError } from './fleetApiServer.test';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerClusterFeatures } = require('../src/features') as typeof import('../src/features');

const M1 = 'a1'.padEnd(32, '1');
const M2 = 'b2'.padEnd(32, '2');

describe('Show Journal, Show Unit Status and Open Shell on a real fleet (stub vscode, real sshds)', { skip: skipUnlessAvailable(...sshdBinaries()) }, () => {
  let hosts: FleetHosts;
  let work: string;
  let fleet: FakeFleetServer;
  let features: ReturnType<typeof registerClusterFeatures> | undefined;
  const savedAgent = process.env['SSH_AUTH_SOCK'];

  before(async () => {
    hosts = await startFleetHosts(2);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-remote-ui-'));
    const socket = path.join(work, 'fleet.sock');
    fleet = new FakeFleetServer({
      machines: [
        { id: M1, primaryIP: '127.0.0.11' },
        { id: M2, primaryIP: '127.0.0.12' },
      ],
      units: [
        {
          name: 'hello.service',
          desiredState: 'launched',
          currentState: 'launched',
          machineID: M2,
          options: [{ section: 'Service', name: 'ExecStart', value: '/usr/bin/hello' }],
        },
      ],
      override: (req, res) => (req.url?.includes('/journal/') ? (sendError(res, 404, 'not found'), true) : false),
    });
    await fleet.listen({ path: socket });
    const knownHosts = path.join(work, 'known_hosts');
    fs.writeFileSync(knownHosts, hosts.knownHosts(hosts.bastion, ...hosts.machines));
    process.env['SSH_AUTH_SOCK'] = hosts.agentSocket;
    config.clear();
    config.set('fleet.clusters', [
      { name: 'article', endpoint: `unix://${socket}`, tunnel: `127.0.0.10:${hosts.port}`, sshUser: hosts.user, knownHostsFile: knownHosts },
    ]);
    config.set('fleet.activeCluster', 'article');
    config.set('fleet.ssh.port', hosts.port);
    config.set('fleet.ssh.journalLines', 5);
    const context = {
      extensionPath: work,
      extensionUri: Uri.file(work),
      extension: { packageJSON: {} },
      globalStorageUri: Uri.file(path.join(work, 'storage')),
      subscriptions: [],
    };
    features = registerClusterFeatures(context as never, {
      log: { appendLine() {}, append() {}, show() {}, clear() {}, dispose() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    treeViews.get('fleet.machines')!.setVisible(true);
    await waitFor(
      'connected to the article cluster',
      async () => {
        await features!.model.refresh();
        return features!.model.view.kind === 'connected';
      },
      { timeoutMs: 15_000 },
    );
  });
  after(async () => {
    features?.dispose();
    if (savedAgent === undefined) delete process.env['SSH_AUTH_SOCK'];
    else process.env['SSH_AUTH_SOCK'] = savedAgent;
    await fleet?.close();
    await hosts?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("Show Unit Status runs fleetctl status on the unit's machine through the bastion and shows it above the registry view", async () => {
    const text = await contentProviders
      .get('fleet-status')!
      .provideTextDocumentContent(Uri.from({ scheme: 'fleet-status', path: '/hello.service.status' }), token);
    assert.match(text, /^\$ systemctl "status" "-l" "hello.service" {3}# on machine b2222222 \(127\.0\.0\.12\)\n● hello.service - Hello\n/);
    assert.match(text, /Active: active \(running\) on machine2\n/);
    assert.match(text, /Desired state: launched/);
    assert.equal(hosts.machines[1]!.sessions().at(-1)!.command, 'systemctl "status" "-l" "hello.service"');
  });

  it("Show Journal follows journalctl on the unit's machine into its output channel; closing the window stops it, leaving nothing running on the machine", async () => {
    const m2 = hosts.machines[1]!;
    const unit = Uri.from({ scheme: 'fleet-unit', path: '/hello.service' });
    await commands.get('fleet.showUnitJournal')!(unit);
    const channel = () => outputs.get('Fleet Journal: hello.service') ?? [];
    await waitFor('journal lines over SSH', () => channel().some(l => l.endsWith('tick 2')), { timeoutMs: 15_000 });
    assert.deepEqual(channel().slice(0, 3), [
      '-- Logs begin at Mon 2026-12-07 04:00:00 UTC. --',
      'Dec 07 04:00:01 machine2 systemd[1]: Started Hello.',
      'Dec 07 04:00:02 machine2 hello[42]: Hello from machine2',
    ]);
    assert.equal(m2.sessions().at(-1)!.command, 'journalctl "--unit" "hello.service" "--no-pager" "-n" "5" "--output" "short" "-f"');
    await waitFor('one journalctl on machine2', () => m2.runningJournalctl().length === 1, { timeoutMs: 5_000 });
    features!.dispose();
    features = undefined;
    await waitFor('no journalctl left on machine2', () => m2.runningJournalctl().length === 0, { timeoutMs: 5_000 });
    await waitFor('the channel says it stopped', () => channel().includes('-- stopped following --'), { timeoutMs: 5_000 });
  });

  it('Open Shell on Machine opens a terminal whose pty is a shell on the machine, sized like the terminal', async () => {
    const context = {
      extensionPath: work,
      extensionUri: Uri.file(work),
      extension: { packageJSON: {} },
      globalStorageUri: Uri.file(path.join(work, 'storage')),
      subscriptions: [],
    };
    features = registerClusterFeatures(context as never, {
      log: { appendLine() {}, append() {}, show() {}, clear() {}, dispose() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    await waitFor(
      'connected again',
      async () => {
        await features!.model.refresh();
        return features!.model.view.kind === 'connected';
      },
      { timeoutMs: 15_000 },
    );
    await commands.get('fleet.openMachineShell')!({ kind: 'machine', id: `machine:${M1}`, machine: { id: M1, primaryIP: '127.0.0.11' } });
    const terminal = stubState.terminals.at(-1)!;
    assert.equal(terminal.name, 'fleet: machine a1111111 (127.0.0.11)');
    assert.equal(terminal.shown, true);
    const pty = terminal.pty as {
      onDidWrite(l: (s: string) => void): void;
      onDidClose(l: (c?: number) => void): void;
      open(d: { columns: number; rows: number }): void;
      handleInput(s: string): void;
      setDimensions(d: { columns: number; rows: number }): void;
    };
    let out = '';
    let closed: number | undefined | null = null;
    pty.onDidWrite(s => (out += s));
    pty.onDidClose(c => (closed = c));
    pty.open({ columns: 100, rows: 30 });
    await waitFor('the prompt', () => out.includes('machine1$'), { timeoutMs: 10_000 });
    pty.handleInput('stty size\r');
    await waitFor('the size', () => /30 100/.test(out), { timeoutMs: 5_000 });
    pty.setDimensions({ columns: 120, rows: 40 });
    pty.handleInput('stty size; exit 3\r');
    await waitFor('the new size', () => /40 120/.test(out), { timeoutMs: 5_000 });
    await waitFor('the terminal closes with the exit status', () => closed === 3, { timeoutMs: 5_000 });
  });
});
