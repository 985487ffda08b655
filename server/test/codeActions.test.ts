import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CodeAction, TextEdit } from 'vscode-languageserver-types';
import { validateUnitFile } from '../../unitfile/src';
import { codeActions, computeProblems } from '../src/service';
import { applyEdits, context, cursor, unitDoc } from './fixture';

function actionsAt(fixture: string) {
  const { text, offset, end } = cursor(fixture);
  const doc = unitDoc(text);
  const actions = codeActions(doc, offset, end, computeProblems(doc, context()));
  const apply = (a: CodeAction) => applyEdits(doc, a.edit!.changes![doc.document.uri] as TextEdit[]);
  return { doc, actions, titles: actions.map(a => a.title), apply };
}

describe('code actions', () => {
  test('quick fixes from problems, preferred first-class, with their diagnostic', () => {
    const { actions, titles, apply } = actionsAt('[Unit]\nDescription=x\n[X-Fleet]\nMachine$0MetaData=region=us\n');
    assert.deepEqual(titles, ['Change to MachineMetadata=', 'Disable xfleet-unknown-key for this line', 'Disable xfleet-unknown-key for this file']);
    assert.equal(actions[0]!.isPreferred, true);
    assert.equal(actions[0]!.kind, 'quickfix');
    assert.deepEqual(
      actions[0]!.diagnostics!.map(d => d.code),
      ['xfleet-unknown-key'],
    );
    assert.equal(apply(actions[0]!), '[Unit]\nDescription=x\n[X-Fleet]\nMachineMetadata=region=us\n');
  });

  test('the suppression comments silence exactly that rule', () => {
    const { actions, apply } = actionsAt('[Service]\nExecStart=/bin/true\n[X-Fleet]\n  Machine$0MetaData=region=us\n');
    const line = apply(actions[1]!);
    assert.equal(line, '[Service]\nExecStart=/bin/true\n[X-Fleet]\n  # fleet-disable-next-line xfleet-unknown-key\n  MachineMetaData=region=us\n');
    assert.deepEqual(
      validateUnitFile(unitDoc(line).file, { unitName: 'web.service' }).map(p => p.code),
      [],
    );
    const file = apply(actions[2]!);
    assert.equal(file, '# fleet-disable xfleet-unknown-key\n[Service]\nExecStart=/bin/true\n[X-Fleet]\n  MachineMetaData=region=us\n');
    assert.deepEqual(
      validateUnitFile(unitDoc(file).file, { unitName: 'web.service' }).map(p => p.code),
      [],
    );
  });

  test('a second file-level suppression joins the existing comment', () => {
    const { actions, apply } = actionsAt('# fleet-disable fleet-install-section\n[Unit]\nDescription=x\n[X-Fleet]\nMachine$0MetaData=region=us\n');
    assert.equal(
      apply(actions[2]!),
      '# fleet-disable fleet-install-section, xfleet-unknown-key\n[Unit]\nDescription=x\n[X-Fleet]\nMachineMetaData=region=us\n',
    );
  });

  test("fleet's own errors get their fixes but no suppression (the API would still refuse the unit)", () => {
    const { titles } = actionsAt('[X-Fleet]\nMachine$0ID=4d389537d9d14bdabe8be54a9c29f68d\nMachineOf=db.service\n');
    assert.deepEqual(titles, ['Remove MachineID=']);
  });

  test('nothing where there is no problem', () => {
    assert.deepEqual(actionsAt('[Unit]\nDescri$0ption=x\n').titles, []);
  });

  test('a range selects every problem it touches', () => {
    const { titles } = actionsAt('[X-Fleet]\n$0MachineMetaData=a=b\nConflict=x\n$0');
    assert.ok(titles.includes('Change to MachineMetadata='), titles.join());
    assert.ok(
      titles.some(t => t.startsWith('Change to Conflicts=')),
      titles.join(),
    );
  });
});
