/**
 * The language server in a real VS Code (code-server + Debian chromium), as a user sees it:
 * fleet's problems in the Problems panel, a quick fix from Ctrl+., and [X-Fleet] completion.
 * The packaged extension (out/vscode-fleet.vsix) is installed into a fresh profile.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, EXTENSION_ID, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, type E2eNeeds } from './gate';
import { withWorkbench } from './workbench';
import { ClusterWorkbench } from './clusterWorkbench';
import { FleetdLocal } from '../support/fleetdLocal';
import { waitFor } from '../support/process';

const UNIT = 'web.service';
// Line numbers below are 1-based, as in the status bar.
const FIXTURE = [
  '# e2e fixture: problems the fleet language server reports and fixes.', // 1
  '[Unit]', //                                                               2
  'Description=Web server', //                                               3
  '', //                                                                     4
  '[Service]', //                                                            5
  "ExecStart=/bin/sh -c 'while true; do echo hello from %H; sleep 5; done'", // 6
  '', //                                                                     7
  '[X-Fleet]', //                                                            8
  'MachineMetaData=region=us-east', //                                       9
  'MachineID=4d389537d9d14bdabe8be54a9c29f68d', //                           10
  'MachineOf=db.service', //                                                 11
  '', //                                                                     12: empty last line, inside [X-Fleet]
].join('\n');
const UNKNOWN_KEY = 'unrecognized requirement in [X-Fleet] section: "MachineMetaData"; did you mean MachineMetadata?';
const MACHINE_ID_WITH_PEERS = 'MachineID cannot be used with Peers';

const needs: E2eNeeds = { parts: ['extension', 'server'], vsix: true };

describe('fleet language features in a real VS Code', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let workspace = '';

  before(
    async () => {
      assertE2eAvailable(needs);
      cs = await CodeServer.start({ vsix: [VSIX], settings: { 'git.enabled': false } });
      workspace = path.join(cs.dir, 'workspace');
      fs.mkdirSync(workspace);
      fs.writeFileSync(path.join(workspace, UNIT), FIXTURE);
    },
    { timeout: 120_000 },
  );

  after(async () => cs?.stop());

  test('problems, quick fix and completion for a unit file', { timeout: 180_000 }, async () => {
    await withWorkbench(cs!, 'language', { folder: workspace, waitForFile: UNIT }, async wb => {
      await wb.quickOpen(UNIT);
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();

      // Diagnostics: a fleetctl warning and a fleet API error, as rows of the Problems panel.
      await wb.showProblems();
      const warning = await wb.waitForProblem(UNKNOWN_KEY);
      const error = await wb.waitForProblem(MACHINE_ID_WITH_PEERS);
      assert.match(warning, /Ln 9, Col 1/);
      assert.match(error, /Ln (10|11), Col 1/);
      await wb.page.locator('.monaco-editor .squiggly-warning').first().waitFor();
      await wb.page.locator('.monaco-editor .squiggly-error').first().waitFor();

      // Quick fix: Ctrl+. on the squiggle → "Change to MachineMetadata=".
      await wb.goTo(9, 3);
      await wb.applyQuickFix('Change to MachineMetadata=');
      const fixed = await wb.waitForEditorText('show MachineMetadata=', t => t.includes('\nMachineMetadata=region=us-east\n'));
      assert.ok(!fixed.includes('MachineMetaData'), fixed);
      await wb.waitForNoProblem(UNKNOWN_KEY);
      await wb.waitForProblem(MACHINE_ID_WITH_PEERS);

      // Completion on an empty line of [X-Fleet].
      await wb.goTo(12, 1);
      await wb.page.keyboard.type('Mach');
      const machineOf = await wb.triggerSuggest('MachineOf');
      const labels = await wb.suggestLabels();
      assert.ok(labels.includes('MachineOf'), `suggestions: ${labels.join(', ')}`);
      const shot = await wb.screenshot('language');
      console.log(`screenshot: ${shot}`);
      await machineOf.click();
      await wb.waitForEditorText('end with the accepted MachineOf completion', t => /\nMachineOf\S*\s*$/.test(t));
    });
    // The server, up for more than a second by now, has written its code cache where the extension told it to.
    const cacheDir = path.join(cs!.userDataDir, 'User', 'globalStorage', EXTENSION_ID, 'server-cache');
    let caches: string[] = [];
    for (let i = 0; i < 50 && caches.length === 0; i++) {
      caches = fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter(f => /^server-main\.[0-9a-f]{16}\.v8cache$/.test(f)) : [];
      if (caches.length === 0) await new Promise(r => setTimeout(r, 100));
    }
    assert.equal(caches.length, 1, `code cache in ${cacheDir}: ${fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).join(', ') : 'no directory'}`);
  });
});

/**
 * The editor features that need the language server's newer capabilities, against a running
 * cluster (fleetd local, connected through FLEETCTL_ENDPOINT): inlay hints, a code lens whose
 * Start runs the extension's command and then shows the live state, and rename of a unit across
 * files with the file renamed. Screenshots: out/e2e-artifacts/language-{inlay-hints,code-lens,rename}.png.
 */
describe('inlay hints, code lens and rename in a real VS Code', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let cluster: FleetdLocal | undefined;
  let workspace = '';

  before(
    async () => {
      assertE2eAvailable(needs);
      cluster = await FleetdLocal.start(['--machines', '3', '--agent-reconcile-interval', '1', '--engine-reconcile-interval', '1']);
      cs = await CodeServer.start({
        vsix: [VSIX],
        settings: { 'git.enabled': false, 'remote.autoForwardPorts': false },
        env: { FLEETCTL_ENDPOINT: cluster.api },
      });
      workspace = path.join(cs.dir, 'workspace');
      fs.mkdirSync(workspace);
      fs.writeFileSync(
        path.join(workspace, 'web@1.service'),
        '[Unit]\nDescription=Web %i\nAfter=db.service\n\n[Service]\nExecStart=/bin/sleep 1000\nTimeoutStartSec=90\n',
      );
      fs.writeFileSync(path.join(workspace, 'db.service'), '[Service]\nExecStart=/bin/sleep 1000\n');
      fs.writeFileSync(path.join(workspace, 'cache.service'), '[Unit]\nWants=db.service\n\n[Service]\nExecStart=/bin/sleep 1000\n');
      fs.writeFileSync(path.join(workspace, 'lens.service'), '[Service]\nExecStart=/bin/sleep 1000\n\n[X-Fleet]\nConflicts=other*.service\n');
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await cs?.stop();
    await cluster?.stop();
  });

  test('inlay hints, a code lens that starts the unit, and rename with the file', { timeout: 240_000 }, async () => {
    await withWorkbench(cs!, 'language-editor', { folder: workspace, waitForFile: 'lens.service' }, async wb => {
      const ui = new ClusterWorkbench(wb);

      // Inlay hints: %i → 1 for web@1.service, 90 → 1min 30s (rendered as text inside the lines).
      await wb.quickOpen('web@1.service');
      await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      const hinted = await wb.waitForEditorText('show the inlay hints', t => t.includes('1min 30s') && /Description=Web %i\s*= 1/.test(t));
      assert.match(hinted, /TimeoutStartSec=90\s*= 1min 30s/);
      console.log(`screenshot: ${await wb.screenshot('language-inlay-hints')}`);

      // Code lens: "not in the cluster · Start" while connected; Start runs fleet.startUnit on this file.
      await ui.waitForStatus(/Fleet: FLEETCTL environment \(3\//, 60_000);
      await wb.quickOpen('lens.service');
      const lens = wb.activeEditor.locator('.codelens-decoration');
      await lens.filter({ hasText: 'not in the cluster' }).waitFor({ timeout: 60_000 });
      assert.match(await lens.first().innerText(), /not in the cluster\s*\|\s*Start\s*\|\s*eligible on 3 of 3 machines/);
      await lens
        .locator('a')
        .filter({ hasText: /^Start$/ })
        .click();
      const launched = lens.filter({ hasText: /launched on [0-9a-f]{8} \/ 127\.0\.0\.\d/ });
      await launched.waitFor({ timeout: 90_000 });
      assert.match(await launched.innerText(), /launched on [0-9a-f]{8} \/ 127\.0\.0\.\d\s*\|\s*Stop\s*\|\s*Journal\s*\|\s*eligible on 3 of 3 machines/);
      const res = await fetch(`${cluster!.api}/fleet/v1/units/lens.service`);
      assert.equal(((await res.json()) as { currentState?: string }).currentState, 'launched', 'the cluster runs the unit the lens started');
      console.log(`screenshot: ${await wb.screenshot('language-code-lens')}`);

      // Rename db.service from a reference: every reference follows and the file is renamed.
      // (web@1.service is still open: back to its tab.)
      await wb.page.locator('.tabs-container .tab').filter({ hasText: 'web@1.service' }).first().click();
      await wb.page.locator('.tabs-container .tab.active').filter({ hasText: 'web@1.service' }).waitFor();
      await wb.goTo(3, 9);
      await wb.page.keyboard.press('F2');
      const input = wb.page.locator('.rename-box input, .rename-box textarea').first();
      await input.waitFor();
      // The prepared name is in the box (prepareRename's placeholder); fill() replaces it in the box itself.
      assert.equal(await input.inputValue(), 'db.service');
      await input.fill('data.service');
      console.log(`screenshot: ${await wb.screenshot('language-rename')}`);
      await input.press('Enter');
      await wb.waitForEditorText('reference the renamed unit', t => t.includes('After=data.service'));
      await waitFor(
        'db.service renamed to data.service on disk',
        () => (fs.existsSync(path.join(workspace, 'data.service')) && !fs.existsSync(path.join(workspace, 'db.service')) ? true : undefined),
        { timeoutMs: 30_000 },
      );
      await wb.runCommand('File: Save All');
      await waitFor(
        'cache.service saved with the new name',
        () => (fs.readFileSync(path.join(workspace, 'cache.service'), 'utf8').includes('Wants=data.service') ? true : undefined),
        { timeoutMs: 30_000 },
      );
      assert.match(fs.readFileSync(path.join(workspace, 'web@1.service'), 'utf8'), /\nAfter=data\.service\n/);
    });
  });
});
