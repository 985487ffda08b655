/**
 * The e2e harness itself, independent of the language server: code-server starts from .ci/tools,
 * chromium connects, the workbench loads the samples/ workspace, a unit file opens in an editor,
 * and a screenshot lands in out/e2e-artifacts/. When the extension exists, its package is
 * installed first and the file must open as "Fleet Unit".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, ROOT, VSIX } from './codeServer';
import { assertE2eAvailable, e2eSkip, PARTS, type E2eNeeds } from './gate';
import { withWorkbench } from './workbench';

const SAMPLES = path.join(ROOT, 'samples');
const UNIT = 'nginx.1.service';
const withExtension = fs.existsSync(path.join(ROOT, PARTS.extension));
const needs: E2eNeeds = { parts: [], vsix: withExtension };

describe('e2e harness: code-server + chromium + the samples workspace', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let workspace = '';

  before(
    async () => {
      assertE2eAvailable(needs);
      cs = await CodeServer.start({ vsix: withExtension ? [VSIX] : [], settings: { 'git.enabled': false } });
      // A copy, so nothing the workbench or the extension writes lands in the repository.
      workspace = path.join(cs.dir, 'samples');
      fs.cpSync(SAMPLES, workspace, { recursive: true });
    },
    { timeout: 180_000 },
  );

  after(async () => cs?.stop());

  test('the workbench opens a sample unit file and saves a screenshot', { timeout: 180_000 }, async () => {
    const server = cs!;
    const healthz = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(healthz.status, 200);
    await withWorkbench(server, 'smoke', { folder: workspace, waitForFile: UNIT }, async wb => {
      for (const name of ['nginx.2.service', 'monitor.service', 'web@.service', 'broken.service']) {
        await wb.explorerRow(name).waitFor();
      }
      await wb.quickOpen(UNIT);
      const text = await wb.waitForEditorText('show the unit', t => t.includes('Conflicts=nginx.*.service'));
      assert.match(text, /^\[X-Fleet\]$/m);
      if (withExtension) await wb.languageStatus().filter({ hasText: 'Fleet Unit' }).waitFor();
      const shot = await wb.screenshot('smoke');
      const size = fs.statSync(shot).size;
      assert.ok(size > 10_000, `screenshot ${shot} is only ${size} bytes`);
      console.log(`screenshot: ${path.relative(ROOT, shot)} (${size} bytes)`);
    });
  });
});
