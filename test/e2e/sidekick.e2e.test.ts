/**
 * The article's sidekick in a real VS Code (code-server + Debian chromium), on the local cluster
 * the palette starts (3 machines): nginx.1, nginx.2 and nginx-discovery.1 (BindsTo=/After=/
 * MachineOf= nginx.1) from the Docker-free samples, put through fleet's API; then
 *  - Stop Unit on nginx.1 from the Units view's context menu: the sidekick's row follows its
 *    service and goes inactive, while nginx.2 keeps running;
 *  - Fleet: Remove Machine on nginx.2's machine from the Machines view's context menu (after its
 *    confirmation): the machine leaves the view and nginx.2's row shows it running on another.
 * Every row is cross-checked with fleet's v1 API. Screenshots: out/e2e-artifacts/sidekick-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, EXTENSION_ID, ROOT, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { withWorkbench, type Workbench } from './workbench';
import { ClusterWorkbench, installedExtensionDir, processesMatching, readCluster, type TreeRow, putUnit } from './clusterWorkbench';
import type { Locator } from './playwright';
import { freePorts } from '../support/ports';
import { stopProcessGroup, waitFor } from '../support/process';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };
const SERVICE = 'nginx.1.service';
const OTHER = 'nginx.2.service';
const SIDEKICK = 'nginx-discovery.1.service';
const TIMEOUT = 60_000;
const short = (id: string) => id.slice(0, 8);
const rowFor = (rows: readonly TreeRow[], name: string) => rows.find(r => r.label === name);
const inactive = (row: TreeRow | undefined) => !!row && / · inactive( \(dead\))?$/.test(row.description);
const running = (row: TreeRow | undefined) => !!row && row.description.endsWith(' · active (running)');

describe('the sidekick follows its service in the explorer; Remove Machine on the local cluster', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let workspace = '';
  let fleetdScript = '';

  before(
    async () => {
      assertE2eAvailable(needs);
      cs = await CodeServer.start({
        vsix: [VSIX],
        settings: { 'git.enabled': false, 'remote.autoForwardPorts': false, 'fleet.explorer.groupBy': 'flat', 'fleet.explorer.sortBy': 'name' },
      });
      workspace = path.join(cs.dir, 'samples');
      fs.cpSync(path.join(ROOT, 'samples'), workspace, { recursive: true });
      fs.rmSync(path.join(workspace, 'docker'), { recursive: true, force: true });
      // Free ports instead of the samples' fixed ones, so nothing else on the machine collides.
      const free = await freePorts(2);
      [SERVICE, OTHER].forEach((unit, i) => {
        const file = path.join(workspace, unit);
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/http\.server \d+ /, `http.server ${free[i]} `));
      });
      fleetdScript = path.join(installedExtensionDir(cs.extensionsDir, EXTENSION_ID), 'dist', 'fleetd.js');
    },
    { timeout: 120_000 },
  );

  after(async () => {
    if (fleetdScript) for (const p of processesMatching(fleetdScript)) await stopProcessGroup(p.pgid, { timeoutMs: 5_000 }).catch(() => undefined);
    await cs?.stop();
  });

  test("stop nginx.1: its sidekick's row goes inactive; remove nginx.2's machine: nginx.2 runs on another", { timeout: 180_000 }, async () => {
    await withWorkbench(cs!, 'sidekick', { folder: workspace, waitForFile: SERVICE }, async (wb: Workbench) => {
      const ui = new ClusterWorkbench(wb);
      const shot = async (name: string) => console.log(`screenshot: ${await wb.screenshot(`sidekick-${name}`)}`);
      await wb.quickOpen(SERVICE);
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      await ui.waitForStatus(/Fleet: no cluster/, TIMEOUT);
      await ui.pickCommand('Fleet: Start Local Cluster');
      await ui.answerInputBox('Fleet: Start Local Cluster (1/2)', '3');
      await ui.answerInputBox('Fleet: Start Local Cluster (2/2)');
      const ready = await ui.waitForNotification(/Local fleet cluster running at unix:\/\/\/\S+\/fleet\.sock with 3 machines/, TIMEOUT);
      const url = /running at (unix:\/\/\/\S+\/fleet\.sock)/.exec(ready)![1]!;
      await ui.clearNotifications();
      await ui.expandView('Machines');
      await ui.expandView('Units');
      await ui.widenSideBar(640);

      for (const unit of [SERVICE, OTHER, SIDEKICK]) await putUnit(url, unit, fs.readFileSync(path.join(workspace, unit), 'utf8'));
      const placed = await waitFor(
        'the three units active (API)',
        async () => {
          const c = await readCluster(url);
          return [SERVICE, OTHER, SIDEKICK].every(n => c.states.some(s => s.name === n && s.systemdActiveState === 'active')) && c;
        },
        { timeoutMs: TIMEOUT, intervalMs: 250 },
      );
      const machineOf = (name: string) => placed.units.find(u => u.name === name)!.machineID!;
      assert.equal(machineOf(SIDEKICK), machineOf(SERVICE), 'MachineOf= puts the sidekick with its service');
      await ui.waitForRows(
        'Units',
        'the service, the other web server and the sidekick running',
        rows => [SERVICE, OTHER, SIDEKICK].every(n => running(rowFor(rows, n))),
        TIMEOUT,
      );

      // 1. Stop nginx.1 from its context menu; the sidekick (BindsTo=) stops with it.
      await ui.stopFromContextMenu('Units', SERVICE, url);
      const rows = await ui.waitForRows(
        'Units',
        `${SIDEKICK}'s row inactive after ${SERVICE} stopped; ${OTHER} still running`,
        r => inactive(rowFor(r, SERVICE)) && inactive(rowFor(r, SIDEKICK)) && running(rowFor(r, OTHER)),
        TIMEOUT,
      );
      const api = await readCluster(url);
      const sidekickState = api.states.find(s => s.name === SIDEKICK);
      assert.equal(sidekickState?.systemdActiveState, 'inactive', `the API says the sidekick is inactive: ${JSON.stringify(sidekickState)}`);
      assert.match(rowFor(rows, SIDEKICK)!.description, new RegExp(`${short(machineOf(SERVICE))}`), 'the sidekick stays on its machine');
      await ui.clearNotifications();
      await shot('1-sidekick-inactive');

      // 2. Remove nginx.2's machine from the Machines view (local cluster only), confirming.
      const host = machineOf(OTHER);
      const menu = await ui.contextMenuItems('Machines', short(host));
      assert.ok(menu.includes('Remove Machine'), `a local machine's context menu offers Remove Machine: ${menu.join(', ')}`);
      await ui.contextMenu('Machines', short(host), 'Remove Machine');
      const dialog = wb.page
        .locator('.monaco-dialog-box')
        .filter({ hasText: `Remove machine ${short(host)}` })
        .first();
      await dialog.waitFor({ timeout: 20_000 });
      await (dialog.locator('.monaco-button').filter({ hasText: 'Remove Machine' }).first() as Locator & { click(): Promise<void> }).click();
      const moved = await waitFor(
        `${OTHER} active on another machine (API)`,
        async () => {
          const c = await readCluster(url);
          const s = c.states.find(x => x.name === OTHER);
          return c.machines.length === 2 && !c.machines.some(m => m.id === host) && s?.systemdActiveState === 'active' && s.machineID !== host && c;
        },
        { timeoutMs: TIMEOUT, intervalMs: 250 },
      );
      const newHost = moved.units.find(u => u.name === OTHER)!.machineID!;
      await ui.waitForRows('Machines', `two machines, without ${short(host)}`, r => r.length >= 2 && !r.some(x => x.label.startsWith(short(host))), TIMEOUT);
      await ui.waitForRows(
        'Units',
        `${OTHER} running on ${short(newHost)}`,
        r => running(rowFor(r, OTHER)) && rowFor(r, OTHER)!.description.includes(short(newHost)),
        TIMEOUT,
      );
      await shot('2-machine-removed');

      await ui.pickCommand('Fleet: Stop Local Cluster');
      await waitFor('no fleetd process of the extension', () => processesMatching(fleetdScript).length === 0, { timeoutMs: 30_000, intervalMs: 200 });
    });
  });
});
