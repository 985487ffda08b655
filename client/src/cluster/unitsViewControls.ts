/**
 * The vscode adapter of unitFilter.ts: "Fleet: Filter Units…" (an input box that validates as
 * you type) and "Fleet: Clear Units Filter", the `fleet.unitsFiltered` context key, the Units
 * view's description, and the ExplorerOptions the Units view renders with (the configured
 * grouping, or the automatic one of a large cluster).
 */
import * as vscode from 'vscode';
import type { ClusterModel } from './clusterModel';
import { ExplorerOptions, GROUP_BY_VALUES } from './treeItems';
import { decideGrouping, filterRows, parseUnitFilter, unitsViewDescription, type GroupBy, type UnitFilter } from './unitFilter';
import { unitRows } from './unitRows';

export const FILTER_UNITS_COMMAND = 'fleet.filterUnits';
export const CLEAR_UNITS_FILTER_COMMAND = 'fleet.clearUnitsFilter';
export const FILTERED_CONTEXT = 'fleet.unitsFiltered';

/** The grouping the user set in some scope (not the default). */
function configuredGroupBy(): GroupBy | undefined {
  const config = vscode.workspace.getConfiguration('fleet.explorer');
  const inspected = config.inspect?.<string>('groupBy');
  const value = inspected ? (inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue) : config.get<string>('groupBy');
  return (GROUP_BY_VALUES as readonly unknown[]).includes(value) ? (value as GroupBy) : undefined;
}

export class UnitsViewControls implements vscode.Disposable {
  private filter: UnitFilter | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly model: ClusterModel,
    private readonly view: { description?: string | undefined; message?: string | undefined },
    private readonly refresh: () => void,
  ) {
    this.disposables.push(
      vscode.commands.registerCommand(FILTER_UNITS_COMMAND, (text?: unknown) => this.ask(typeof text === 'string' ? text : undefined)),
      vscode.commands.registerCommand(CLEAR_UNITS_FILTER_COMMAND, () => this.set(undefined)),
      model.onDidChange(() => this.describe()),
    );
  }

  /** The options the Units view renders with now. */
  options(): ExplorerOptions {
    const config = vscode.workspace.getConfiguration('fleet.explorer');
    const base = ExplorerOptions.from({ groupBy: config.get('groupBy'), sortBy: config.get('sortBy') });
    const view = this.model.view;
    const count = view.kind === 'connected' ? view.snapshot.units.length : 0;
    const decision = decideGrouping(configuredGroupBy(), count, this.filter !== undefined);
    return {
      ...base,
      groupBy: decision.groupBy,
      ...(decision.collapseGroups ? { collapseGroups: true } : {}),
      ...(this.filter ? { filter: this.filter } : {}),
    };
  }

  get filterText(): string {
    return this.filter?.text ?? '';
  }

  /** Asks for the filter (or takes `text`, e.g. from a test or a keybinding's args) and applies it. */
  private async ask(text: string | undefined): Promise<void> {
    if (text === undefined) {
      text = await vscode.window.showInputBox({
        title: 'Fleet: Filter Units',
        value: this.filterText,
        prompt:
          'Unit names (a substring, or a glob such as web@*.service), state:failed, machine:<ID prefix or IP>; all terms must match. Empty shows every unit.',
        placeHolder: 'e.g. nginx state:launched',
        validateInput: value => parseUnitFilter(value).error,
      });
      if (text === undefined) return;
    }
    const parsed = parseUnitFilter(text);
    if (parsed.error) {
      void vscode.window.showErrorMessage(`Fleet: Filter Units: ${parsed.error}`);
      return;
    }
    this.set(parsed.filter);
  }

  private set(filter: UnitFilter | undefined): void {
    this.filter = filter;
    void vscode.commands.executeCommand('setContext', FILTERED_CONTEXT, filter !== undefined);
    this.describe();
    this.refresh();
  }

  /** The view's description (filter and counts) and, when the filter hides every unit, its message. */
  private describe(): void {
    const view = this.model.view;
    if (view.kind !== 'connected') {
      this.view.description = this.filter ? `filter: ${this.filter.text}` : undefined;
      return;
    }
    const { snapshot } = view;
    const rows = unitRows(snapshot);
    const shown = this.filter ? filterRows(rows, this.filter, snapshot.machines).length : rows.length;
    const decision = decideGrouping(configuredGroupBy(), snapshot.units.length, this.filter !== undefined);
    this.view.description = unitsViewDescription(this.filter, shown, rows.length, decision);
    if (this.filter && shown === 0 && rows.length > 0)
      this.view.message = `No units match the filter "${this.filter.text}". Run Fleet: Clear Units Filter to show all ${rows.length}.`;
    else if (this.view.message?.startsWith('No units match the filter')) this.view.message = undefined;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
