/**
 * The map webviews' shell (CSP: nothing runs or styles without the nonce) and the context actions
 * a chip offers, read from the real manifest's view/item/context menu.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { contextActions, makeNonce, webviewShell, type MenuItem } from '../src/maps/webviewParts';

const manifest = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
  contributes: { menus: Record<string, MenuItem[]>; commands: { command: string; title: string }[] };
};
const menu = manifest.contributes.menus['view/item/context']!;
const titles = new Map(manifest.contributes.commands.map(c => [c.command, c.title]));

describe('webviewShell', () => {
  test('a strict CSP: scripts and styles only with the nonce, nothing else loads', () => {
    const nonce = makeNonce(n => new Uint8Array(n).map((_, i) => i * 7));
    assert.equal(nonce.length, 32);
    const html = webviewShell({
      cspSource: 'https://x.vscode-cdn.net',
      nonce,
      scriptUri: 'https://x.vscode-cdn.net/dist/webview/clusterMap.js',
      title: 'Map <1>',
      css: 'body{}',
    });
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!.replace(/&#39;/g, "'");
    assert.match(csp, /^default-src 'none'; /);
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(html, new RegExp(`<script nonce="${nonce}" src="https://x.vscode-cdn.net/dist/webview/clusterMap.js"></script>`));
    assert.match(html, /<title>Map &#60;1&#62;<\/title>/);
    assert.throws(() => webviewShell({ cspSource: 'x', nonce: 'short', scriptUri: 'x', title: 't', css: '' }), /nonce must be at least 16/);
  });
});

describe('webviewShell: the script in the page', () => {
  const nonce = 'N'.repeat(32);
  const base = { cspSource: 'https://x.vscode-cdn.net', nonce, scriptUri: 'https://x.vscode-cdn.net/dist/webview/clusterMap.js', title: 't', css: '' };

  test("the script's text inline under the nonce (no fetch of the file); the file when its text could end the element", () => {
    const html = webviewShell({ ...base, scriptText: 'document.title="a<b";' });
    assert.ok(html.includes(`<script nonce="${nonce}">document.title="a<b";</script>`));
    assert.ok(!html.includes('src='), 'nothing to fetch');
    for (const text of ['x="</script>"', 'x="</SCRIPT "', '/*<!--*/'])
      assert.ok(webviewShell({ ...base, scriptText: text }).includes(`<script nonce="${nonce}" src="${base.scriptUri}"></script>`), text);
  });
});

describe('contextActions (from package.json)', () => {
  test('a launched unit: the explorer menu without inline duplicates, in menu order', () => {
    assert.deepEqual(
      contextActions(menu, titles, 'fleet.unit.launched').map(a => a.command),
      [
        'fleet.stopUnit',
        'fleet.unloadUnit',
        'fleet.showUnitFile',
        'fleet.showUnitStatus',
        'fleet.showUnitJournal',
        'fleet.copyMachineId',
        'fleet.openMachineShell',
        'fleet.replaceUnit',
        'fleet.destroyUnit',
      ],
    );
    assert.equal(contextActions(menu, titles, 'fleet.unit.launched')[0]!.title, 'Stop Unit');
  });

  test('an inactive unit can be started and loaded; a machine copies its ID, opens a shell and (on the local cluster) is removed', () => {
    const inactive = contextActions(menu, titles, 'fleet.unit.inactive').map(a => a.command);
    assert.deepEqual(inactive.slice(0, 2), ['fleet.startUnit', 'fleet.loadUnit']);
    assert.ok(!inactive.includes('fleet.stopUnit'));
    assert.deepEqual(
      contextActions(menu, titles, 'fleet.machine').map(a => a.command),
      ['fleet.copyMachineId', 'fleet.openMachineShell', 'fleet.removeMachine'],
    );
  });
});
