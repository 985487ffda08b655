/**
 * The cluster workflow in a real VS Code (code-server + Debian chromium), as a user runs it:
 * "Fleet: Start Local Cluster" from the command palette (3 machines, default metadata), open
 * nginx.1-3.service from the samples and start each from its editor's title button, see three
 * machines and three running units on three different machines in the Fleet explorer, stop one
 * from its context menu and see it turn loaded/inactive, then "Fleet: Stop Local Cluster" and
 * check that no fleetd process of the extension is left. Every state the explorer shows is
 * cross-checked against fleet's v1 API of the cluster (the URL fleetd printed in its log).
 * The first hour of issue 13 on screen too: the editor's title actions (Start, Stop, Replace,
 * Show Status, a Fleet menu), Start asking first for a fourth nginx no machine can take, the
 * sidekick following nginx.1, its journal (each line once, then new ones), and a restart of the
 * local cluster; the Machines view's height against its rows; the context menu of several units
 * selected together (only what applies to all) and Stop on two units at once; a unit that keeps
 * failing: Start says so, its row shows it, and its one action opens its journal; a template's
 * instances made from the palette with a range; a unit no machine can take, started anyway: the
 * engine's reason at once, with one action, and the question at warn level in the "Fleet" log;
 * Replace (identical: no diff; changed: the diff beside the confirmation, closed once replaced);
 * Show Unit File's tab naming the cluster; Start Units Matching's preview. Screenshots:
 * out/e2e-artifacts/cluster-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, EXTENSION_ID, ROOT, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { withWorkbench, type Workbench } from './workbench';
import { ClusterWorkbench, installedExtensionDir, processesMatching, readCluster, readyUrl, type ClusterView, type TreeRow } from './clusterWorkbench';
import { httpGet } from '../support/fleetHttp';
import { freePorts } from '../support/ports';
import { stopProcessGroup, tail, waitFor } from '../support/process';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };
const UNITS = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service'] as const;
/** The unit stopped from the explorer's context menu. */
const STOPPED = 'nginx.2.service';
/** The article's sidekick: MachineOf=nginx.1.service, announces it every 5 s (its journal). */
const SIDEKICK = 'nginx-discovery.1.service';
/** A fourth web server (written into the workspace copy): Conflicts=nginx.*.service leaves it no machine. */
const FOURTH = 'nginx.4.service';
/** A unit that exits at once and is restarted (written into the workspace copy), like nginx on a taken port. */
const CRASHING = 'crashing.service';
const CRASHING_TEXT = `[Unit]
Description=Exits at once, as nginx does on a port that is taken

[Service]
ExecStart=/bin/sh -c 'echo "bind() to 127.0.0.1:8081 failed (98: Address already in use)" >&2; exit 1'
Restart=always
RestartSec=2
`;
/** A unit only a machine on the moon can take (written into the workspace copy): the engine's reason comes at once. */
const MOON = 'moon.service';
const MOON_TEXT = `[Unit]
Description=Wants a machine on the moon

[Service]
ExecStart=/bin/sleep 600

[X-Fleet]
MachineMetadata=region=moon
`;
/** The samples' template unit (web@.service). */
const TEMPLATE = 'web@.service';
/** Cluster start, unit start and API waits (fleetd's agents reconcile every second or so). */
const CLUSTER_TIMEOUT = 60_000;

/** The 8-character machine prefix the explorer shows for a machine ID. */
const short = (id: string) => id.slice(0, 8);

describe('the local cluster workflow in a real VS Code', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let workspace = '';
  let extensionDir = '';
  let fleetdScript = '';
  /** The HTTP port each nginx stand-in serves in the workspace copy. */
  const ports = new Map<string, number>();

  before(
    async () => {
      assertE2eAvailable(needs);
      cs = await CodeServer.start({
        vsix: [VSIX],
        // Flat, by name: the rows of the Units view are the three units, in order.
        settings: { 'git.enabled': false, 'remote.autoForwardPorts': false, 'fleet.explorer.groupBy': 'flat', 'fleet.explorer.sortBy': 'name' },
      });
      workspace = path.join(cs.dir, 'samples');
      fs.cpSync(path.join(ROOT, 'samples'), workspace, { recursive: true });
      // The samples serve fixed ports (8081-8083); the copy serves free ones instead, so the test
      // does not collide with anything else on this machine, and can check that the units serve.
      const free = await freePorts(UNITS.length);
      UNITS.forEach((unit, i) => {
        const file = path.join(workspace, unit);
        const text = fs.readFileSync(file, 'utf8');
        assert.match(text, /http\.server \d+ /, `${unit} serves a port with python's http.server`);
        fs.writeFileSync(file, text.replace(/http\.server \d+ /, `http.server ${free[i]} `));
        ports.set(unit, free[i]!);
      });
      fs.writeFileSync(path.join(workspace, CRASHING), CRASHING_TEXT);
      fs.writeFileSync(path.join(workspace, MOON), MOON_TEXT);
      fs.writeFileSync(path.join(workspace, FOURTH), fs.readFileSync(path.join(workspace, UNITS[2]), 'utf8').replace(/Web server 3/g, 'Web server 4'));
      extensionDir = installedExtensionDir(cs.extensionsDir, EXTENSION_ID);
      fleetdScript = path.join(extensionDir, 'dist', 'fleetd.js');
      assert.ok(fs.existsSync(fleetdScript), `the package bundles fleetd at ${fleetdScript}`);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    // The extension starts fleetd in its own process group, so stopping code-server does not
    // stop it: if the test failed before "Stop Local Cluster", stop what the extension started.
    if (fleetdScript) for (const p of processesMatching(fleetdScript)) await stopProcessGroup(p.pgid, { timeoutMs: 5_000 }).catch(() => undefined);
    await cs?.stop();
  });

  test(
    'start the cluster, start three units and the sidekick, follow its journal, stop one from the explorer, stop and restart the cluster',
    { timeout: 300_000 },
    async () => {
      const started = Date.now();
      const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1)} s]`;
      const fleetdLog = path.join(cs!.userDataDir, 'User', 'globalStorage', EXTENSION_ID, 'local-cluster', 'fleetd.log');
      await withWorkbench(cs!, 'cluster', { folder: workspace, waitForFile: 'nginx.1.service' }, async (wb: Workbench) => {
        const ui = new ClusterWorkbench(wb);
        const shot = async (name: string) => console.log(`${elapsed()} screenshot: ${await wb.screenshot(`cluster-${name}`)}`);
        // Activate the extension: a unit file in the editor (onLanguage:fleet-unit).
        await wb.quickOpen(UNITS[0]);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        // The extension is active once its status bar item is there; no cluster is configured yet.
        await ui.waitForStatus(/Fleet: no cluster/, CLUSTER_TIMEOUT);
        // The editor's title: Start, Stop, Replace and Show Status as buttons, the rest under Fleet.
        const titleActions = await ui.editorTitleActions();
        for (const action of ['Start Unit', 'Stop Unit', 'Replace Unit…', 'Show Unit Status', 'Fleet']) {
          assert.ok(
            titleActions.some(a => a === action || a.startsWith(`${action} (`)),
            `the editor title offers ${action}: ${titleActions.join(' | ')}`,
          );
        }
        await shot('0-editor');
        // Not connected yet: the small Machines view says so in one line with Select Cluster (its
        // welcome fits in it), the Units view, with the room, offers the ways in.
        await ui.pickCommand('Fleet: Focus on Units View');
        await ui.expandView('Machines');
        await ui.expandView('Units');
        await ui.waitForWelcome('Machines', /^Not connected to a fleet cluster\./);
        assert.deepEqual(await ui.welcomeButtons('Machines'), ['Select Cluster']);
        await ui.waitForWelcome(
          'Units',
          /^Units appear here once a cluster is connected\.[\s\S]*No cluster yet\? Run one on this machine:[\s\S]*New to fleet\?/,
        );
        assert.deepEqual(await ui.welcomeButtons('Units'), ['Add Cluster', 'Start Local Cluster']);
        const welcomePane = await ui.paneLayout('Machines');
        const welcomeHeight = await ui.welcomeHeight('Machines');
        assert.ok(welcomeHeight <= welcomePane.body, `the Machines view's welcome (${welcomeHeight} px) fits in its pane (${welcomePane.body} px)`);
        await shot('0-not-connected');

        // 1. Fleet: Start Local Cluster, answering its two inputs: 3 machines, default metadata.
        await ui.pickCommand('Fleet: Start Local Cluster');
        const defaultMachines = await ui.answerInputBox('Fleet: Start Local Cluster (1/2)', '3');
        assert.match(defaultMachines, /^\d+$/, 'the machines input offers a number');
        const metadata = await ui.answerInputBox('Fleet: Start Local Cluster (2/2)');
        // The local cluster's API is a unix socket only this user can use (issue 12).
        const ready = await ui.waitForNotification(/Local fleet cluster running at unix:\/\/\/\S+\/fleet\.sock with 3 machines/, CLUSTER_TIMEOUT);
        await ui.waitForStatus(/Fleet: Local cluster \(3\/0\)/);
        const url = /running at (unix:\/\/\/\S+\/fleet\.sock)/.exec(ready)![1]!;
        // fleetd printed the same URL (its log is in the extension's global storage).
        assert.equal(readyUrl(fs.readFileSync(fleetdLog, 'utf8')), url, `fleetd's log names the URL; log:\n${tail(fleetdLog)}`);
        const fleetd = processesMatching(fleetdScript);
        assert.ok(fleetd.length >= 1, 'a fleetd process of the installed extension runs');
        assert.ok(
          fleetd.some(p => / local /.test(` ${p.cmdline} `) && p.cmdline.includes('--machines 3')),
          `fleetd runs "local --machines 3": ${fleetd.map(p => p.cmdline).join('\n')}`,
        );

        // The explorer shows the cluster: three machines, with the default metadata.
        await ui.expandView('Machines');
        await ui.expandView('Units');
        const width = await ui.widenSideBar(640);
        if (width < 600) console.log(`note: the side bar is ${width} px wide; the screenshots may cut the rows' descriptions`);
        const api0 = await waitFor(
          'three machines in the API',
          async () => {
            const c = await readCluster(url);
            return c.machines.length === 3 && c;
          },
          { timeoutMs: CLUSTER_TIMEOUT, intervalMs: 200 },
        );
        const machineIds = api0.machines.map(m => m.id);
        const machineRows = await ui.waitForRows(
          'Machines',
          'the three machines of the API',
          rows => rows.length === 3 && machineIds.every(id => rows.some(r => r.label.startsWith(short(id)))),
        );
        for (const m of api0.machines) {
          const row = machineRows.find(r => r.label.startsWith(short(m.id)))!;
          assert.equal(row.label, `${short(m.id)}${m.primaryIP ? ` ${m.primaryIP}` : ''}`, 'a machine row: its ID prefix and IP');
          const meta = Object.entries(m.metadata ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          assert.equal(row.description, meta, `machine ${short(m.id)}'s row shows its metadata`);
        }
        if (metadata.trim()) {
          // The default metadata went to fleetd, one entry per machine.
          const offered = metadata
            .split(';')
            .map(s => s.trim())
            .filter(Boolean);
          const got = api0.machines.map(m =>
            Object.entries(m.metadata ?? {})
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          );
          for (const entry of offered) {
            const pairs = entry
              .split(',')
              .map(s => s.trim())
              .sort()
              .join(',');
            assert.ok(got.includes(pairs), `a machine has the metadata ${pairs}; the machines have: ${got.join(' | ')}`);
          }
        }
        // "Fleet: Show Local Cluster Logs" shows fleetd's output, with the URL it printed.
        await ui.pickCommand('Fleet: Show Local Cluster Logs');
        await ui.waitForOutputText('starting:', /starting: \S+ \S+\/dist\/fleetd\.js local --machines 3/);
        await ui.waitForOutputText('API ready at', new RegExp(`fleetd: API ready at ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        await shot('1-started');
        await wb.page.keyboard.press('Control+J'); // hide the panel again
        assert.match(await ui.statusItem().innerText(), /Fleet: Local cluster \(3\/0\)/, 'the status bar shows the local cluster: 3 machines, no units');

        // 2. Open each sample and start it from its editor's title button.
        for (const unit of UNITS) {
          await wb.quickOpen(unit);
          await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
          await ui.editorTitleAction('Start Unit');
          await ui.waitForNotification(new RegExp(`${unit.replace(/\./g, '\\.')}.*(launched|started)`, 'i'), CLUSTER_TIMEOUT);
          console.log(`${elapsed()} ${unit} started from its editor`);
        }
        // Running, per fleet: desired and current launched, active/running, three different machines.
        const running = await waitFor(
          'three nginx units active/running on three machines (API)',
          async () => {
            const c = await readCluster(url);
            const ok = UNITS.every(name => {
              const u = c.units.find(x => x.name === name);
              const s = c.states.find(x => x.name === name);
              return u?.desiredState === 'launched' && u.currentState === 'launched' && s?.systemdActiveState === 'active' && s.systemdSubState === 'running';
            });
            return ok && c;
          },
          { timeoutMs: CLUSTER_TIMEOUT, intervalMs: 250 },
        );
        const placement = new Map(UNITS.map(name => [name, running.units.find(u => u.name === name)!.machineID!]));
        assert.equal(new Set(placement.values()).size, 3, `Conflicts=nginx.*.service puts each on its own machine: ${[...placement].join(', ')}`);
        for (const id of placement.values()) assert.ok(machineIds.includes(id), `placed on a machine of the cluster: ${id}`);

        const unitRows = await ui.waitForRows(
          'Units',
          'the three units launched and active (running) on their machines',
          rows =>
            UNITS.every(name => {
              const row = rowFor(rows, name);
              return (
                !!row &&
                row.description.startsWith('launched · ') &&
                row.description.endsWith(' · active (running)') &&
                row.description.includes(short(placement.get(name)!))
              );
            }),
          CLUSTER_TIMEOUT,
        );
        assertRowsMatchApi(unitRows, running);
        await ui.waitForStatus(/Fleet: Local cluster \(3\/3\)/);
        // Under its machine in the Machines view, a unit's description does not repeat the machine.
        const host = placement.get(UNITS[0])!;
        await ui.expandTreeRow('Machines', short(host));
        const hostRows = await ui.waitForRows('Machines', `${UNITS[0]} under machine ${short(host)}`, rows => !!rowFor(rows, UNITS[0]));
        assert.equal(rowFor(hostRows, UNITS[0])!.description, 'launched · active (running)', `${UNITS[0]} under its machine`);
        for (const other of UNITS.slice(1)) assert.equal(rowFor(hostRows, other), undefined, `${other} runs elsewhere, not under ${short(host)}`);
        // The Machines view sizes to its rows as far as VS Code lets an extension (no API sizes a
        // view): it starts at VS Code's least height, a 120 px body, which three machines and a unit
        // mostly fill, and the Units view has the rest of the side bar.
        const machinesPane = await ui.paneLayout('Machines');
        const unitsPane = await ui.paneLayout('Units');
        console.log(`${elapsed()} Machines pane ${JSON.stringify(machinesPane)}, Units pane ${JSON.stringify(unitsPane)}`);
        assert.equal(machinesPane.rows, 4, 'three machines and the unit under the expanded one');
        assert.ok(machinesPane.body <= 130, `the Machines pane starts at VS Code's least body height (120 px): ${machinesPane.body} px`);
        assert.ok(machinesPane.rowsHeight >= machinesPane.body * 0.6, `its rows fill most of it: ${machinesPane.rowsHeight} of ${machinesPane.body} px`);
        assert.ok(unitsPane.body >= 4 * machinesPane.body, `the Units pane has the room: ${unitsPane.body} px`);
        // And they really run: each serves HTTP on its port.
        for (const unit of UNITS)
          await waitFor(`${unit} to answer HTTP on port ${ports.get(unit)}`, () => serves(ports.get(unit)!), { timeoutMs: 20_000, intervalMs: 250 });
        await ui.clearNotifications();
        await shot('2-running');

        // 2a. A fourth nginx: Start asks first, with the scheduler's reason; cancelled, nothing is written.
        await wb.quickOpen(FOURTH);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        await ui.editorTitleAction('Start Unit');
        const question = await ui.waitForDialog(/No machine of the local cluster can take nginx\.4\.service now/);
        assert.match(question, /conflicts with nginx\.1\.service, nginx\.2\.service, nginx\.3\.service on every machine\. Start it anyway\?/);
        await shot('2a-asks-first');
        await ui.answerDialog('Cancel');
        assert.equal(
          (await readCluster(url)).units.some(u => u.name === FOURTH),
          false,
          `${FOURTH} was not submitted`,
        );
        // The code lens says the same, from the scheduler's preview over the units in the cluster.
        const lens4 = wb.activeEditor.locator('.codelens-decoration').filter({ hasText: 'no machine can take it now' }).first();
        await lens4.waitFor({ timeout: 30_000 });
        assert.match(
          await lens4.innerText(),
          /no machine can take it now: conflicts with nginx\.1\.service, nginx\.2\.service, nginx\.3\.service on every machine/,
        );

        // 2b. Fleet: Filter Units… narrows the view (the view's title says so); a bad term is refused
        // as it is typed; Fleet: Clear Units Filter shows every unit again.
        await ui.pickCommand('Fleet: Filter Units…');
        await ui.page.locator('.quick-input-widget .quick-input-title').filter({ hasText: 'Fleet: Filter Units' }).first().waitFor();
        await ui.page.locator('.quick-input-widget input').first().fill('state:nope');
        const refusal = ui.page.locator('.quick-input-widget .quick-input-message').filter({ hasText: 'unknown state "nope" in the filter' }).first();
        await refusal.waitFor();
        await ui.page.locator('.quick-input-widget input').first().fill('nginx.2 state:launched');
        await refusal.waitFor({ state: 'hidden' });
        await ui.answerInputBox('Fleet: Filter Units');
        await ui.waitForRows('Units', 'only nginx.2.service (filter "nginx.2 state:launched")', rows => rows.length === 1 && !!rowFor(rows, STOPPED));
        const description = ui.viewPane('Units').locator('.pane-header .description').first();
        await waitFor(
          'the Units view to describe its filter',
          async () => (await description.innerText()).trim() === 'filter: nginx.2 state:launched · 1 of 3',
          { timeoutMs: 10_000, intervalMs: 100 },
        );
        await shot('2b-filtered');
        await ui.pickCommand('Fleet: Clear Units Filter');
        await ui.waitForRows('Units', 'all three units again once the filter is cleared', rows => UNITS.every(n => rowFor(rows, n)));
        assert.equal((await description.innerText().catch(() => '')).trim(), '', 'no description without a filter (3 units: no automatic grouping)');

        // 3. Stop one from its context menu in the Units view.
        const menu = await ui.contextMenuItems('Units', STOPPED);
        assert.ok(menu.includes('Stop Unit'), `the context menu of a launched unit offers Stop Unit: ${menu.join(', ')}`);
        assert.ok(!menu.includes('Start Unit'), `a launched unit is not offered Start Unit: ${menu.join(', ')}`);
        await ui.stopFromContextMenu('Units', STOPPED, url, message => console.log(`${elapsed()} ${message}`));
        await ui.waitForNotification(new RegExp(`${STOPPED.replace(/\./g, '\\.')}`), CLUSTER_TIMEOUT);
        const afterStop = await waitFor(
          `${STOPPED} loaded and inactive (API)`,
          async () => {
            const c = await readCluster(url);
            const u = c.units.find(x => x.name === STOPPED);
            const s = c.states.find(x => x.name === STOPPED);
            return u?.desiredState === 'loaded' && u.currentState === 'loaded' && s?.systemdActiveState === 'inactive' && c;
          },
          { timeoutMs: CLUSTER_TIMEOUT, intervalMs: 250 },
        );
        const stoppedRows = await ui.waitForRows(
          'Units',
          `${STOPPED} loaded and inactive, the others still running`,
          rows => {
            const row = rowFor(rows, STOPPED);
            return (
              !!row &&
              row.description.startsWith('loaded · ') &&
              / · inactive( \(dead\))?$/.test(row.description) &&
              UNITS.filter(n => n !== STOPPED).every(n => rowFor(rows, n)?.description.endsWith(' · active (running)'))
            );
          },
          CLUSTER_TIMEOUT,
        );
        assertRowsMatchApi(stoppedRows, afterStop);
        await waitFor(`${STOPPED} to stop serving port ${ports.get(STOPPED)}`, async () => !(await serves(ports.get(STOPPED)!)), {
          timeoutMs: 20_000,
          intervalMs: 250,
        });
        for (const unit of UNITS.filter(n => n !== STOPPED)) assert.ok(await serves(ports.get(unit)!), `${unit} still serves port ${ports.get(unit)}`);
        // It stays on its machine (stop keeps the unit loaded where it was).
        assert.equal(afterStop.units.find(u => u.name === STOPPED)?.machineID, placement.get(STOPPED));
        const menuAfter = await ui.contextMenuItems('Units', STOPPED);
        assert.ok(menuAfter.includes('Start Unit') && !menuAfter.includes('Stop Unit'), `a loaded unit is offered Start, not Stop: ${menuAfter.join(', ')}`);
        await ui.clearNotifications();
        await shot('3-stopped');

        // 3b. The sidekick follows nginx.1 to its machine; its journal shows each line once, then new ones.
        await wb.quickOpen(SIDEKICK);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        // Before it starts, its code lens names the machine it must follow.
        const follows = wb.activeEditor.locator('.codelens-decoration').filter({ hasText: 'follows nginx.1.service to' }).first();
        await follows.waitFor({ timeout: 30_000 });
        assert.match(await follows.innerText(), new RegExp(`follows nginx\\.1\\.service to ${short(placement.get(UNITS[0])!)} \\(127\\.0\\.0\\.\\d+\\)`));
        await ui.editorTitleAction('Start Unit');
        await ui.waitForNotification(/nginx-discovery\.1\.service.*launched/, CLUSTER_TIMEOUT);
        const withSidekick = await readCluster(url);
        assert.equal(withSidekick.units.find(u => u.name === SIDEKICK)?.machineID, placement.get(UNITS[0]), `${SIDEKICK} runs next to ${UNITS[0]}`);
        await ui.waitForRows(
          'Units',
          `${SIDEKICK} launched on nginx.1's machine`,
          rows => !!rowFor(rows, SIDEKICK)?.description.includes(short(placement.get(UNITS[0])!)),
          CLUSTER_TIMEOUT,
        );
        await ui.clearNotifications();
        await shot('3b-sidekick');
        await ui.pickCommand('Fleet: Show Journal');
        const announced = async () => (await ui.outputLines()).filter(l => / is up on \S+ at port 8081$/.test(l));
        const backlog = await waitFor(
          `${SIDEKICK}'s journal in the Output panel`,
          async () => {
            const lines = await announced();
            return lines.length > 0 && lines;
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        // The sidekick announces every 5 s: a new line follows the backlog.
        const followed = await waitFor(
          'a new journal line after the backlog',
          async () => {
            const lines = await announced();
            return lines.length > backlog.length && lines;
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        assert.equal(new Set(followed).size, followed.length, `each journal line once:\n${followed.join('\n')}`);
        await shot('3c-journal');
        await ui.clearNotifications();

        // 3d. Several units selected (click, then Ctrl+click): the context menu offers only the
        // actions that apply to every one of them and act on many; Stop stops each.
        const launchedAndLoaded = await ui.contextMenuItems('Units', [UNITS[2], STOPPED]);
        assert.deepEqual(
          launchedAndLoaded.sort(),
          ['Destroy Unit', 'Show Journal', 'Show Unit File', 'Show Unit Status', 'Unload Unit'],
          'a launched and a loaded unit: neither Start nor Stop, nor the one-unit actions',
        );
        const twoLaunched = await ui.contextMenuItems('Units', [UNITS[0], UNITS[2]], () => shot('3d-selection-menu'));
        assert.deepEqual(
          twoLaunched.sort(),
          ['Destroy Unit', 'Show Journal', 'Show Unit File', 'Show Unit Status', 'Stop Unit', 'Unload Unit'],
          'two launched units: Stop, and no Replace, Copy Machine ID or Open Shell',
        );
        const oneLaunched = await ui.contextMenuItems('Units', UNITS[0]);
        for (const single of ['Replace Unit…', 'Copy Machine ID', 'Open Shell on Machine'])
          assert.ok(oneLaunched.includes(single), `one unit selected again: ${single} is back: ${oneLaunched.join(', ')}`);
        await ui.stopFromContextMenu('Units', [UNITS[0], UNITS[2]], url, message => console.log(`${elapsed()} ${message}`));
        await ui.waitForNotification(/2 units done: (?=.*nginx\.1\.service stopped on )(?=.*nginx\.3\.service stopped on )/, CLUSTER_TIMEOUT);
        await ui.waitForRows(
          'Units',
          `${UNITS[0]} and ${UNITS[2]} loaded and inactive`,
          rows =>
            [UNITS[0], UNITS[2]].every(name => {
              const description = rowFor(rows, name)?.description ?? '';
              return description.startsWith('loaded · ') && / · inactive( \(dead\))?$/.test(description);
            }),
          CLUSTER_TIMEOUT,
        );
        await shot('3e-selection-stopped');

        // 3f. A unit that keeps failing looks failing: Start says so instead of "launched", and its
        // row has a warning icon, the last exit status and the restart count.
        await wb.quickOpen(CRASHING);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        await ui.editorTitleAction('Start Unit');
        const failing = await ui.waitForNotification(/crashing\.service (started, but it keeps failing|failed|launched)/, CLUSTER_TIMEOUT);
        assert.match(failing, /^Unit crashing\.service started, but it keeps failing on \w{8}\.\.\.: .*status=1.*; see Fleet: Show Journal\./);
        const crashRows = await ui.waitForRows(
          'Units',
          `${CRASHING} restarting, with its exit status and restart count`,
          rows =>
            /^launched · \w{8}\.\.\.\/127\.0\.0\.\d+ · activating \(auto-restart\) · exit 1, restarted \d+×$/.test(rowFor(rows, CRASHING)?.description ?? ''),
          CLUSTER_TIMEOUT,
        );
        assert.ok(crashRows, 'the row says it keeps restarting');
        await ui.treeRow('Units', CRASHING).locator('.codicon-debug-restart').first().waitFor();
        await shot('3f-keeps-failing');
        // Its one action is the unit's journal, where the reason is.
        await ui.clickNotificationButton(/crashing\.service started, but it keeps failing/, 'Show Journal');
        await waitFor(
          `${CRASHING}'s journal with the reason it exits`,
          // The panel wraps long lines: search the text without its spaces and line breaks.
          async () => (await ui.outputLines()).join('').replace(/\s+/g, '').includes('failed(98:Addressalreadyinuse)'),
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        await shot('3g-failing-journal');

        // 3h. Templates: from the palette (a unit that is not a template in the editor),
        // Create Template Instances offers the workspace's template, and its input takes names and
        // ranges (1..2,7), not a count; Start runs the three instances, one per machine
        // (Conflicts=web@*.service). A template's own editor and code lens offer Create Instances,
        // not Start, and no placement (its instances take every machine, yet that is no problem).
        await ui.pickCommand('Fleet: Create Template Instances');
        await ui.pickQuickItem('Fleet: Create Template Instances', TEMPLATE);
        await ui.answerInputBox(`Fleet: Create Instances of ${TEMPLATE}`, '1..2,7');
        await ui.pickQuickItem('3 instances: web@1.service, web@2.service, web@7.service', 'submit, load and launch each instance');
        await ui.waitForNotification(/3 units done: web@1\.service launched on .*web@2\.service launched on .*web@7\.service launched on /, CLUSTER_TIMEOUT);
        const instances = ['web@1.service', 'web@2.service', 'web@7.service'];
        const withInstances = await readCluster(url);
        const hosts = instances.map(name => withInstances.units.find(u => u.name === name)?.machineID);
        assert.equal(new Set(hosts).size, 3, `one instance per machine: ${hosts.join(', ')}`);
        await ui.waitForRows(
          'Units',
          'the three instances launched',
          rows => instances.every(name => rowFor(rows, name)?.description.startsWith('launched · ')),
          CLUSTER_TIMEOUT,
        );
        await wb.quickOpen(TEMPLATE);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        const templateTitle = await ui.editorTitleActions();
        assert.ok(
          templateTitle.some(a => a.startsWith('Create Template Instances…')),
          `a template's editor offers Create Template Instances: ${templateTitle.join(' | ')}`,
        );
        assert.ok(!templateTitle.some(a => a.startsWith('Start Unit')), `a template is not started: ${templateTitle.join(' | ')}`);
        // Its code lens says the same, with no placement preview: fleet schedules the instances.
        const templateLens = wb.activeEditor.locator('.codelens-decoration').first();
        await wb.activeEditor.locator('.codelens-decoration').filter({ hasText: 'Create Instances…' }).first().waitFor({ timeout: 30_000 });
        const templateLensText = await templateLens.innerText();
        assert.match(templateLensText, /template: fleet runs its instances\W+Create Instances…/);
        assert.doesNotMatch(templateLensText, /Start|machine/, 'no Start and no placement on a template');
        await shot('3h-template-instances');

        // 3i. A unit no machine can take (MachineMetadata=region=moon): Start asks first; started
        // anyway, it reports the engine's reason within a second or two (not after the deploy
        // timeout, 60 s), with its one action.
        // The journals followed since 3c and 3g stop (their progress toasts would stay on screen):
        // Cancel in the notification center, where a toast that waits its turn is shown too.
        await ui.pickCommand('Notifications: Show Notifications');
        for (const followed of [SIDEKICK, CRASHING]) {
          const item = ui.page
            .locator('.notifications-center .notification-list-item')
            .filter({ hasText: `Following the journal of ${followed}` })
            .first();
          await item.locator('.monaco-button').filter({ hasText: 'Cancel' }).first().click();
          await item.waitFor({ state: 'hidden' });
        }
        await ui.clearNotifications();
        await ui.page.keyboard.press('Escape'); // the center, if Clear All left it open
        console.log(`${elapsed()} journals stopped, notifications cleared`);
        await wb.quickOpen(MOON);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        await ui.editorTitleAction('Start Unit');
        const moonQuestion = await ui.waitForDialog(/No machine of the local cluster can take moon\.service now/);
        assert.match(moonQuestion, /region=moon.*Start it anyway\?/s);
        console.log(`${elapsed()} Start asked first`);
        const anyway = Date.now();
        await ui.answerDialog('Start Anyway');
        const moonToast = ui.notification(/moon\.service cannot be placed/);
        const moonText = await ui.waitForNotification(/moon\.service cannot be placed/, 15_000);
        const moonMs = Date.now() - anyway;
        await shot('3i-unplaceable-at-once');
        console.log(`${elapsed()} ${MOON}: the engine's reason on screen ${moonMs} ms after Start Anyway: ${moonText}`);
        assert.match(moonText, /^Unit moon\.service cannot be placed: .*region=moon/);
        assert.doesNotMatch(moonText, /timeoutSeconds/, 'no advice to wait longer');
        assert.ok(moonMs < 5_000, `the reason arrives at once, not after the deploy timeout: ${moonMs} ms`);
        assert.deepEqual(
          (await moonToast.locator('.monaco-button').allInnerTexts()).map(t => t.trim()).filter(Boolean),
          ['Show Machines'],
          'one action: the machines (the reason is their metadata)',
        );
        // The "Fleet" log has the question at warn level, one level per line (issue 13, item 10).
        await ui.pickCommand('Output: Show Output Channels');
        await ui.page
          .locator('.quick-input-widget .monaco-list-row .label-name')
          .filter({ hasText: /^Fleet$/ })
          .first()
          .click();
        await ui.waitForOutputText(
          'can take moon.service',
          /\[warning\] No machine of the local cluster can take moon\.service now: no machine has metadata region=moon/,
        );
        await shot('3i-fleet-log-warning');
        await ui.clearNotifications();

        // 3j. Replace Unit: an identical unit says so, with no diff tab; after a change, the diff
        // tab shows it, next to a notification (no modal dialog over it), and closes once replaced.
        // nginx.3.service is loaded (stopped in 3d): replacing it does not start it.
        const diffTab = ui.page.locator('.tabs-container .tab').filter({ hasText: /nginx\.3\.service: local cluster ↔ local file/ });
        await wb.quickOpen(UNITS[2]);
        await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
        await ui.editorTitleAction('Replace Unit');
        await ui.waitForNotification(
          /nginx\.3\.service: no differences between the local cluster and the local file \(as fleet stores it\); nothing to replace\./,
        );
        assert.equal(await diffTab.count(), 0, 'no diff tab for an identical unit');
        await shot('3j-replace-identical');
        await ui.clearNotifications();
        // Change its description in the editor (Go to Line 6, its end) and save.
        await wb.activeEditor.locator('.view-lines').click();
        await ui.page.keyboard.press('Control+G');
        await ui.page.keyboard.type('6');
        await ui.page.keyboard.press('Enter');
        await ui.page.keyboard.press('End');
        await ui.page.keyboard.type(' v2');
        await ui.page.keyboard.press('Escape');
        await ui.page.keyboard.press('Control+S');
        await waitFor(
          'the file to be saved with the change',
          () => fs.readFileSync(path.join(workspace, UNITS[2]), 'utf8').includes('Description=Web server 3 (nginx stand-in) v2\n'),
          {
            timeoutMs: 10_000,
            intervalMs: 100,
          },
        );
        await ui.editorTitleAction('Replace Unit');
        const confirmText = /Replace nginx\.3\.service in the local cluster with the local file\?/;
        await ui.waitForNotification(confirmText);
        await diffTab.first().waitFor();
        const changed = ui.page.locator('.editor-group-container.active .char-insert, .editor-group-container.active .line-insert').first();
        await changed.waitFor();
        assert.ok(
          (await ui.page.locator('.editor-group-container.active .view-lines').allInnerTexts())
            .join('\n')
            .replace(/\u00a0/g, ' ')
            .includes('Web server 3 (nginx stand-in) v2'),
          'the diff shows the change',
        );
        assert.equal(await ui.page.locator('.monaco-dialog-box').count(), 0, 'no modal dialog over the diff');
        const [toastBox, changeBox] = await Promise.all([ui.box(ui.notification(confirmText)), ui.box(changed)]);
        assert.ok(toastBox && changeBox, 'the confirmation and the changed line are on screen');
        const overlaps =
          toastBox.x < changeBox.x + changeBox.width &&
          changeBox.x < toastBox.x + toastBox.width &&
          toastBox.y < changeBox.y + changeBox.height &&
          changeBox.y < toastBox.y + toastBox.height;
        assert.equal(overlaps, false, `the confirmation (${JSON.stringify(toastBox)}) does not cover the change (${JSON.stringify(changeBox)})`);
        await ui.page.waitForTimeout(300); // the toast's fade-in, for the picture
        await shot('3j-replace-diff');
        await ui.clickNotificationButton(confirmText, 'Replace');
        await ui.waitForNotification(/Unit nginx\.3\.service replaced/, CLUSTER_TIMEOUT);
        await diffTab.first().waitFor({ state: 'hidden' });
        await shot('3j-replaced');
        await ui.clearNotifications();
        // Show Unit File: the registry's copy, its tab named after the cluster.
        await ui.contextMenu('Units', UNITS[2], 'Show Unit File');
        const fileTab = ui.page.locator('.tabs-container .tab.active').filter({ hasText: 'nginx.3.service (local cluster)' }).first();
        await fileTab.waitFor();
        await wb.activeEditor.locator('.view-lines').filter({ hasText: 'Web server 3 (nginx stand-in) v2' }).waitFor();
        await shot('3j-unit-file-tab');

        // 3k. Fleet: Start Units Matching previews what matches before it starts anything.
        await ui.pickCommand('Fleet: Start Units Matching');
        await ui.answerInputBox('Fleet: Start Units Matching', 'nginx.[13].service');
        const previewTitle = 'Fleet: Start 2 units matching nginx.[13].service';
        const preview = await ui.quickPickRows(previewTitle);
        assert.deepEqual(
          preview,
          ['nginx.1.service in the registry (loaded)', 'nginx.3.service in the registry (loaded)'],
          'the preview lists what matched and where it comes from',
        );
        await shot('3k-start-matching-preview');
        await ui.page.keyboard.press('Enter');
        await ui.waitForNotification(/2 units done: (?=.*nginx\.1\.service launched on )(?=.*nginx\.3\.service launched on )/, CLUSTER_TIMEOUT);
        await ui.clearNotifications();

        // 4. Fleet: Stop Local Cluster: the explorer disconnects and no fleetd is left.
        await ui.pickCommand('Fleet: Stop Local Cluster');
        console.log(`${elapsed()} Fleet: Stop Local Cluster`);
        await waitFor('no fleetd process of the extension', () => processesMatching(fleetdScript).length === 0, { timeoutMs: 20_000, intervalMs: 200 });
        await waitFor(
          `the API at ${url} to go away`,
          async () => {
            try {
              await httpGet(url, '/fleet/v1/machines', 1_000);
              return false;
            } catch {
              return true;
            }
          },
          { timeoutMs: 10_000, intervalMs: 200 },
        );
        await ui.waitForRows('Units', 'no unit rows once the cluster is gone', rows => !UNITS.some(n => rowFor(rows, n)));
        await ui.waitForStatus(/Fleet: no cluster/);
        assert.deepEqual(
          (await ui.treeRows('Machines')).map(r => r.text),
          [],
          'the Machines view has no rows once the cluster is gone',
        );
        for (const unit of UNITS) assert.equal(await serves(ports.get(unit)!), false, `${unit} stopped serving with the cluster`);
        await shot('4-cluster-stopped');

        // 5. Fleet: Start Local Cluster again: a restart is a restart (three machines, ready at once).
        await ui.clearNotifications();
        await ui.pickCommand('Fleet: Start Local Cluster');
        await ui.answerInputBox('Fleet: Start Local Cluster (1/2)', '3');
        await ui.answerInputBox('Fleet: Start Local Cluster (2/2)');
        const again = await ui.waitForNotification(/Local fleet cluster running at unix:\/\/\/\S+\/fleet\.sock with 3 machines/, CLUSTER_TIMEOUT);
        const url2 = /running at (unix:\/\/\/\S+\/fleet\.sock)/.exec(again)![1]!;
        const restarted = await waitFor(
          'three machines after the restart (API)',
          async () => {
            const c = await readCluster(url2);
            return c.machines.length === 3 && c;
          },
          { timeoutMs: CLUSTER_TIMEOUT, intervalMs: 200 },
        );
        await ui.waitForRows(
          'Machines',
          'the three machines of the restarted cluster',
          rows => rows.length === 3 && restarted.machines.every(m => rows.some(r => r.label.startsWith(short(m.id)))),
          CLUSTER_TIMEOUT,
        );
        await ui.waitForStatus(/Fleet: Local cluster \(3\/\d+\)/);
        console.log(`${elapsed()} the local cluster restarted`);
        await shot('5-restarted');
        await ui.pickCommand('Fleet: Stop Local Cluster');
        await waitFor('no fleetd process after the second stop', () => processesMatching(fleetdScript).length === 0, { timeoutMs: 20_000, intervalMs: 200 });
      });
      console.log(`cluster workflow took ${Math.round((Date.now() - started) / 1000)} s`);
    },
  );
});

/** Whether something answers HTTP GET / on 127.0.0.1:port. */
async function serves(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** The Units view row of `name` (flat view: the label is the unit's name). */
function rowFor(rows: readonly TreeRow[], name: string): TreeRow | undefined {
  return rows.find(r => r.label === name);
}

/**
 * Each nginx row says what the API says: its description is "<current state> · <machine>/<IP> ·
 * <systemd active> (<sub>)", and the screen reader hears the same.
 */
function assertRowsMatchApi(rows: readonly TreeRow[], api: ClusterView): void {
  for (const name of UNITS) {
    const row = rowFor(rows, name);
    assert.ok(row, `the Units view has a row for ${name}: ${rows.map(r => r.text).join(' | ')}`);
    const unit = api.units.find(u => u.name === name);
    const state = api.states.find(s => s.name === name);
    assert.ok(unit?.machineID && state, `the API has ${name}, its machine and its state`);
    const ip = api.machines.find(m => m.id === unit.machineID)?.primaryIP;
    const expected = [unit.currentState, `${short(unit.machineID)}...${ip ? `/${ip}` : ''}`, `${state.systemdActiveState} (${state.systemdSubState})`];
    assert.deepEqual(row.description.split(' · '), expected, `the row of ${name}`);
    assert.ok(row.ariaLabel.includes(name) && row.ariaLabel.includes(row.description), `the row's aria-label names the unit and its state: ${row.ariaLabel}`);
  }
}
