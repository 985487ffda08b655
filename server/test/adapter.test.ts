/** The LSP adapter's plain parts: the diagnostics throttle, the workspace index, URIs, the parse cache. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseUnitFile } from '../../unitfile/src';
import { DiagnosticsScheduler } from '../src/lsp/diagnosticsScheduler';
import { ParseCache } from '../src/lsp/parseCache';
import { isUnitFileName, unitNameOf } from '../src/lsp/uris';
import { SCAN_LIMITS, WorkspaceUnits } from '../src/lsp/workspaceUnits';

const tick = () => new Promise(r => setImmediate(r));
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('DiagnosticsScheduler', () => {
  test('validates at once after a quiet period, then at most once per delay, coalescing bursts', async () => {
    let now = 1000;
    const runs: [string, number][] = [];
    const s = new DiagnosticsScheduler(
      uri => runs.push([uri, now]),
      50,
      () => now,
    );
    s.schedule('a');
    s.schedule('a');
    s.schedule('b');
    await tick();
    assert.deepEqual(
      runs,
      [
        ['a', 1000],
        ['b', 1000],
      ],
      'first publish is immediate, a burst is one run',
    );
    now = 1010;
    s.schedule('a'); // within the delay: trailing run, ~40 ms later
    s.schedule('a');
    await tick();
    assert.equal(runs.length, 2);
    for (let i = 0; i < 100 && runs.length < 3; i++) await sleep(5);
    assert.deepEqual(runs[2], ['a', 1010]);
    assert.equal(runs.length, 3);
    s.dispose();
  });

  test('cancel drops a pending run', async () => {
    const runs: string[] = [];
    const s = new DiagnosticsScheduler(uri => runs.push(uri), 50);
    s.schedule('a');
    s.cancel('a');
    await sleep(10);
    assert.deepEqual(runs, []);
    s.dispose();
  });
});

describe('uris', () => {
  test('unit names from URIs', () => {
    assert.equal(unitNameOf('file:///ws/web%401.service'), 'web@1.service');
    assert.equal(unitNameOf('file:///ws/dir/db.service?x#y'), 'db.service');
    assert.equal(unitNameOf('untitled:Untitled-1'), undefined);
    assert.equal(unitNameOf('file:///ws/bad%zz.service'), 'bad%zz.service');
    assert.ok(isUnitFileName('a.timer') && !isUnitFileName('.service') && !isUnitFileName('a.conf'));
  });
});

describe('ParseCache', () => {
  test('parses once per version', () => {
    const cache = new ParseCache();
    const d1 = TextDocument.create('file:///ws/a.service', 'fleet-unit', 1, '[Unit]\n');
    const a = cache.get(d1);
    assert.equal(cache.get(d1), a);
    assert.equal(a.unitName, 'a.service');
    const d2 = TextDocument.update(d1, [{ text: '[Service]\n' }], 2);
    const b = cache.get(d2);
    assert.notEqual(b, a);
    assert.deepEqual(
      b.file.sections.map(s => s.name),
      ['Service'],
    );
    cache.delete(d2.uri);
    assert.equal(cache.size, 0);
  });
});

describe('WorkspaceUnits', () => {
  test('scans unit files (skipping node_modules, dot folders, other files and huge files); open documents win', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-ws-'));
    try {
      fs.mkdirSync(path.join(dir, 'units/nested'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'node_modules/pkg'), { recursive: true });
      fs.mkdirSync(path.join(dir, '.git'));
      fs.writeFileSync(path.join(dir, 'units/web.service'), '[Unit]\nDescription=disk\n');
      fs.writeFileSync(path.join(dir, 'units/nested/db.timer'), '[Timer]\nOnBootSec=1\n');
      fs.writeFileSync(path.join(dir, 'node_modules/pkg/x.service'), '[Unit]\n');
      fs.writeFileSync(path.join(dir, '.git/y.service'), '[Unit]\n');
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
      fs.writeFileSync(path.join(dir, 'huge.service'), 'x'.repeat(SCAN_LIMITS.maxFileBytes + 1));
      const logs: string[] = [];
      const ws = new WorkspaceUnits(m => logs.push(m));
      assert.equal(await ws.scan([pathToFileURL(dir).href]), 2);
      assert.deepEqual([...ws.snapshot().units()].map(u => u.name).sort(), ['db.timer', 'web.service']);

      const uri = pathToFileURL(path.join(dir, 'units/web.service')).href;
      const view = ws.snapshot();
      ws.setOpen(uri, parseUnitFile('[Unit]\nDescription=open\n'));
      assert.equal(view.get('web.service')!.file.options[0]!.value, 'open', 'the index is a live view: an opened document wins at once');
      ws.setOpen(uri, parseUnitFile('[Unit]\nDescription=edited\n'));
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'edited', 'an edit of an open document replaces its entry');
      // Two open documents with one name (two folders): the first opened wins, whichever is edited.
      const other = pathToFileURL(path.join(dir, 'other/web.service')).href;
      ws.setOpen(other, parseUnitFile('[Unit]\nDescription=other\n'));
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'other', 'the later opened document wins, as in a rebuild');
      ws.setOpen(uri, parseUnitFile('[Unit]\nDescription=edited again\n'));
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'other', 'editing the losing document does not make it win');
      ws.setOpen(other, parseUnitFile('[Unit]\nDescription=other edited\n'));
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'other edited');
      ws.setOpen(other, undefined);
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'edited again', 'closing the winner: the other open document wins');
      assert.equal([...ws.snapshot().units()].filter(u => u.name === 'web.service').length, 1);
      ws.setOpen(uri, undefined);
      assert.equal(ws.snapshot().get('web.service')!.file.options[0]!.value, 'disk');

      ws.removeUnder(pathToFileURL(path.join(dir, 'units/nested')).href);
      assert.deepEqual([...ws.snapshot().units()].map(u => u.name).sort(), ['web.service']);

      fs.rmSync(path.join(dir, 'units/web.service'));
      assert.equal(await ws.readFromDisk(uri), false);
      assert.equal(ws.snapshot().get('web.service'), undefined);
      assert.equal(await ws.scan(['file:///nonexistent-dir-for-fleet-test']), 0);
      assert.ok(
        logs.some(l => l.includes('cannot read')),
        logs.join('\n'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
