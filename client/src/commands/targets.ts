/**
 * Which units a command acts on: the explorer selection (multi-select), a file from the editor
 * title, context menu or explorer, or, from the palette, the active fleet-unit editor or a pick
 * from the registry.
 */
import * as vscode from 'vscode';
import type { ClusterModel } from '../cluster/clusterModel';
import type { ClusterNode } from '../cluster/treeItems';
import { unitOfTitle } from '../cluster/clusterName';
import { compareNames } from '../cluster/treeItems';
import { UNIT_SCHEME } from '../identifiers';

export interface UnitTarget {
  name: string;
  /** A local file (or an editor's document) with the unit's content. */
  uri?: vscode.Uri;
  /** The machine the target was picked on (a global unit's row under a machine). */
  machineId?: string;
}

const UNIT_FILE = /\.(service|socket|timer|path|mount|automount|device|target|slice|swap|scope)$/;

function isNode(value: unknown): value is ClusterNode {
  return !!value && typeof value === 'object' && 'kind' in value && 'id' in value;
}

function fromArg(arg: unknown): UnitTarget | undefined {
  // The language server's code lenses pass the document's URI as a string.
  if (typeof arg === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(arg)) return fromArg(vscode.Uri.parse(arg));
  if (arg instanceof vscode.Uri) {
    const name = arg.path.split('/').pop() ?? '';
    if (arg.scheme === UNIT_SCHEME) return { name: unitOfTitle(name) };
    return { name, uri: arg };
  }
  if (isNode(arg)) {
    if (arg.kind === 'unit') return { name: arg.row.name, ...(arg.row.machineId ? { machineId: arg.row.machineId } : {}) };
    if (arg.kind === 'unitState') return { name: arg.row.name, ...(arg.state.machineID ? { machineId: arg.state.machineID } : {}) };
  }
  return undefined;
}

/** Targets from command arguments, else the active editor; undefined when there are none (then ask). */
export function targetsFromArgs(arg: unknown, selection: unknown): UnitTarget[] | undefined {
  const list = Array.isArray(selection) && selection.length > 0 ? selection : arg !== undefined ? [arg] : [];
  const out = list.map(fromArg).filter((t): t is UnitTarget => !!t);
  if (out.length > 0) return out;
  if (list.length > 0) return undefined;
  const editor = vscode.window.activeTextEditor;
  if (editor && (editor.document.languageId === 'fleet-unit' || UNIT_FILE.test(editor.document.uri.path))) {
    const target = fromArg(editor.document.uri);
    if (target) return [target];
  }
  return undefined;
}

/** Asks for registry units (multi-pick) when the command came from the palette with no editor. */
export async function pickRegistryUnits(
  model: ClusterModel,
  title: string,
  filter: (desired: string | undefined) => boolean = () => true,
): Promise<UnitTarget[] | undefined> {
  await model.refresh();
  const view = model.view;
  if (view.kind !== 'connected') {
    void vscode.window.showErrorMessage(
      'Not connected to a fleet cluster; run "Fleet: Select Cluster" first, or open a unit file and run the command from the editor.',
    );
    return undefined;
  }
  const units = view.snapshot.units.filter(u => filter(u.desiredState)).sort((a, b) => compareNames(a.name, b.name));
  if (units.length === 0) {
    void vscode.window.showInformationMessage(`No units in ${view.label} for ${title}.`);
    return undefined;
  }
  const picks = await vscode.window.showQuickPick(
    units.map(u => ({ label: u.name, description: `${u.desiredState ?? 'inactive'} / ${u.currentState ?? '-'}` })),
    { title, canPickMany: true, placeHolder: 'Select units' },
  );
  if (!picks || picks.length === 0) return undefined;
  return picks.map(p => ({ name: p.label }));
}

export async function resolveTargets(model: ClusterModel, title: string, arg: unknown, selection: unknown): Promise<UnitTarget[] | undefined> {
  return targetsFromArgs(arg, selection) ?? (await pickRegistryUnits(model, title));
}
