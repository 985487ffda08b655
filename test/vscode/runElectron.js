#!/usr/bin/env node
// Runs test/vscode/suite in desktop VS Code with @vscode/test-electron, for machines that can
// download VS Code (these CI machines cannot: update.code.visualstudio.com is unreachable, so
// npm test runs the same suite in code-server instead; see test/e2e/extensionHost.e2e.test.ts).
//
//   npm run build && node test/vscode/runElectron.js [--version=stable|insiders|1.100.3]
//
// @vscode/test-electron is not a project dependency; it is installed into a scratch directory
// (out/test-electron) on first use.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const scratch = path.join(root, 'out', 'test-electron');
const version = (process.argv.find(a => a.startsWith('--version=')) || '--version=stable').slice('--version='.length);

function loadTestElectron() {
  const modulePath = path.join(scratch, 'node_modules', '@vscode', 'test-electron');
  if (!fs.existsSync(modulePath)) {
    fs.mkdirSync(scratch, { recursive: true });
    fs.writeFileSync(path.join(scratch, 'package.json'), '{"private":true}\n');
    console.log(`installing @vscode/test-electron into ${path.relative(root, scratch)}`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '@vscode/test-electron@3'], { cwd: scratch, stdio: 'inherit' });
  }
  return require(modulePath);
}

async function main() {
  if (!fs.existsSync(path.join(root, 'dist', 'extension.js'))) {
    throw new Error('dist/extension.js is missing: run npm run build first');
  }
  const { runTests } = loadTestElectron();
  // A copy of the workspace: the suite edits documents in memory, but never the repository's files.
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-vscode-ws-'));
  fs.cpSync(path.join(__dirname, 'workspace'), workspace, { recursive: true });
  try {
    await runTests({
      version,
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(__dirname, 'suite', 'index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
