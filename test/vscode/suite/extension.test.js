// The extension in a real extension host: language ids, activation, diagnostics from the server.
// Open test/vscode/workspace (or a copy of it) as the workspace folder.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const EXTENSION_ID = 'fleet-tools.vscode-fleet';

async function waitFor(what, probe, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = probe();
    if (last) return last;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function workspaceFile(name) {
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  assert.ok(folder, 'a workspace folder is open (test/vscode/workspace or a copy)');
  return vscode.Uri.joinPath(folder.uri, name);
}

function extension() {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is loaded in the extension host`);
  return ext;
}

suite('Fleet extension in a real extension host', () => {
  suiteSetup(() => {
    console.log(`vscode ${vscode.version}, remoteName=${vscode.env.remoteName}, uiKind=${vscode.env.uiKind}`);
  });

  test('.service and .timer files open with language id fleet-unit', async () => {
    for (const name of ['web.service', 'backup.timer', 'bad.service']) {
      const doc = await vscode.workspace.openTextDocument(workspaceFile(name));
      assert.strictEqual(doc.languageId, 'fleet-unit', name);
    }
  });

  test('the extension activates', async () => {
    const ext = extension();
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  test('a bad unit file gets fleet diagnostics (source "fleet") from the language server', async function () {
    if (!fs.existsSync(path.join(extension().extensionPath, 'dist', 'server.js'))) {
      console.log('SKIPPED: waiting for the language server (no dist/server.js in the extension)');
      this.skip();
    }
    const uri = workspaceFile('bad.service');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    const fleet = () => vscode.languages.getDiagnostics(uri).filter(d => d.source === 'fleet');
    const wanted = [
      ['unrecognized requirement in [X-Fleet] section: "MachineMetaData"; did you mean MachineMetadata?', vscode.DiagnosticSeverity.Warning],
      ['MachineID cannot be used with Peers', vscode.DiagnosticSeverity.Error],
    ];
    const diagnostics = await waitFor('fleet diagnostics on bad.service',
      () => wanted.every(([message]) => fleet().some(d => d.message === message)) && fleet());
    for (const [message, severity] of wanted) {
      const d = diagnostics.find(x => x.message === message);
      assert.strictEqual(d.severity, severity, message);
    }
    const unknownKey = diagnostics.find(d => d.message.startsWith('unrecognized requirement'));
    assert.strictEqual(unknownKey.range.start.line, 8, 'the MachineMetaData line');
  });
});
