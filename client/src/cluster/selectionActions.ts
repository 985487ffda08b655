/**
 * Which explorer actions a selection offers: a unit's own actions follow its state (the same
 * rules as the manifest's `view/item/context` menus, kept equal by a test), and a selection of
 * several nodes offers only the actions valid for every one of them that act on many at once.
 * VS Code itself keeps, for several selected nodes, only the menu entries whose `when` holds for
 * each node (its tree view's TreeMenus, 1.100); the manifest adds `!listMultiSelection` to the
 * actions that take one node. Both are read in the workbench as the selection changes, so the menu
 * never waits for the extension host. Pure; no `vscode` import.
 */

/** Each context-menu action of an explorer node, by the node's contextValue (`fleet.unit.launched.global`, `fleet.machine`, …). */
export const ITEM_ACTIONS: Readonly<Record<string, (contextValue: string) => boolean>> = {
  'fleet.startUnit': cv => /^fleet\.unit\.(inactive|loaded)(\.global)?$/.test(cv),
  'fleet.loadUnit': cv => /^fleet\.unit\.inactive(\.global)?$/.test(cv),
  'fleet.stopUnit': cv => /^fleet\.unit\.launched/.test(cv),
  'fleet.unloadUnit': cv => /^fleet\.unit\.(loaded|launched)/.test(cv),
  'fleet.createTemplateInstances': cv => /^fleet\.unit\..*\.template$/.test(cv),
  'fleet.showUnitFile': cv => /^fleet\.unit\.(inactive|loaded|launched)/.test(cv),
  'fleet.showUnitStatus': cv => /^fleet\.unit\.(inactive|loaded|launched)/.test(cv),
  'fleet.showUnitJournal': cv => /^fleet\.unit\.(loaded|launched)/.test(cv) || cv === 'fleet.unitState',
  'fleet.copyMachineId': cv => cv === 'fleet.machine' || cv === 'fleet.unitState' || /^fleet\.unit\.(loaded|launched)/.test(cv),
  'fleet.openMachineShell': cv => cv === 'fleet.machine' || cv === 'fleet.unitState' || /^fleet\.unit\.(loaded|launched)/.test(cv),
  'fleet.replaceUnit': cv => /^fleet\.unit\.(inactive|loaded|launched)/.test(cv),
  'fleet.destroyUnit': cv => /^fleet\.unit\./.test(cv),
  // Only on the local cluster (its own context keys say when), and one machine at a time.
  'fleet.removeMachine': cv => cv === 'fleet.machine',
};

/** The actions that act on every selected unit; the others take one node (a diff, a template, a machine). */
export const MANY_AT_ONCE: ReadonlySet<string> = new Set([
  'fleet.startUnit',
  'fleet.loadUnit',
  'fleet.stopUnit',
  'fleet.unloadUnit',
  'fleet.destroyUnit',
  'fleet.showUnitFile',
  'fleet.showUnitStatus',
  'fleet.showUnitJournal',
]);

/** The actions a node offers on its own. */
export function itemActions(contextValue: string): string[] {
  return Object.keys(ITEM_ACTIONS).filter(command => ITEM_ACTIONS[command]!(contextValue));
}

/** The actions a selection offers: for several nodes, those valid for all that act on many at once. */
export function selectionActions(contextValues: readonly string[]): Set<string> {
  if (contextValues.length === 0) return new Set();
  if (contextValues.length === 1) return new Set(itemActions(contextValues[0]!));
  return new Set(Object.keys(ITEM_ACTIONS).filter(command => MANY_AT_ONCE.has(command) && contextValues.every(cv => ITEM_ACTIONS[command]!(cv))));
}
