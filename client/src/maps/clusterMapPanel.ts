/**
 * The cluster map's webview panel: draws `clusterMap()` of the ClusterModel's snapshot (it holds a
 * watch lease while visible, like the explorer views; no poller of its own), and answers the
 * webview: a chip selected → the unit selected in the Units view (TreeView.reveal) and its
 * context actions offered; an action → the explorer's command on that unit; a machine hidden →
 * "what if" by planCluster. Restored on reload by a WebviewPanelSerializer.
 */
import * as vscode from 'vscode';
import type { ClusterModel } from '../cluster/clusterModel';
import { clusterMap, MapRowCache, type ClusterMap } from '../cluster/clusterMap';
import type { ClusterChange } from '../cluster/clusterModel';
import type { ClusterSnapshot } from '../cluster/snapshot';
import type { ClusterTreeProvider } from '../cluster/clusterTree';
import { toItem, type ClusterNode } from '../cluster/treeItems';
import { contextActions, type ContextAction, type MenuItem } from './webviewParts';
import { MapSender, type MapDelta } from './mapDelta';
import { loadWebview, webviewOptions } from './panelShell';
import { MAP_CSS } from './styles';
import { errorMessage, type Log } from '../../../protocol/src/log';

export const CLUSTER_MAP_VIEW = 'fleet.clusterMap';

/** What the webview keeps with vscode.setState and the serializer hands back. */
export interface ClusterMapState {
  hide?: string | undefined;
  selected?: string | undefined;
}

export type ToClusterMap =
  /**
   * `changedAt`: Date.now() when the model's change arrived (the benchmark measures from it to the
   * paint). The map comes whole (`map`), or as what changed since message `delta.base` (`delta`,
   * mapDelta.ts), or not at all (a status instead).
   */
  | {
      type: 'map';
      label: string;
      status: string | undefined;
      map: ClusterMap | undefined;
      delta?: MapDelta;
      seq?: number;
      hide: string | undefined;
      error?: string;
      changedAt: number;
      postedAt: number;
    }
  | { type: 'selected'; unit: string; actions: ContextAction[]; inExplorer: boolean };

export type FromClusterMap =
  { type: 'ready' } | { type: 'select'; unit: string } | { type: 'run'; unit: string; command: string } | { type: 'whatIf'; machine: string | null };

export interface ClusterMapDeps {
  extensionUri: vscode.Uri;
  model: ClusterModel;
  unitsView: vscode.TreeView<ClusterNode>;
  unitsProvider: ClusterTreeProvider;
  menu: readonly MenuItem[];
  titles: ReadonlyMap<string, string>;
  log: Log;
}

export class ClusterMapPanel implements vscode.Disposable {
  static current: ClusterMapPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private release: (() => void) | undefined;
  private hide: string | undefined;
  private ready = false;
  /** Rows of the last map: a change rebuilds only the units the model's diff names. */
  private readonly rows = new MapRowCache();
  /** The snapshot of the last change event (the base of the next event's diff). */
  private seen: ClusterSnapshot | undefined;
  private since: { snapshot: ClusterSnapshot; diff: NonNullable<ClusterChange['diff']> } | undefined;
  /** What the webview was sent: a change sends only the parts of the map that changed. */
  private readonly sender = new MapSender();
  /** The map built before the webview asked for it, for the first message (if the snapshot and "what if" are still the same). */
  private prepared: { snapshot: ClusterSnapshot; hide: string | undefined; map: ClusterMap } | undefined;

  static show(deps: ClusterMapDeps): ClusterMapPanel {
    if (ClusterMapPanel.current) {
      ClusterMapPanel.current.panel.reveal();
      return ClusterMapPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(CLUSTER_MAP_VIEW, 'Fleet Cluster Map', vscode.ViewColumn.Active, webviewOptions(deps.extensionUri));
    return new ClusterMapPanel(panel, deps, {});
  }

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly deps: ClusterMapDeps,
    state: ClusterMapState,
  ) {
    ClusterMapPanel.current = this;
    this.hide = state.hide;
    loadWebview(panel, deps.extensionUri, { script: 'clusterMap.js', title: 'Fleet Cluster Map', css: MAP_CSS });
    this.prepare();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => this.updateWatch()),
      panel.webview.onDidReceiveMessage((m: FromClusterMap) => void this.receive(m)),
      deps.model.onDidChange(change => this.changed(change)),
    );
    this.updateWatch();
  }

  private updateWatch(): void {
    if (this.panel.visible && !this.release) this.release = this.deps.model.watch();
    else if (!this.panel.visible && this.release) {
      this.release();
      this.release = undefined;
    }
  }

  private changed(change: ClusterChange): void {
    const changedAt = Date.now();
    const next = change.view.kind === 'connected' ? change.view.snapshot : undefined;
    this.since = next && this.seen && change.diff ? { snapshot: this.seen, diff: change.diff } : undefined;
    this.seen = next;
    this.post(changedAt);
  }

  private post(changedAt = Date.now()): void {
    if (this.ready) void this.panel.webview.postMessage(this.message(changedAt));
  }

  /**
   * The map of the snapshot now, built while VS Code makes the webview and loads its page (the
   * extension host waits for it then), so that the webview's 'ready' is answered without
   * building it.
   */
  private prepare(): void {
    const view = this.deps.model.view;
    if (view.kind !== 'connected') return;
    // The model's next change is a diff from this snapshot: the map's rows follow it.
    this.seen = view.snapshot;
    try {
      this.prepared = { snapshot: view.snapshot, hide: this.hide, map: clusterMap(view.snapshot, { hide: this.hide, cache: this.rows, since: this.since }) };
    } catch {
      // The hidden machine left the cluster: the first message says so.
    }
  }

  /** The map message for the model's view now (the map whole, or what changed since the last message). */
  private message(changedAt = Date.now()): ToClusterMap {
    const view = this.deps.model.view;
    const label = 'label' in view ? view.label : 'no cluster';
    if (view.kind !== 'connected') {
      const status =
        view.kind === 'disconnected'
          ? 'Not connected to a cluster. Run Fleet: Select Cluster or Fleet: Start Local Cluster.'
          : view.kind === 'loading'
            ? `Reading ${view.label}…`
            : `Cannot read ${view.label}: ${view.error}`;
      this.sender.reset();
      return { type: 'map', label, status, map: undefined, hide: undefined, changedAt, postedAt: Date.now() };
    }
    let map: ClusterMap;
    let error: string | undefined;
    try {
      const prepared = this.prepared?.snapshot === view.snapshot && this.prepared.hide === this.hide ? this.prepared.map : undefined;
      this.prepared = undefined;
      map = prepared ?? clusterMap(view.snapshot, { hide: this.hide, cache: this.rows, since: this.since });
    } catch (err) {
      // The hidden machine left the cluster: show the map without "what if", and say why.
      error = errorMessage(err);
      this.hide = undefined;
      map = clusterMap(view.snapshot);
    }
    const payload = this.sender.next(map);
    const message: ToClusterMap = {
      type: 'map',
      label,
      status: view.error ? `Showing the last good read: ${view.error}` : undefined,
      map: 'map' in payload ? payload.map : undefined,
      seq: payload.seq,
      hide: this.hide,
      changedAt,
      postedAt: Date.now(),
    };
    if ('delta' in payload) message.delta = payload.delta;
    if (error) message.error = error;
    return message;
  }

  private async receive(m: FromClusterMap): Promise<void> {
    switch (m.type) {
      case 'ready':
        // A (re)loaded webview has no map yet: the next one goes whole.
        this.ready = true;
        this.sender.reset();
        this.post();
        return;
      case 'whatIf':
        this.hide = m.machine ?? undefined;
        this.post();
        return;
      case 'select': {
        const node = this.findUnitNode(m.unit);
        let inExplorer = false;
        if (node) {
          try {
            await this.deps.unitsView.reveal(node, { select: true, focus: false, expand: false });
            inExplorer = true;
          } catch (err) {
            this.deps.log('warn', `cluster map: cannot reveal ${m.unit} in the Units view: ${errorMessage(err)}`);
          }
        }
        const actions = node ? contextActions(this.deps.menu, this.deps.titles, toItem(node).contextValue) : [];
        void this.panel.webview.postMessage({ type: 'selected', unit: m.unit, actions, inExplorer } satisfies ToClusterMap);
        return;
      }
      case 'run': {
        const node = this.findUnitNode(m.unit);
        if (!node) {
          void vscode.window.showWarningMessage(`Fleet: ${m.unit} is no longer in the cluster.`);
          return;
        }
        const allowed = contextActions(this.deps.menu, this.deps.titles, toItem(node).contextValue).some(a => a.command === m.command);
        if (!allowed) {
          void vscode.window.showWarningMessage(`Fleet: ${m.command} does not apply to ${m.unit} in its current state.`);
          return;
        }
        await vscode.commands.executeCommand(m.command, node, [node]);
        return;
      }
    }
  }

  /** The unit's node in the Units view, as its provider builds it (top level, or under a group). */
  private findUnitNode(name: string): ClusterNode | undefined {
    const provider = this.deps.unitsProvider;
    const isUnit = (n: ClusterNode) => n.kind === 'unit' && n.row.name === name;
    const roots = provider.getChildren();
    const top = roots.find(isUnit);
    if (top) return top;
    for (const root of roots) {
      if (root.kind !== 'group') continue;
      const child = provider.getChildren(root).find(isUnit);
      if (child) return child;
    }
    return undefined;
  }

  /** Stops listening (the model, the webview) and leaves the panel to VS Code. */
  detach(): void {
    if (ClusterMapPanel.current === this) ClusterMapPanel.current = undefined;
    this.release?.();
    this.release = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  dispose(): void {
    this.detach();
    this.panel.dispose();
  }
}
