import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RenameFile, TextDocumentEdit, TextEdit } from 'vscode-languageserver-types';
import { prepareRename, rename } from '../src/service';
import { context, cursor, indexed, unitDoc } from './fixture';

const WORKSPACE = [
  indexed('db.service', '[Unit]\nDescription=db\n'),
  indexed('web@.service', '[Unit]\nAfter=db.service\nRequires=db.service\n[X-Fleet]\nMachineOf=db.service\n'),
  indexed('cache.service', '[Unit]\nWants=db.service web@1.service\n[X-Fleet]\nConflicts=db*\nReplaces=d*.service\n'),
  indexed('spec@.service', '[X-Fleet]\nMachineOf=db.service\nConflicts=%p@*.service\n'),
];

/** The rename's edits as `file:line:character old→new`, the file renames, and what was left alone. */
function renameAt(fixture: string, newName: string, name = 'app.service') {
  const { text, offset } = cursor(fixture);
  const doc = unitDoc(text, name);
  const result = rename(doc, offset, newName, context({}, WORKSPACE));
  const edits: string[] = [];
  const files: string[] = [];
  for (const c of result.edit.documentChanges ?? []) {
    if ('kind' in c) files.push(`${(c as RenameFile).oldUri} → ${(c as RenameFile).newUri}`);
    else
      for (const e of (c as TextDocumentEdit).edits)
        edits.push(`${c.textDocument.uri.slice(8)}:${e.range.start.line}:${e.range.start.character} ${(e as TextEdit).newText}`);
  }
  return { edits, files, notChanged: result.notChanged.map(n => `${n.uri.slice(8)}:${n.range.start.line} ${n.reason}`) };
}

describe('rename', () => {
  test('prepare: the exact unit name under the cursor; not globs, specifiers or other values', () => {
    const at = (fixture: string) => {
      const { text, offset } = cursor(fixture);
      return prepareRename(unitDoc(text, 'app@1.service'), offset, context({}, WORKSPACE)) ?? null;
    };
    assert.deepEqual(at('[Unit]\nAfter=a.service d$0b.service\n'), {
      range: { start: { line: 1, character: 16 }, end: { line: 1, character: 26 } },
      placeholder: 'db.service',
    });
    assert.equal(at('[X-Fleet]\nConflicts=d$0b*\n'), null);
    assert.equal(at('[X-Fleet]\nMachineOf=web@%$0i.service\n'), null);
    assert.equal(at('[Unit]\nDescription=d$0b.service\n'), null);
  });

  test('every reference across the workspace, the file renamed; a glob that no longer matches is reported', () => {
    assert.deepEqual(renameAt('[Unit]\nBindsTo=d$0b.service\n', 'data.service'), {
      edits: [
        'ws/app.service:1:8 data.service',
        'ws/cache.service:1:6 data.service',
        'ws/spec@.service:1:10 data.service',
        'ws/web@.service:1:6 data.service',
        'ws/web@.service:2:9 data.service',
        'ws/web@.service:4:10 data.service',
      ],
      files: ['file:///ws/db.service → file:///ws/data.service'],
      notChanged: ['ws/cache.service:3 the glob db* matched db.service and does not match data.service'],
    });
  });

  test('a template: its instances follow; the file is renamed', () => {
    assert.deepEqual(renameAt('[Unit]\nAfter=web@$0.service web@2.service\n', 'api@.service'), {
      edits: ['ws/app.service:1:6 api@.service', 'ws/app.service:1:19 api@2.service', 'ws/cache.service:1:17 api@1.service'],
      files: ['file:///ws/web@.service → file:///ws/api@.service'],
      notChanged: [],
    });
  });

  test('bad new names are refused with the fix', () => {
    assert.throws(() => renameAt('[Unit]\nAfter=d$0b.service\n', 'db.socket'), /unit type changes \(\.service → \.socket\); keep the suffix/);
    assert.throws(() => renameAt('[Unit]\nAfter=d$0b.service\n', 'db@.service'), /a template must stay a template/);
    assert.throws(() => renameAt('[Unit]\nAfter=d$0b.service\n', 'bad name.service'), /Cannot rename db.service to "bad name.service"/);
    assert.throws(() => renameAt('[Unit]\nDescr$0iption=x\n', 'x.service'), /Put the cursor on a unit name/);
  });
});
