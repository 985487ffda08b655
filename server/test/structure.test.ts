import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SymbolKind, type SelectionRange } from 'vscode-languageserver-types';
import { parseUnitFile } from '../../unitfile/src';
import { documentHighlights, selectionRanges, workspaceSymbols, WorkspaceIndex } from '../src/service';
import { context, cursor, indexed, unitDoc } from './fixture';

function highlights(fixture: string): string[] {
  const { text, offset } = cursor(fixture);
  return documentHighlights(unitDoc(text, 'app.service'), offset, context()).map(
    h => `${h.range.start.line}:${h.range.start.character}-${h.range.end.character}`,
  );
}

/** The chain of selected texts from the innermost out. */
function chain(fixture: string): string[] {
  const { text, offset } = cursor(fixture);
  const doc = unitDoc(text);
  const out: string[] = [];
  for (let r: SelectionRange | undefined = selectionRanges(doc, [offset])[0]; r; r = r.parent) {
    out.push(text.slice(doc.document.offsetAt(r.range.start), doc.document.offsetAt(r.range.end)));
  }
  return out;
}

describe('document highlight', () => {
  test('every occurrence of the unit name under the cursor, globs that match it included', () => {
    assert.deepEqual(highlights('[Unit]\nAfter=d$0b.service\nRequires=db.service web.service\n[X-Fleet]\nMachineOf=db.service\nConflicts=d*\n'), [
      '1:6-16',
      '2:9-19',
      '4:10-20',
      '5:10-12',
    ]);
    assert.deepEqual(highlights('[Unit]\nDescription=d$0b.service\nAfter=db.service\n'), []);
  });
});

describe('selection ranges', () => {
  test('word → value → line → section → file', () => {
    const fixture = '[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/web --p$0ort 80\nType=simple\n';
    assert.deepEqual(chain(fixture), [
      '--port',
      '/bin/web --port 80',
      'ExecStart=/bin/web --port 80',
      '[Service]\nExecStart=/bin/web --port 80\nType=simple',
      '[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/web --port 80\nType=simple',
    ]);
  });

  test('a key → the line; a header → the section', () => {
    assert.deepEqual(chain('[Unit]\nDescr$0iption=x\n'), ['Description', 'Description=x', '[Unit]\nDescription=x']);
    assert.deepEqual(chain('[Un$0it]\nDescription=x\n'), ['[Unit]', '[Unit]\nDescription=x']);
  });
});

describe('workspace symbols', () => {
  const units = [
    indexed('web@.service', '[Unit]\nDescription=w\n\n[Service]\nExecStart=/bin/web\n[X-Fleet]\nConflicts=web@*\n'),
    indexed('db.service', '[Unit]\n[Service]\n'),
  ];
  test('units and their sections, fuzzy, sorted by unit', () => {
    const list = (q: string) =>
      workspaceSymbols(q, context({}, units)).map(
        s => `${s.containerName ? `${s.containerName} ` : ''}${s.name} ${s.location.range.start.line}:${s.location.range.start.character}`,
      );
    assert.deepEqual(list('web'), ['web@.service 0:0', 'web@.service [Unit] 0:0', 'web@.service [Service] 3:0', 'web@.service [X-Fleet] 5:0']);
    assert.deepEqual(list('xflt'), ['web@.service [X-Fleet] 5:0']);
    assert.deepEqual(list('dbserv'), ['db.service 0:0', 'db.service [Unit] 0:0', 'db.service [Service] 1:0']);
  });

  test('1,000 files answer in well under 50 ms', () => {
    const text = '[Unit]\nDescription=x\nAfter=db.service\n[Service]\nExecStart=/bin/x\n[X-Fleet]\nMachineMetadata=region=us\n'.repeat(3);
    const file = parseUnitFile(text);
    const big = Array.from({ length: 1000 }, (_, i) => ({ name: `app-${i}.service`, file, uri: `file:///ws/app-${i}.service` }));
    const ctx = { ...context(), index: WorkspaceIndex.of(big) };
    workspaceSymbols('app', ctx);
    const started = performance.now();
    const hits = workspaceSymbols('app-99', ctx);
    const q = workspaceSymbols('service', ctx);
    const elapsed = performance.now() - started;
    assert.ok(hits.some(h => h.kind === SymbolKind.File && h.name === 'app-99.service'));
    assert.ok(hits.every(h => /a.*p.*p.*-.*9.*9/.test(`${h.containerName ?? ''} ${h.name}`)));
    assert.equal(q.length, 500, 'capped');
    assert.ok(elapsed < 50, `${elapsed.toFixed(1)} ms`);
  });
});
