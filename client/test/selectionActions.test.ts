/** The explorer's context menus: one node's actions by its state, several nodes' only what applies to all. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { itemActions, ITEM_ACTIONS, MANY_AT_ONCE, selectionActions } from '../src/cluster/selectionActions';

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: {
    views: Record<string, { id: string; initialSize?: number }[]>;
    menus: Record<string, { command?: string; submenu?: string; when?: string; group?: string }[]>;
    submenus?: { id: string; label: string }[];
  };
};

const CONTEXT_VALUES = [
  'fleet.unit.inactive',
  'fleet.unit.loaded',
  'fleet.unit.launched',
  'fleet.unit.inactive.global',
  'fleet.unit.launched.global',
  'fleet.unit.inactive.template',
  'fleet.unit.loaded.template',
  'fleet.unit.orphan',
  'fleet.unitState',
  'fleet.machine',
  'fleet.group',
  'fleet.message',
];

/**
 * The manifest's verdict for one node: its `viewItem` terms (`=~ /re/`, `== value`), or-ed, as
 * VS Code reads them, and `!listMultiSelection` (false while several nodes are selected).
 */
function manifestOffers(when: string, contextValue: string, multiSelection = false): boolean {
  if (multiSelection && when.includes('!listMultiSelection')) return false;
  const terms = [...when.matchAll(/viewItem\s*(=~|==)\s*(\/(?:\\.|[^/])+\/|[\w.]+)/g)];
  assert.ok(terms.length > 0, `no viewItem term in ${when}`);
  return terms.some(([, op, arg]) => (op === '==' ? contextValue === arg : new RegExp(arg!.slice(1, -1)).test(contextValue)));
}

describe('explorer context menus', () => {
  const entries = manifest.contributes.menus['view/item/context']!.filter(m => !m.group?.startsWith('inline'));

  test('one node: the manifest offers exactly the actions selectionActions.ts says', () => {
    for (const cv of CONTEXT_VALUES) {
      const offered = entries
        .filter(m => manifestOffers(m.when!, cv))
        .map(m => m.command!)
        .sort();
      assert.deepEqual(offered, itemActions(cv).sort(), `a ${cv} node`);
    }
  });

  test('several nodes selected: the actions that take one node say !listMultiSelection, the others nothing about the selection', () => {
    for (const m of entries) {
      if (MANY_AT_ONCE.has(m.command!)) assert.ok(!m.when!.includes('listMultiSelection'), `${m.command} acts on every selected node: ${m.when}`);
      else assert.ok(/ && !listMultiSelection$/.test(m.when!), `${m.command} takes one node: ${m.when}`);
    }
    assert.deepEqual(new Set(entries.map(m => m.command)), new Set(Object.keys(ITEM_ACTIONS)));
  });

  test("several nodes: VS Code's menu (the entries whose when holds for every selected node) is exactly selectionActions", () => {
    // VS Code 1.100's tree view (TreeMenus.getActions) evaluates the menu once per selected node,
    // with that node's viewItem, and keeps only the entries every node got; listMultiSelection is
    // the tree's own context key, true while more than one node is selected.
    const menu = (selected: readonly string[]) =>
      selected
        .map(cv => new Set(entries.filter(m => manifestOffers(m.when!, cv, selected.length > 1)).map(m => m.command!)))
        .reduce((all, one) => new Set([...all].filter(c => one.has(c))));
    for (const a of CONTEXT_VALUES) {
      assert.deepEqual([...menu([a])].sort(), [...selectionActions([a])].sort(), `one ${a} node`);
      for (const b of CONTEXT_VALUES) assert.deepEqual([...menu([a, b])].sort(), [...selectionActions([a, b])].sort(), `a ${a} and a ${b} node`);
    }
  });

  test('several nodes: only what applies to all, and acts on many', () => {
    assert.deepEqual([...selectionActions(['fleet.unit.launched', 'fleet.unit.launched'])].sort(), [
      'fleet.destroyUnit',
      'fleet.showUnitFile',
      'fleet.showUnitJournal',
      'fleet.showUnitStatus',
      'fleet.stopUnit',
      'fleet.unloadUnit',
    ]);
    assert.deepEqual(
      [...selectionActions(['fleet.unit.launched', 'fleet.unit.loaded'])].sort(),
      ['fleet.destroyUnit', 'fleet.showUnitFile', 'fleet.showUnitJournal', 'fleet.showUnitStatus', 'fleet.unloadUnit'],
      'neither Start nor Stop applies to both',
    );
    assert.deepEqual([...selectionActions(['fleet.unit.inactive', 'fleet.unit.loaded'])].sort(), [
      'fleet.destroyUnit',
      'fleet.showUnitFile',
      'fleet.showUnitStatus',
      'fleet.startUnit',
    ]);
    assert.deepEqual([...selectionActions(['fleet.unit.launched', 'fleet.machine'])], [], 'a machine and a unit share nothing that acts on many');
    assert.ok(selectionActions(['fleet.unit.launched']).has('fleet.replaceUnit'), 'one node keeps its single-node actions');
    assert.ok(!selectionActions(['fleet.unit.launched', 'fleet.unit.launched']).has('fleet.replaceUnit'), 'Replace takes one unit');
  });

  test('the editor title: Start, Stop, Replace and Show Status as buttons, the rest under a Fleet submenu; templates get Create Instances', () => {
    const title = manifest.contributes.menus['editor/title']!;
    const buttons = title.filter(m => m.group?.startsWith('navigation')).map(m => m.command ?? `submenu:${m.submenu}`);
    assert.deepEqual(buttons, [
      'fleet.startUnit',
      'fleet.createTemplateInstances',
      'fleet.stopUnit',
      'fleet.replaceUnit',
      'fleet.showUnitStatus',
      'submenu:fleet.editorTitle',
    ]);
    assert.deepEqual(
      title.filter(m => !m.group?.startsWith('navigation')),
      [],
      'nothing left in the overflow menu',
    );
    assert.equal(manifest.contributes.submenus?.find(s => s.id === 'fleet.editorTitle')?.label, 'Fleet');
    const fleet = manifest.contributes.menus['fleet.editorTitle']!.map(m => m.command);
    for (const c of [
      'fleet.submitUnit',
      'fleet.loadUnit',
      'fleet.unloadUnit',
      'fleet.destroyUnit',
      'fleet.createTemplateInstances',
      'fleet.showUnitFile',
      'fleet.showUnitJournal',
      'fleet.showUnitGraph',
    ])
      assert.ok(fleet.includes(c), `${c} in the Fleet submenu`);
    // A template's file (web@.service) gets Create Instances, not Start; an instance (web@1.service) gets Start.
    const when = (command: string) => title.find(m => m.command === command)!.when!;
    const fileMatches = (w: string, name: string) => new RegExp(/resourceFilename =~ \/(.*)\/(?: |$)/.exec(w)![1]!).test(name);
    assert.ok(fileMatches(when('fleet.createTemplateInstances'), 'web@.service') && !fileMatches(when('fleet.createTemplateInstances'), 'web@1.service'));
    assert.ok(
      !fileMatches(when('fleet.startUnit'), 'web@.service') &&
        fileMatches(when('fleet.startUnit'), 'web@1.service') &&
        fileMatches(when('fleet.startUnit'), 'nginx.1.service'),
    );
  });

  test("the Machines view starts at a tenth of the side bar: VS Code's least (a 120 px body, five rows) below 1,400 px", () => {
    // initialSize is a weight (ViewPaneContainer.computeInitialSizes: the container's height times
    // weight / total weight), used until the user resizes; a pane's body is at least 120 px.
    const views = manifest.contributes.views['fleet']!;
    const size = (id: string) => views.find(v => v.id === id)?.initialSize;
    assert.deepEqual([size('fleet.machines'), size('fleet.units')], [1, 9]);
  });
});
