// Mocha (tdd UI) inside the real VS Code extension host. VS Code loads this file as
// `extensionTestsPath` and awaits run(); a rejection makes the test run exit non-zero.
//
// Here (no desktop VS Code can be downloaded on these machines) test/e2e/extensionHost.e2e.test.ts
// runs it in code-server through the workbench's `payload` URL parameter, with
// extensionDevelopmentPath = the repository root, and reads window.codeAutomationExit.
//
// On a machine with desktop VS Code the same suite runs under @vscode/test-electron:
//
//   npm run build && node test/vscode/runElectron.js
//
// The extension's main is dist/extension.js. The suite edits documents in memory only, never on
// disk. Environment: FLEET_VSCODE_GREP filters tests by title; FLEET_VSCODE_RESULTS names a JSON file
// that receives { passes, failures, pending, tests: [{ title, state, error }] }.
'use strict';
const fs = require('fs');
const path = require('path');
const Mocha = require('mocha');

exports.run = function run() {
  const mocha = new Mocha({ ui: 'tdd', timeout: 30000, color: false, reporter: 'spec' });
  if (process.env.FLEET_VSCODE_GREP) mocha.grep(process.env.FLEET_VSCODE_GREP);
  for (const file of fs
    .readdirSync(__dirname)
    .filter(f => f.endsWith('.test.js'))
    .sort()) {
    mocha.addFile(path.join(__dirname, file));
  }
  return new Promise((resolve, reject) => {
    const tests = [];
    const runner = mocha.run(failures => {
      const results = process.env.FLEET_VSCODE_RESULTS;
      if (results) {
        const { passes, failures: failed, pending } = runner.stats;
        fs.writeFileSync(results, JSON.stringify({ passes, failures: failed, pending, tests }, null, 1));
      }
      if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
    runner.on('pass', t => tests.push({ title: t.fullTitle(), state: 'passed' }));
    runner.on('pending', t => tests.push({ title: t.fullTitle(), state: 'pending' }));
    runner.on('fail', (t, err) => tests.push({ title: t.fullTitle(), state: 'failed', error: String((err && err.stack) || err) }));
  });
};
