/**
 * The article's journey, end to end in one run (issue 11, "Done when"): a user adds their bastion
 * profile with Fleet: Add Cluster, connects, starts a unit, follows its journal, reads its status
 * and opens a shell on its machine. The extension's cluster features run in Node against the
 * stand-in `vscode` (support/vscodeStub.ts answers the wizard's input boxes, quick picks, the
 * trust prompts and "Connect now"); everything behind them is real:
 *
 *  - the cluster: `fleetd local --machines 2 --etcd-api v2` on a real etcd, reached as the article
 *    does, through the cluster's etcd (fleetctl --driver=etcd) and a tunnel;
 *  - SSH: real sshds for the bastion (127.0.0.10) and the two machines (127.0.0.2 and .3, the
 *    PublicIPs fleetd local advertises), a real ssh-agent, an empty known_hosts the prompts fill;
 *  - on the machines, `journalctl` and `systemctl` are executables that STAND IN FOR systemd
 *    (test/support/fleetHosts.ts): they record their argv and print a fixed transcript.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commands, config, contentProviders, outputs, stubState, token, treeViews, ui, Uri } from './support/vscodeStub';
import { etcdBinary, FleetdLocal, requireBinary, skipUnlessAvailable, waitFor } from '../../test/support';
import { sshdBinaries } from '../../test/support/sshd';
import { startFleetHosts, type FleetHost, type FleetHosts } from '../../test/support/fleetHosts';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { registerClusterFeatures } = require('../src/features') as typeof import('../src/features');

const TRUST = 'Trust and Connect';
const UNIT = 'hello.service';

/** How many channels the bastion's sshd opened to host:port (its DEBUG1 log names each direct-tcpip target). */
function bastionChannelsTo(hosts: FleetHosts, host: string, port: number): number {
  const log = fs.readFileSync(path.join(hosts.bastion.dir, 'sshd.log'), 'utf8');
  return log.split('\n').filter(l => l.includes(`target ${host} port ${port}`)).length;
}

function labels(viewId: string): string[] {
  const view = treeViews.get(viewId)!;
  return view.provider.getChildren().map(n => view.provider.getTreeItem(n).label);
}

describe(
  "the article's journey: Add Cluster through the bastion, start a unit, its journal, status and a shell (real fleetd, etcd, sshds)",
  { skip: skipUnlessAvailable(etcdBinary(), ...sshdBinaries()) },
  () => {
    let hosts: FleetHosts;
    let cluster: FleetdLocal;
    let work: string;
    let knownHosts: string;
    let features: ReturnType<typeof registerClusterFeatures> | undefined;
    const savedAgent = process.env['SSH_AUTH_SOCK'];

    before(
      async () => {
        hosts = await startFleetHosts(2, { firstMachine: 2 });
        cluster = await FleetdLocal.start([
          '--machines',
          '2',
          '--etcd-binary',
          requireBinary('etcd', 'etcd-server'),
          '--etcd-api',
          'v2',
          '--agent-reconcile-interval',
          '1',
        ]);
        assert.ok(cluster.etcd, `fleetd names its etcd:\n${cluster.output()}`);
        work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-journey-'));
        knownHosts = path.join(work, 'known_hosts');
        fs.writeFileSync(path.join(work, UNIT), '[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 1000\n');
        process.env['SSH_AUTH_SOCK'] = hosts.agentSocket;
        config.clear();
        config.set('fleet.ssh.port', hosts.port);
        config.set('fleet.ssh.journalLines', 5);
        config.set('fleet.explorer.refreshIntervalSeconds', 1);
        config.set('fleet.deploy.timeoutSeconds', 60);
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
        treeViews.get('fleet.units')!.setVisible(true);
      },
      { timeout: 120_000 },
    );

    after(async () => {
      features?.dispose();
      if (savedAgent === undefined) delete process.env['SSH_AUTH_SOCK'];
      else process.env['SSH_AUTH_SOCK'] = savedAgent;
      await cluster?.stop();
      await hosts?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    let unitHost: FleetHost;
    let machineId: string;

    it(
      'Add Cluster: the etcd endpoint, core@bastion:port split, ssh-agent, a known_hosts file; the test asks about the bastion; "Connect now" connects',
      { timeout: 60_000 },
      async () => {
        assert.equal(ui.contexts.get('fleet.clusterConnected'), false, 'nothing is connected before the wizard');
        const pick = (value: string) => (items: { value?: string }[]) => {
          assert.ok(
            items.some(i => i.value === value),
            `the wizard offers ${value}: ${items.map(i => i.value).join(', ')}`,
          );
          return items.find(i => i.value === value);
        };
        ui.inputs.push('article', cluster.etcd!, `${hosts.user}@127.0.0.10:${hosts.port}`, hosts.user, knownHosts);
        ui.picks.push(pick('etcd'), pick('agent'), pick('strict-file'));
        ui.warningAnswers.push(TRUST);
        ui.infoAnswers.push('Connect now');
        const warnings = ui.warnings.length;
        await commands.get('fleet.addCluster')!();
        assert.deepEqual(
          ui.inputBoxes.slice(-5).map(b => b.value),
          ['', 'http://127.0.0.1:2379', '', hosts.user, '~/.fleetctl/known_hosts'],
          "each question and its default, in the issue's order",
        );
        assert.deepEqual(
          ui.warnings.slice(warnings),
          [`The authenticity of host [127.0.0.10]:${hosts.port} can't be established.`],
          'the connection test asked about the bastion, once',
        );
        assert.match(ui.info.at(-1)!, /^Connected to .*: 2 machines, 0 units\. Save "article"\?$/);
        assert.deepEqual(config.get('fleet.clusters'), [
          { name: 'article', endpoint: cluster.etcd, driver: 'etcd', tunnel: `127.0.0.10:${hosts.port}`, sshUser: hosts.user, knownHostsFile: knownHosts },
        ]);
        assert.equal(config.get('fleet.activeCluster'), 'article');
        assert.match(fs.readFileSync(knownHosts, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.10\\]:${hosts.port} ssh-ed25519 `));
        await waitFor(
          'the two machines through the bastion',
          async () => {
            await features!.model.refresh();
            return labels('fleet.machines').length === 2;
          },
          { timeoutMs: 20_000 },
        );
        assert.deepEqual(
          labels('fleet.machines')
            .map(l => l.split(' ')[1])
            .sort(),
          ['127.0.0.2', '127.0.0.3'],
        );
        assert.equal(ui.contexts.get('fleet.clusterConnected'), true);
        assert.ok(hosts.bastion.sessions().length === 0, 'the tunnel forwards to etcd; nothing runs on the bastion');
      },
    );

    it("Start Unit: the etcd driver writes fleet's keys, fleetd runs the unit on a machine, the explorer shows it launched", { timeout: 90_000 }, async () => {
      await commands.get('fleet.startUnit')!(Uri.file(path.join(work, UNIT)));
      assert.deepEqual(ui.errors, []);
      assert.match(ui.info.at(-1)!, /^Unit hello\.service launched on [0-9a-f]{8}\.\.\.\/127\.0\.0\.[23]$/);
      await waitFor(
        'hello.service launched in the Units view',
        async () => {
          await features!.model.refresh();
          return labels('fleet.units').includes(UNIT);
        },
        { timeoutMs: 20_000 },
      );
      const view = features!.model.view;
      assert.equal(view.kind, 'connected');
      const state = view.kind === 'connected' ? view.snapshot.states.find(s => s.name === UNIT) : undefined;
      assert.ok(state?.machineID, 'the unit has a machine');
      machineId = state.machineID;
      const ip = view.kind === 'connected' ? view.snapshot.machines.find(m => m.id === machineId)?.primaryIP : undefined;
      unitHost = hosts.machines.find(h => h.address === ip)!;
      assert.ok(unitHost, `the unit's machine ${ip} is one of the test hosts`);
    });

    it(
      "Show Journal: trusts the machine on first use, follows journalctl on it through the bastion into the unit's output channel",
      { timeout: 60_000 },
      async () => {
        ui.warningAnswers.push(TRUST);
        const warnings = ui.warnings.length;
        const channels = bastionChannelsTo(hosts, unitHost.address, hosts.port);
        await commands.get('fleet.showUnitJournal')!(Uri.from({ scheme: 'fleet-unit', path: `/${UNIT}` }));
        const channel = () => outputs.get(`Fleet Journal: ${UNIT}`) ?? [];
        await waitFor('journal lines over SSH', () => channel().some(l => l.endsWith('tick 2')), { timeoutMs: 20_000 });
        assert.deepEqual(ui.warnings.slice(warnings), [`The authenticity of host [${unitHost.address}]:${hosts.port} can't be established.`]);
        assert.ok(channel().includes(`Dec 07 04:00:02 ${unitHost.name} hello[42]: Hello from ${unitHost.name}`), channel().join('\n'));
        const session = unitHost.sessions().at(-1)!;
        assert.equal(session.command, `journalctl "--unit" "${UNIT}" "--no-pager" "-n" "5" "--output" "short" "-f"`);
        assert.equal(
          bastionChannelsTo(hosts, unitHost.address, hosts.port),
          channels + 1,
          'the machine was reached through the bastion (direct-tcpip), as fleetctl tunnels',
        );
        await waitFor('journalctl running on the machine', () => unitHost.runningJournalctl().length === 1, { timeoutMs: 5_000 });
      },
    );

    it("Show Unit Status: fleetctl status's systemctl line on the unit's machine, no second prompt (the key was recorded)", { timeout: 60_000 }, async () => {
      const warnings = ui.warnings.length;
      const text = await contentProviders.get('fleet-status')!.provideTextDocumentContent(Uri.from({ scheme: 'fleet-status', path: `/${UNIT}.status` }), token);
      assert.match(
        text,
        new RegExp(
          `^\\$ systemctl "status" "-l" "${UNIT.replace('.', '\\.')}" {3}# on machine ${machineId.slice(0, 8)} \\(${unitHost.address.replace(/\./g, '\\.')}\\)\\n● ${UNIT.replace('.', '\\.')} - Hello\\n`,
        ),
      );
      assert.match(text, new RegExp(`Active: active \\(running\\) on ${unitHost.name}\\n`));
      assert.equal(ui.warnings.length, warnings);
      assert.ok(
        unitHost.argv().some(l => l.startsWith(`systemctl <status> <-l> <${UNIT}>`)),
        unitHost.argv().join('\n'),
      );
    });

    it("Open Shell on Machine from the unit's node: a terminal whose pty is a shell on that machine", { timeout: 60_000 }, async () => {
      const units = treeViews.get('fleet.units')!;
      const node = units.provider.getChildren().find(n => units.provider.getTreeItem(n).label === UNIT);
      assert.ok(node, "the unit's node");
      const channels = bastionChannelsTo(hosts, unitHost.address, hosts.port);
      await commands.get('fleet.openMachineShell')!(node);
      const terminal = stubState.terminals.at(-1)!;
      assert.equal(terminal.name, `fleet: machine ${machineId.slice(0, 8)} (${unitHost.address})`);
      const pty = terminal.pty as {
        onDidWrite(l: (s: string) => void): void;
        onDidClose(l: (c?: number) => void): void;
        open(d: { columns: number; rows: number }): void;
        handleInput(s: string): void;
      };
      let out = '';
      let closed: number | undefined | null = null;
      pty.onDidWrite(s => (out += s));
      pty.onDidClose(c => (closed = c));
      pty.open({ columns: 80, rows: 24 });
      await waitFor("the machine's prompt", () => out.includes(`${unitHost.name}$`), { timeoutMs: 15_000 });
      pty.handleInput('echo "shell at ${SSH_CONNECTION##* }"; exit 4\r');
      await waitFor('the shell exits with its status', () => closed === 4, { timeoutMs: 10_000 });
      assert.match(out, new RegExp(`shell at ${hosts.port}`));
      assert.equal(bastionChannelsTo(hosts, unitHost.address, hosts.port), channels + 1, 'the shell came through the bastion');
      assert.equal(unitHost.sessions().at(-1)!.command, '', 'an interactive shell (no command)');
    });

    it('closing the window stops the journal: no journalctl is left on the machine', { timeout: 30_000 }, async () => {
      features!.dispose();
      features = undefined;
      await waitFor('no journalctl left on the machine', () => unitHost.runningJournalctl().length === 0, { timeoutMs: 10_000 });
    });
  },
);
