/**
 * A real fleet cluster over SSH in a real VS Code (code-server + Debian chromium), issue 11, as
 * the article's user meets it: with the cluster down (the VPN is off, say), they add it with
 * Fleet: Add Cluster (the cluster's etcd, `--driver=etcd`, through a bastion given as
 * user@host:port, ssh-agent, a known_hosts file); the test fails with "connection refused" and
 * they save it anyway, then select it: the Units and Machines views show the reason with Retry,
 * Edit Cluster and Select Cluster. The cluster comes up (`fleetd local --etcd-api v2` on a real
 * etcd), Retry connects, and they start a unit from its editor, follow its journal, read its
 * status and open a shell on its machine.
 *
 * The machines are real sshds on 127.0.0.2 and .3 (the PublicIPs fleetd local advertises), the
 * bastion one on 127.0.0.10 (test/support/fleetHosts.ts); their `journalctl` and `systemctl` are
 * executables that STAND IN FOR systemd (they print a fixed transcript and record their argv).
 * The trust prompts are covered in client/test/articleJourney.test.ts; here known_hosts already
 * has the hosts. Screenshots: out/e2e-artifacts/remote-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { withWorkbench, type Workbench } from './workbench';
import { ClusterWorkbench } from './clusterWorkbench';
import { EtcdServer, FleetdLocal, freePorts, skipUnlessAvailable, waitFor } from '../support';
import { etcdBinary } from '../support/etcd';
import { sshdBinaries } from '../support/sshd';
import { startFleetHosts, type FleetHost, type FleetHosts } from '../support/fleetHosts';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };
const UNIT = 'hello.service';
const TIMEOUT = 45_000;

describe(
  "a real fleet over SSH in a real VS Code: Add Cluster, the unreachable cluster's reason, Retry, then journal, status and a shell",
  { skip: e2eSkip(needs) || skipUnlessAvailable(etcdBinary(), ...sshdBinaries()) },
  () => {
    let cs: CodeServer | undefined;
    let hosts: FleetHosts | undefined;
    let etcd: EtcdServer | undefined;
    let cluster: FleetdLocal | undefined;
    let etcdPorts: number[] = [];
    let workspace = '';
    let knownHosts = '';

    before(
      async () => {
        assertE2eAvailable(needs);
        hosts = await startFleetHosts(2, { firstMachine: 2 });
        // etcd's ports are picked now; etcd starts only after the views have shown the cluster down.
        etcdPorts = await freePorts(2);
        knownHosts = path.join(hosts.dir, 'known_hosts');
        fs.writeFileSync(knownHosts, hosts.knownHosts(hosts.bastion, ...hosts.machines));
        cs = await CodeServer.start({
          vsix: [VSIX],
          settings: {
            'git.enabled': false,
            'remote.autoForwardPorts': false,
            'fleet.explorer.groupBy': 'flat',
            // Slow polling (and so a slow error backoff): the views connect because Retry was clicked.
            'fleet.explorer.refreshIntervalSeconds': 30,
            'fleet.ssh.port': hosts.port,
          },
          env: { SSH_AUTH_SOCK: hosts.agentSocket },
        });
        workspace = path.join(cs.dir, 'work');
        fs.mkdirSync(workspace);
        fs.writeFileSync(path.join(workspace, UNIT), '[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep 1000\n');
      },
      { timeout: 120_000 },
    );

    after(async () => {
      await cs?.stop();
      await cluster?.stop();
      await etcd?.stop();
      await hosts?.stop();
    });

    test(
      "Add Cluster while the cluster is down, select it: the views say why (refused) with Retry, Edit Cluster and Select Cluster; Retry connects; Start, Show Journal, Show Unit Status and Open Shell on the unit's machine",
      { timeout: 150_000 },
      async () => {
        const started = Date.now();
        const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1)} s]`;
        await withWorkbench(cs!, 'remote', { folder: workspace, waitForFile: UNIT }, async (wb: Workbench) => {
          const ui = new ClusterWorkbench(wb);
          const shot = async (name: string) => console.log(`${elapsed()} screenshot: ${await wb.screenshot(`remote-${name}`)}`);
          await wb.quickOpen(UNIT);
          await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
          await ui.pickCommand('Fleet: Focus on Units View');
          await ui.expandView('Machines');
          await ui.expandView('Units');

          await ui.waitForWelcome('Machines', /^Not connected to a fleet cluster\./);

          // Add Cluster while the cluster is down: the test fails with the reason; "Save anyway".
          const etcdUrl = `http://127.0.0.1:${etcdPorts[0]}`;
          await ui.pickCommand('Fleet: Add Cluster');
          await ui.answerInputBox('Fleet: Add Cluster (1/7)', 'article');
          await ui.pickQuickItem('Fleet: Add Cluster (2/7)', "The cluster's etcd");
          assert.equal(await ui.answerInputBox('Fleet: Add Cluster (3/7)', etcdUrl), 'http://127.0.0.1:2379', "etcd's default URL is offered");
          await ui.answerInputBox('Fleet: Add Cluster (4/7)', `${hosts!.user}@${hosts!.bastion.address}:${hosts!.port}`);
          assert.equal(await ui.answerInputBox('Fleet: Add Cluster (5/7)'), hosts!.user, 'the user split out of user@host:port is the default');
          await ui.pickQuickItem('Fleet: Add Cluster (6/7)', 'ssh-agent');
          await ui.pickQuickItem('Fleet: Add Cluster (7/7)', 'another known_hosts file');
          await ui.answerInputBox('Fleet: Add Cluster (7/7)', knownHosts);
          await ui.clickNotificationButton(/The connection test for "article" failed: .*connection refused/, 'Save anyway', TIMEOUT);
          const settingsFile = path.join(cs!.userDataDir, 'User', 'settings.json');
          const saved = await waitFor(
            'the profile in the user settings',
            () => {
              const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as { 'fleet.clusters'?: unknown[] };
              return settings['fleet.clusters']?.[0];
            },
            { timeoutMs: TIMEOUT },
          );
          assert.deepEqual(saved, {
            name: 'article',
            endpoint: etcdUrl,
            driver: 'etcd',
            tunnel: `${hosts!.bastion.address}:${hosts!.port}`,
            sshUser: hosts!.user,
            knownHostsFile: knownHosts,
          });
          await ui.waitForStatus(/Fleet: no cluster/);
          await ui.waitForWelcome('Machines', /^Not connected to a fleet cluster\./);
          await shot('1-added');
          console.log(`${elapsed()} added the profile without switching to it`);

          // Select it: the cluster is down (through the bastion, nothing listens at etcd's address).
          // (The settings file is written before the extension host hears of it: until then the list lacks it.)
          await waitFor(
            '"article" picked in Fleet: Select Cluster',
            async () => {
              await ui.pickCommand('Fleet: Select Cluster');
              const row = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: 'article' }).first();
              if (
                await row.waitFor({ timeout: 2_000 }).then(
                  () => true,
                  () => false,
                )
              ) {
                await ui.pickQuickItem('Fleet: Select Cluster', 'article');
                return true;
              }
              await wb.page.keyboard.press('Escape');
              await wb.page.locator('.quick-input-widget').first().waitFor({ state: 'hidden' });
              return false;
            },
            { timeoutMs: TIMEOUT, intervalMs: 250 },
          );
          // The Units view says why and what to check; the small Machines view its headline and Retry,
          // all of it in sight.
          await ui.waitForWelcome('Units', /^Cannot connect to the cluster: connection refused\. Nothing listens at the cluster's endpoint/, TIMEOUT);
          assert.deepEqual(await ui.welcomeButtons('Units'), ['Retry', 'Edit Cluster', 'Select Cluster'], "Units: the welcome's buttons");
          await ui.waitForWelcome('Machines', /^Cannot connect to the cluster: connection refused\.\s*Retry$/, TIMEOUT);
          assert.deepEqual(await ui.welcomeButtons('Machines'), ['Retry'], "Machines: the welcome's button");
          const machinesPane = await ui.paneLayout('Machines');
          assert.ok((await ui.welcomeHeight('Machines')) <= machinesPane.body, `the Machines view's welcome fits in its ${machinesPane.body} px`);
          for (const view of ['Units', 'Machines']) assert.deepEqual(await ui.treeRows(view), [], `${view}: no tree rows, only the message`);
          await ui.waitForStatus(/Fleet: article unreachable/);
          await shot('2-refused');
          // Edit Cluster opens the wizard on the active profile (Escape leaves it as it was).
          await ui.clickWelcomeButton('Units', 'Edit Cluster');
          assert.equal(
            await wb.page
              .locator('.quick-input-widget .quick-input-title')
              .filter({ hasText: 'Fleet: Edit Cluster article (1/7)' })
              .first()
              .waitFor()
              .then(() => (wb.page.locator('.quick-input-widget input').first() as unknown as { inputValue(): Promise<string> }).inputValue()),
            'article',
          );
          await wb.page.keyboard.press('Escape');
          await wb.page.locator('.quick-input-widget').first().waitFor({ state: 'hidden' });
          console.log(`${elapsed()} the views show the reason`);

          // The cluster comes up; Retry (not the 60 s backoff) connects.
          etcd = await EtcdServer.start({ clientPort: etcdPorts[0]!, peerPort: etcdPorts[1]! });
          cluster = await FleetdLocal.start(['--machines', '2', '--etcd', etcd.url, '--etcd-api', 'v2', '--agent-reconcile-interval', '1']);
          await waitFor(
            'both machines registered in etcd',
            async () => {
              const res = await fetch(`${etcd!.url}/v2/keys/_coreos.com/fleet/machines?recursive=true`).catch(() => undefined);
              const body = res?.ok ? ((await res.json()) as { node?: { nodes?: unknown[] } }) : undefined;
              return (body?.node?.nodes?.length ?? 0) === 2;
            },
            { timeoutMs: TIMEOUT, intervalMs: 250 },
          );
          console.log(`${elapsed()} etcd and fleetd are up`);
          await ui.clickWelcomeButton('Units', 'Retry');
          const machines = await ui.waitForRows('Machines', 'the two machines, read through the bastion', rows => rows.length === 2, 20_000);
          assert.deepEqual(machines.map(r => r.label.split(' ')[1]).sort(), ['127.0.0.2', '127.0.0.3']);
          assert.equal(await ui.welcomeText('Units'), '', 'the reason is gone');
          await ui.waitForStatus(/Fleet: article \(2\/0\)/);
          console.log(`${elapsed()} connected after Retry`);

          // Start the unit from its editor: the etcd driver writes fleet's keys, fleetd runs it.
          await wb.quickOpen(UNIT);
          await ui.editorTitleAction('Start Unit');
          const launched = await ui.waitForNotification(/hello\.service launched on/, TIMEOUT);
          const ip = /\/(127\.0\.0\.\d+)/.exec(launched)?.[1];
          const host: FleetHost | undefined = hosts!.machines.find(h => h.address === ip);
          assert.ok(host, `the unit runs on one of the test machines: ${launched}`);
          await ui.waitForRows('Units', 'hello.service launched', rows => rows.some(r => r.label === UNIT && r.description.startsWith('launched')), TIMEOUT);
          await ui.clearNotifications();

          // Show Journal: journalctl on the unit's machine, through the bastion, into the unit's output channel.
          await wb.quickOpen(UNIT);
          await wb.runCommand('Fleet: Show Journal');
          await ui.waitForOutputText(`Hello from ${host.name}`, new RegExp(`hello\\[42\\]: Hello from ${host.name}`), TIMEOUT);
          assert.equal(host.sessions().at(-1)?.command, 'journalctl "--unit" "hello.service" "--no-pager" "-n" "50" "--output" "short" "-f"');
          await shot('3-journal');

          // Show Unit Status: fleetctl status's systemctl line on the machine, above the registry's view.
          await wb.quickOpen(UNIT);
          await wb.runCommand('Fleet: Show Unit Status');
          await wb.waitForEditorText(
            'the unit status from its machine',
            t => t.includes(`Active: active (running) on ${host.name}`) && t.includes('systemctl "status" "-l" "hello.service"'),
            TIMEOUT,
          );
          assert.ok(
            host.argv().some(l => l.startsWith('systemctl <status> <-l> <hello.service>')),
            host.argv().join('\n'),
          );
          await shot('4-status');

          // Open Shell on Machine (palette: pick the machine): keystrokes reach a shell on that machine.
          const shells = host.sessions().filter(s => s.command === '').length;
          await ui.pickCommand('Fleet: Open Shell on Machine');
          const row = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: host.address }).first() as unknown as {
            waitFor(): Promise<void>;
            click(): Promise<void>;
          };
          await row.waitFor();
          await row.click();
          await wb.page
            .locator('.part.panel .terminal-tabs-entry, .part.panel .single-terminal-tab')
            .filter({ hasText: `fleet: machine` })
            .first()
            .waitFor({ timeout: TIMEOUT });
          await waitFor(
            'an interactive session with a pty on the machine',
            () => host.sessions().filter(s => s.command === '' && s.tty !== 'none').length > shells,
            { timeoutMs: TIMEOUT },
          );
          const proof = path.join(host.dir, 'shell-proof');
          await wb.page.locator('.part.panel .terminal-wrapper.active .xterm, .part.panel .xterm').first().click();
          await wb.page.keyboard.type(`echo "$((6*7))" > '${proof}'; exit`);
          await wb.page.keyboard.press('Enter');
          await waitFor('the shell on the machine ran what was typed', () => fs.existsSync(proof) && fs.readFileSync(proof, 'utf8') === '42\n', {
            timeoutMs: TIMEOUT,
          });
          await shot('5-shell');
          console.log(`${elapsed()} done`);
        });
        // The window is gone with code-server: the journal's remote journalctl goes with the SSH connection.
        await cs!.stop();
        cs = undefined;
        for (const h of hosts!.machines) await waitFor(`no journalctl left on ${h.name}`, () => h.runningJournalctl().length === 0, { timeoutMs: 15_000 });
      },
    );
  },
);
