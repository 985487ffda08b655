import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TextEdit } from 'vscode-languageserver-types';
import { refactorActions } from '../src/service';
import { applyEdits, context, cursor, unitDoc } from './fixture';

/** Each action as [title, the document after it]. */
function actions(fixture: string): [string, string][] {
  const { text, offset, end } = cursor(fixture);
  const doc = unitDoc(text);
  return refactorActions(doc, offset, end, context()).map(a => {
    assert.equal(a.kind, 'refactor.rewrite');
    return [a.title, applyEdits(doc, a.edit!.changes![doc.document.uri] as TextEdit[])];
  });
}

describe('refactor.rewrite', () => {
  test('convert every legacy [X-Fleet] key', () => {
    const text = '[X-Fleet]\nX-ConditionMachineOf=db.service\nX-Conflicts=web*\n$0X-ConditionMachineMetadata=region=us\n';
    assert.deepEqual(actions(text)[0], [
      'Convert 3 legacy [X-Fleet] keys to current spellings',
      '[X-Fleet]\nMachineOf=db.service\nConflicts=web*\nMachineMetadata=region=us\n',
    ]);
  });

  test('split a list line into one line per value; join them back', () => {
    assert.deepEqual(actions('[Unit]\nAfter=a.service $0b.service c.service\n'), [
      ['Split After= into one line per value', '[Unit]\nAfter=a.service\nAfter=b.service\nAfter=c.service\n'],
    ]);
    assert.deepEqual(actions('[Unit]\nAfter=a.service\nAf$0ter=b.service\nAfter=c.service\n\nAfter=d.service\n'), [
      ['Join 3 After= lines into one', '[Unit]\nAfter=a.service b.service c.service\n\nAfter=d.service\n'],
    ]);
    assert.deepEqual(
      actions('[X-Fleet]\nMachineMetadata=$0"region=us" "disk=ssd"\n').map(a => a[1]),
      ['[X-Fleet]\nMachineMetadata="region=us"\nMachineMetadata="disk=ssd"\n'],
    );
    assert.deepEqual(
      actions('[X-Fleet]\nMachineMetadata=region=us\n$0MachineMetadata="disk=ssd"\n').map(a => a[1]),
      ['[X-Fleet]\nMachineMetadata="region=us" "disk=ssd"\n'],
    );
    // Not a list: nothing to split.
    assert.deepEqual(actions('[Unit]\nDescription=a $0b c\n'), []);
  });

  test('sort [X-Fleet] keys (only consecutive lines, so no comment is lost)', () => {
    assert.deepEqual(actions('[X-Fleet]\n$0MachineOf=db.service\nConflicts=web*\nGlobal=false\n'), [
      ['Sort [X-Fleet] keys', '[X-Fleet]\nConflicts=web*\nGlobal=false\nMachineOf=db.service\n'],
    ]);
    assert.deepEqual(actions('[X-Fleet]\n$0MachineOf=db.service\n# why\nConflicts=web*\n'), []);
  });
});
