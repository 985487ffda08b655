/**
 * Runs test/vscode/suite (mocha, tdd) inside the real extension host of code-server, the way
 * @vscode/test-electron would on desktop: the workbench's `payload` URL parameter carries
 * extensionDevelopmentPath (the repository root, so dist/extension.js from `node esbuild.mjs`)
 * and extensionTestsPath; the workbench reports the result through window.codeAutomationExit.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CodeServer, ROOT } from './codeServer';
import { assertE2eAvailable, e2eSkip, PARTS, type E2eNeeds } from './gate';
import { withWorkbench } from './workbench';

const SUITE = path.join(ROOT, 'test', 'vscode', 'suite', 'index.js');
const WORKSPACE = path.join(ROOT, 'test', 'vscode', 'workspace');
const RUN_TIMEOUT_MS = 150_000;

interface SuiteResults {
  passes: number;
  failures: number;
  pending: number;
  tests: { title: string; state: string; error?: string }[];
}

const needs: E2eNeeds = { parts: ['extension'] };

describe('mocha inside the real VS Code extension host (code-server)', { skip: e2eSkip(needs) }, () => {
  let cs: CodeServer | undefined;
  let workspace = '';
  let resultsFile = '';

  before(
    async () => {
      assertE2eAvailable(needs);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-exthost-'));
      workspace = path.join(dir, 'workspace');
      resultsFile = path.join(dir, 'results.json');
      fs.cpSync(WORKSPACE, workspace, { recursive: true });
      cs = await CodeServer.start({ env: { FLEET_VSCODE_RESULTS: resultsFile } });
    },
    { timeout: 120_000 },
  );

  after(async () => {
    await cs?.stop();
    if (workspace) fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  });

  test('test/vscode/suite passes: codeAutomationExit(0)', { timeout: RUN_TIMEOUT_MS + 60_000 }, async () => {
    const server = cs!;
    const payload = [
      ['extensionDevelopmentPath', server.remoteUri(ROOT)],
      ['extensionTestsPath', server.remoteUri(SUITE)],
    ] as const;
    const log: string[] = [];
    let exit!: (code: number) => void;
    const exited = new Promise<number>(resolve => (exit = resolve));
    await withWorkbench(
      server,
      'extension-host',
      {
        folder: workspace,
        payload,
        automation: { onLog: (_type, message) => log.push(message), onExit: code => exit(code) },
      },
      async () => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>(resolve => {
          timer = setTimeout(() => resolve('timeout'), RUN_TIMEOUT_MS);
          timer.unref();
        });
        const code = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        const results: SuiteResults | undefined = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : undefined;
        for (const t of results?.tests ?? []) console.log(`[exthost] ${t.state === 'passed' ? '✔' : t.state === 'pending' ? '-' : '✖'} ${t.title}`);
        const failures = (results?.tests ?? []).filter(t => t.state === 'failed').map(t => `${t.title}: ${t.error}`);
        const context = `extension host output:\n${log.slice(-60).join('\n')}\n${failures.join('\n')}`;
        assert.notEqual(code, 'timeout', `no codeAutomationExit within ${RUN_TIMEOUT_MS} ms; ${context}`);
        assert.equal(code, 0, `extension-host suite failed; ${context}`);
        assert.ok(results, `the suite wrote no results to ${resultsFile}; ${context}`);
        assert.equal(results.failures, 0, context);
        // Without the language server only the language-id and activation tests can pass.
        const expected = fs.existsSync(path.join(ROOT, PARTS.server)) ? 6 : 2;
        assert.ok(
          results.passes >= expected,
          `expected ${expected} extension-host tests to pass (got ${results.passes} passed, ${results.pending} pending); ${context}`,
        );
      },
    );
  });
});
