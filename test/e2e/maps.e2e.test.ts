/**
 * The two pictures in a real VS Code (code-server + Debian chromium): start the local cluster
 * (3 machines), run the article's units on it (nginx.1-3 with Conflicts, the sidekick
 * nginx-discovery.1 with MachineOf=nginx.1) plus a fourth nginx that cannot be placed, then
 *  - Fleet: Show Cluster Map: three machine boxes, each nginx on its own machine, the sidekick's
 *    chip next to nginx.1's, nginx.4 in the waiting lane with the engine's reason, the MachineOf
 *    edge drawn for the selected sidekick, the unit selected in the Units view and its actions
 *    offered; "what if nginx.1's machine is gone" lists both units as waiting;
 *  - Fleet: Show Unit Graph: the workspace's units, the sidekick's MachineOf/BindsTo edges, and a
 *    node click opens its file.
 * Every placement is cross-checked with fleet's v1 API. Screenshots: out/e2e-artifacts/maps-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, EXTENSION_ID, ROOT, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { SCREENSHOT_DIR, withWorkbench, type Workbench } from './workbench';
import { ClusterWorkbench, installedExtensionDir, processesMatching, readCluster, type ClusterView, putUnit } from './clusterWorkbench';
import type { Locator } from './playwright';
import { freePorts } from '../support/ports';
import { stopProcessGroup, waitFor } from '../support/process';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };
const NGINX = ['nginx.1.service', 'nginx.2.service', 'nginx.3.service'] as const;
const SIDEKICK = 'nginx-discovery.1.service';
/** A fourth web server: Conflicts=nginx.*.service leaves it no machine of three. */
const EXTRA = 'nginx.4.service';
const TIMEOUT = 60_000;

interface Frame {
  locator(selector: string): Locator;
  url(): string;
}
type FramedPage = Workbench['page'] & { frames(): Frame[] };
/** The webview's own picture (the README's screenshots come from these). */
async function webviewShot(frame: Frame, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await (frame.locator('main#root') as Locator & { screenshot(o: { path: string }): Promise<unknown> }).screenshot({ path: file });
  console.log(`screenshot: ${file}`);
}
type Clickable = Locator & { click(options?: { timeout?: number }): Promise<void>; hover(): Promise<void>; selectOption(value: string): Promise<unknown> };

/** The webview frame whose document has an h1 matching `title` (webviews nest two iframes deep). */
async function webviewFrame(wb: Workbench, title: RegExp): Promise<Frame> {
  try {
    return await waitFor(
      `a webview showing ${title}`,
      async () => {
        for (const frame of (wb.page as FramedPage).frames()) {
          const h1 = frame.locator('h1').filter({ hasText: title });
          if ((await h1.count().catch(() => 0)) > 0) return frame;
        }
        return false;
      },
      { timeoutMs: TIMEOUT, intervalMs: 200 },
    );
  } catch (err) {
    // Say what the webview frames show instead.
    const seen: string[] = [];
    for (const frame of (wb.page as FramedPage).frames()) {
      const text = await frame
        .locator('body')
        .innerText()
        .catch(() => '?');
      seen.push(`${frame.url().slice(0, 160)}: ${JSON.stringify(text.slice(0, 120))}`);
    }
    throw new Error(`${err instanceof Error ? err.message : String(err)}; frames:\n${seen.join('\n')}`);
  }
}

describe('the cluster map and the unit graph in a real VS Code', { skip: e2eSkip(needs) }, () => {
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
      // Free ports instead of the samples' fixed 8081-8083, so nothing else on the machine collides.
      const free = await freePorts(NGINX.length + 1);
      const nginx1 = fs.readFileSync(path.join(workspace, NGINX[0]), 'utf8');
      fs.writeFileSync(path.join(workspace, EXTRA), nginx1.replace('Web server 1', 'Web server 4'));
      [...NGINX, EXTRA].forEach((unit, i) => {
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

  test('cluster map: machines, chips, the waiting lane, edges, explorer selection, what if; unit graph: nodes, edges, open', { timeout: 240_000 }, async () => {
    await withWorkbench(cs!, 'maps', { folder: workspace, waitForFile: NGINX[0] }, async (wb: Workbench) => {
      const ui = new ClusterWorkbench(wb);
      const shot = async (name: string) => console.log(`screenshot: ${await wb.screenshot(`maps-${name}`)}`);
      await wb.quickOpen(NGINX[0]);
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      await ui.waitForStatus(/Fleet: no cluster/, TIMEOUT);
      await ui.pickCommand('Fleet: Start Local Cluster');
      await ui.answerInputBox('Fleet: Start Local Cluster (1/2)', '3');
      await ui.answerInputBox('Fleet: Start Local Cluster (2/2)');
      // The local cluster's API is a unix socket only this user can use (issue 12).
      const ready = await ui.waitForNotification(/Local fleet cluster running at unix:\/\/\/\S+\/fleet\.sock with 3 machines/, TIMEOUT);
      const url = /running at (unix:\/\/\/\S+\/fleet\.sock)/.exec(ready)![1]!;
      await ui.clearNotifications();

      // The article's units (and a fourth nginx) through fleet's API; fleetd's engine places them.
      for (const unit of [...NGINX, SIDEKICK, EXTRA]) await putUnit(url, unit, fs.readFileSync(path.join(workspace, unit), 'utf8'));
      const api: ClusterView = await waitFor(
        'the article placed and a fourth nginx waiting',
        async () => {
          const c = await readCluster(url);
          const placed = [...NGINX, SIDEKICK].every(n => c.units.find(u => u.name === n)?.machineID);
          const waiting = c.units.find(u => u.name === EXTRA)?.reason;
          return placed && !!waiting && c;
        },
        { timeoutMs: TIMEOUT, intervalMs: 250 },
      );
      const machineOf = (name: string) => api.units.find(u => u.name === name)!.machineID!;
      assert.equal(new Set(NGINX.map(machineOf)).size, 3, 'three nginx on three machines (API)');
      assert.equal(machineOf(SIDEKICK), machineOf(NGINX[0]), 'the sidekick follows nginx.1 (API)');

      // 1. The cluster map, from the Machines view's title button's command.
      await ui.expandView('Units');
      await ui.pickCommand('Fleet: Show Cluster Map');
      const map = await webviewFrame(wb, /Cluster map/);
      await waitFor(
        'three machine boxes with the units as chips',
        async () => (await map.locator('article.machine').count()) === 3 && (await map.locator(`button.chip[data-unit="${SIDEKICK}"]`).count()) === 1,
        { timeoutMs: TIMEOUT, intervalMs: 200 },
      );
      for (const m of api.machines) {
        const box = map.locator(`article.machine[data-machine="${m.id}"]`);
        assert.equal(await box.count(), 1, `a box for machine ${m.id}`);
        assert.match(await box.locator('h2').innerText(), new RegExp(`^${m.id.slice(0, 8)}${m.primaryIP ? ` / ${m.primaryIP.replace(/\./g, '\\.')}` : ''}$`));
      }
      for (const unit of [...NGINX, SIDEKICK]) {
        const chip = map.locator(`article.machine[data-machine="${machineOf(unit)}"] button.chip[data-unit="${unit}"]`);
        assert.equal(await chip.count(), 1, `${unit}'s chip is in its machine's box`);
      }
      await waitFor('the units launched on the map', async () => (await map.locator('article.machine button.chip.s-launched').count()) >= 4, {
        timeoutMs: TIMEOUT,
        intervalMs: 250,
      });
      const waitingItem = map.locator('section.lane .waiting-item').filter({ hasText: EXTRA });
      const engineReason = api.units.find(u => u.name === EXTRA)!.reason!;
      // The map follows the explorer's reads: the first may predate the engine's reason.
      const reason = await waitFor(
        `${EXTRA} in the waiting lane with the engine's reason`,
        async () => {
          if ((await waitingItem.count()) !== 1) return false;
          const text = await waitingItem.locator('.reason').innerText();
          return text === engineReason && text;
        },
        { timeoutMs: TIMEOUT, intervalMs: 200 },
      );
      assert.match(reason, /conflicts with nginx\.1\.service, nginx\.2\.service, nginx\.3\.service/);
      assert.match(
        (await map.locator(`button.chip[data-unit="${SIDEKICK}"]`).getAttribute('aria-label')) ?? '',
        new RegExp(`^${SIDEKICK.replace(/\./g, '\\.')}, Launched, on `),
      );

      // Click the sidekick: its MachineOf edge is drawn, the Units view selects it, actions are offered.
      await (map.locator(`button.chip[data-unit="${SIDEKICK}"]`) as Clickable).click();
      await map.locator(`#edges path.machineOf[data-from="${SIDEKICK}"][data-to="${NGINX[0]}"]`).waitFor({ state: 'attached' });
      await ui.viewPane('Units').locator('.monaco-list-row.selected').filter({ hasText: SIDEKICK }).first().waitFor();
      await map.locator('#detail button[data-command="fleet.stopUnit"]').waitFor();
      assert.match(await map.locator('#detail').innerText(), /selected in the Units view/);
      await shot('1-cluster-map');
      // nginx.1's conflicts: two dashed edges to its peers.
      await (map.locator(`button.chip[data-unit="${NGINX[0]}"]`) as Clickable).click();
      await waitFor('the Conflicts edges of nginx.1', async () => (await map.locator(`#edges path.conflicts`).count()) >= 2, {
        timeoutMs: 10_000,
        intervalMs: 100,
      });

      // What if nginx.1's machine is gone: planCluster says both wait (two machines, Conflicts).
      await (map.locator('#whatif') as Clickable).selectOption(machineOf(NGINX[0]));
      await map.locator(`section.whatif li[data-move="${NGINX[0]}"]`).waitFor();
      const moves = await map.locator('section.whatif li').allInnerTexts();
      assert.ok(
        moves.some(t => t.startsWith(`${SIDEKICK}: ${machineOf(NGINX[0]).slice(0, 8)} → nowhere`)),
        `the sidekick waits: ${moves.join(' | ')}`,
      );
      assert.ok(
        moves.some(t => t.startsWith(`${NGINX[0]}: ${machineOf(NGINX[0]).slice(0, 8)} → nowhere`) && /conflicts with/.test(t)),
        `nginx.1 waits for a conflict: ${moves.join(' | ')}`,
      );
      await shot('2-what-if');
      await webviewShot(map, 'maps-webview-cluster-map');
      await (map.locator('#whatif') as Clickable).selectOption('');
      await map.locator('section.whatif').waitFor({ state: 'detached' });

      // A chip's action runs the explorer's command; the map follows live (no reopening).
      await (map.locator(`button.chip[data-unit="${NGINX[1]}"]`) as Clickable).click();
      await (map.locator('#detail button[data-command="fleet.stopUnit"]') as Clickable).click();
      await map.locator(`article.machine[data-machine="${machineOf(NGINX[1])}"] button.chip.s-loaded[data-unit="${NGINX[1]}"]`).waitFor({ timeout: TIMEOUT });
      assert.equal((await readCluster(url)).units.find(u => u.name === NGINX[1])?.desiredState, 'loaded', 'Stop Unit from the map reached the cluster');

      // 2. The unit graph, from a unit file's editor.
      await wb.quickOpen(SIDEKICK);
      await ui.pickCommand('Fleet: Show Unit Graph');
      const graph = await webviewFrame(wb, /Unit graph/);
      await graph.locator(`g.node[data-unit="${SIDEKICK}"]`).waitFor({ state: 'attached' });
      for (const unit of [...NGINX, SIDEKICK, EXTRA, 'monitor.service', 'web@.service'])
        assert.equal(await graph.locator(`g.node[data-unit="${unit}"]`).count(), 1, `a node for ${unit}`);
      for (const kind of ['MachineOf', 'BindsTo', 'After'])
        assert.equal(await graph.locator(`g.edge.${kind}[data-from="${SIDEKICK}"][data-to="${NGINX[0]}"]`).count(), 1, `${SIDEKICK} ${kind} ${NGINX[0]}`);
      assert.equal(await graph.locator(`g.edge.Conflicts[data-from="${NGINX[0]}"]`).count(), 3, 'nginx.1 conflicts with nginx.2, 3 and 4');
      await shot('3-unit-graph');
      await webviewShot(graph, 'maps-webview-unit-graph');
      await (graph.locator(`g.node[data-unit="${NGINX[1]}"]`) as Clickable).click();
      await wb.page.locator('.tabs-container .tab.active').filter({ hasText: NGINX[1] }).first().waitFor();

      // 3. A reload restores the unit graph (its WebviewPanelSerializer): it is drawn again. (The
      // cluster map's tab comes back too, but its revived webview does not reach the extension in
      // code-server 4.100 yet: an open bug, not asserted here.)
      await ui.pickCommand('Developer: Reload Window');
      await wb.page.locator('.monaco-workbench').first().waitFor({ timeout: TIMEOUT });
      await wb.page.locator('.tabs-container .tab').filter({ hasText: 'Fleet Cluster Map' }).first().waitFor({ timeout: TIMEOUT });
      await (wb.page.locator('.tabs-container .tab').filter({ hasText: 'Fleet Unit Graph' }).first() as Clickable).click({ timeout: TIMEOUT });
      const regraph = await webviewFrame(wb, /Unit graph/);
      await regraph.locator(`g.node[data-unit="${SIDEKICK}"]`).waitFor({ state: 'attached', timeout: TIMEOUT });
      await shot('4-restored');
      await waitFor('no fleetd process of the extension', () => processesMatching(fleetdScript).length === 0, { timeoutMs: 20_000, intervalMs: 200 });
    });
  });
});
