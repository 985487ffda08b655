/**
 * When the VS Code suites run. They need code-server and playwright-core in `.ci/tools`, Debian's
 * chromium and the packaged extension. Locally a missing piece skips them LOUDLY; under CI=true
 * it fails them. FLEET_E2E=0 skips them locally (never under CI). A suite whose part of the
 * product is not written yet (no client/src/extension.ts or server/src/main.ts) is skipped with
 * "waiting for …" everywhere, so the pipeline stays green while those parts are in progress.
 */
import fs from 'node:fs';
import path from 'node:path';
import { codeServerInstalled, ROOT, VSIX } from './codeServer';
import { chromiumInstalled, playwrightInstalled } from './playwright';
import { assertAvailable, isCI, skipUnlessAvailable, type Requirement } from '../support/requirements';

/** Product parts an e2e suite exercises, by the source file that proves the part exists. */
export const PARTS = {
  extension: 'client/src/extension.ts',
  server: 'server/src/main.ts',
} as const;

export type Part = keyof typeof PARTS;

function banner(message: string): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! ${message}\n${bar}\n\n`);
}

export interface E2eNeeds {
  parts: readonly Part[];
  /** The suite installs out/vscode-fleet.vsix. */
  vsix?: boolean;
}

function requirements(needs: E2eNeeds): Requirement[] {
  const reqs = [codeServerInstalled(), playwrightInstalled(), chromiumInstalled()];
  if (needs.vsix) {
    reqs.push({
      name: 'vsix',
      missing: fs.existsSync(VSIX) ? undefined : `no packaged extension at ${path.relative(ROOT, VSIX)} (run: npm run package, or npm test which does it)`,
    });
  }
  return reqs;
}

/** For node:test's `skip` option on an e2e suite. */
export function e2eSkip(needs: E2eNeeds): string | false {
  if (process.env.FLEET_E2E === '0') {
    if (!isCI()) {
      banner('FLEET_E2E=0: skipping the VS Code (code-server + chromium) suites');
      return 'FLEET_E2E=0';
    }
    banner('FLEET_E2E=0 is ignored under CI=true: the VS Code suites always run in CI');
  }
  const waiting = needs.parts.filter(p => !fs.existsSync(path.join(ROOT, PARTS[p]))).map(p => PARTS[p]);
  if (waiting.length) {
    const reason = `waiting for ${waiting.join(' and ')} (not written yet)`;
    banner(`SKIPPING e2e suite: ${reason}`);
    return reason;
  }
  return skipUnlessAvailable(...requirements(needs));
}

/** Call first in the suite's `before` hook: under CI it turns a missing tool into a clear failure. */
export function assertE2eAvailable(needs: E2eNeeds): void {
  assertAvailable(...requirements(needs));
}
