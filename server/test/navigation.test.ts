import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { definition, references } from '../src/service';
import { context, cursor, indexed, unitDoc } from './fixture';

const at0 = (uri: string) => ({ uri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } });
const r = (l0: number, c0: number, l1: number, c1: number) => ({ start: { line: l0, character: c0 }, end: { line: l1, character: c1 } });

const WORKSPACE = [
  indexed('db.service', '[Unit]\nDescription=db\n'),
  indexed('web@.service', '[Unit]\nAfter=db.service\n[X-Fleet]\nMachineOf=db.service\n'),
  indexed('cache-1.service', '[Unit]\nWants=db.service web@1.service\n'),
  indexed('cache-2.service', '[X-Fleet]\nConflicts=cache-*\n'),
];

function definitionAt(fixture: string, name = 'app.service') {
  const { text, offset } = cursor(fixture);
  return definition(unitDoc(text, name), offset, context({}, WORKSPACE));
}

describe('definition', () => {
  test('a dependency or MachineOf name → the file with that base name', () => {
    assert.deepEqual(definitionAt('[Unit]\nAfter=network.target d$0b.service\n'), [at0('file:///ws/db.service')]);
    assert.deepEqual(definitionAt('[X-Fleet]\nMachineOf=$0db.service\n'), [at0('file:///ws/db.service')]);
  });

  test("an instance → its template file; specifiers substituted with this file's name", () => {
    assert.deepEqual(definitionAt('[Unit]\nRequires=web@$07.service\n'), [at0('file:///ws/web@.service')]);
    assert.deepEqual(definitionAt('[X-Fleet]\nMachineOf=web@%i$0.service\n', 'app@2.service'), [at0('file:///ws/web@.service')]);
  });

  test('a glob → every matching file (but not this one)', () => {
    assert.deepEqual(definitionAt('[X-Fleet]\nConflicts=cache-$0*\n', 'cache-1.service'), [at0('file:///ws/cache-2.service')]);
    assert.deepEqual(definitionAt('[X-Fleet]\nConflicts=cache-$0*\n'), [at0('file:///ws/cache-1.service'), at0('file:///ws/cache-2.service')]);
  });

  test('nothing off a unit name, or for unknown names', () => {
    assert.deepEqual(definitionAt('[Unit]\nDescription=d$0b.service\n'), []);
    assert.deepEqual(definitionAt('[Unit]\nAfter=nope$0.service\n'), []);
    assert.deepEqual(definitionAt('[Unit]\nAf$0ter=db.service\n'), []);
  });
});

describe('references', () => {
  test('every mention of this unit in the workspace, by exact name', () => {
    const doc = unitDoc('[Unit]\nDescription=db\n', 'db.service', 'file:///ws/db.service');
    assert.deepEqual(references(doc, context({}, WORKSPACE)), [
      { uri: 'file:///ws/cache-1.service', range: r(1, 6, 1, 16) },
      { uri: 'file:///ws/web@.service', range: r(1, 6, 1, 16) },
      { uri: 'file:///ws/web@.service', range: r(3, 10, 3, 20) },
    ]);
  });

  test('a template is referenced by its instances; globs count', () => {
    const tpl = unitDoc('[Unit]\n', 'web@.service', 'file:///ws/web@.service');
    assert.deepEqual(references(tpl, context({}, WORKSPACE)), [{ uri: 'file:///ws/cache-1.service', range: r(1, 17, 1, 30) }]);
    const c1 = unitDoc('[Unit]\n', 'cache-1.service', 'file:///ws/cache-1.service');
    assert.deepEqual(references(c1, context({}, WORKSPACE)), [{ uri: 'file:///ws/cache-2.service', range: r(1, 10, 1, 17) }]);
  });

  test('on a unit name in a value: the references of that unit', () => {
    const { text, offset } = cursor('[Unit]\nAfter=d$0b.service\n');
    const doc = unitDoc(text, 'app.service', 'file:///ws/app.service');
    // The index holds this file too (from disk): it is listed once, with the open text.
    assert.deepEqual(references(doc, context({}, [...WORKSPACE, indexed('app.service', '[Unit]\nAfter=db.service\n')]), offset), [
      { uri: 'file:///ws/app.service', range: r(1, 6, 1, 16) },
      { uri: 'file:///ws/cache-1.service', range: r(1, 6, 1, 16) },
      { uri: 'file:///ws/web@.service', range: r(1, 6, 1, 16) },
      { uri: 'file:///ws/web@.service', range: r(3, 10, 3, 20) },
    ]);
  });

  test('an untitled document has no references', () => {
    assert.deepEqual(references(unitDoc('[Unit]\n', undefined), context({}, WORKSPACE)), []);
  });
});
