/** The explorer's context menus: one node's actions by its state, several nodes' only what applies to all. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { itemActions, ITEM_ACTIONS, selectionActions, selectionContext, SELECTION_CONTEXT_PREFIX } from '../src/cluster/selectionActions';

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

/** The manifest's verdict for one node: its `viewItem` terms (`=~ /re/`, `== value`), or-ed, as VS Code reads them. */
function manifestOffers(when: string, contextValue: string): boolean {
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

  test('every context-menu action reads its selection key while several nodes are selected', () => {
    for (const m of entries) assert.ok(m.when!.includes(`(!listMultiSelection || ${SELECTION_CONTEXT_PREFIX}${m.command})`), `${m.command}: ${m.when}`);
    assert.deepEqual(new Set(entries.map(m => m.command)), new Set(Object.keys(ITEM_ACTIONS)));
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
    const keys = selectionContext(['fleet.unit.launched', 'fleet.unit.loaded']);
    assert.equal(keys['fleet.selectionCan.fleet.stopUnit'], false);
    assert.equal(keys['fleet.selectionCan.fleet.unloadUnit'], true);
    assert.equal(Object.keys(keys).length, Object.keys(ITEM_ACTIONS).length);
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

  test('the Machines view starts at a quarter of the Units view (a few machines, many units)', () => {
    const views = manifest.contributes.views['fleet']!;
    const size = (id: string) => views.find(v => v.id === id)?.initialSize;
    assert.deepEqual([size('fleet.machines'), size('fleet.units')], [1, 3]);
  });
});
