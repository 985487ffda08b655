/**
 * The vscode adapter for the Machines and Units views: a TreeDataProvider whose getChildren
 * only reads the ClusterModel's snapshot (no I/O, no pop-ups) and turns ItemSpecs into
 * TreeItems. A change that keeps the tree's shape repaints only the changed units' nodes
 * (treeUpdate.ts); anything else refreshes the whole tree (ids are stable either way).
 */
import * as vscode from 'vscode';
import type { ClusterModel } from './clusterModel';
import { childrenOf, machineRoots, toItem, unitRoots, type ClusterNode, type ConnectionView, type ExplorerOptions } from './treeItems';
import { applyTreeUpdate, planTreeUpdate, ServedTree } from './treeUpdate';

export class ClusterTreeProvider implements vscode.TreeDataProvider<ClusterNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ClusterNode | ClusterNode[] | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly subscription: { dispose(): void };
  private readonly served = new ServedTree();
  /** VS Code has asked for the roots at least once. */
  private asked = false;

  constructor(
    private readonly kind: 'machines' | 'units',
    private readonly model: ClusterModel,
    private readonly options: () => ExplorerOptions,
  ) {
    this.subscription = model.onDidChange(change => {
      // Until VS Code has asked for the rows there is nothing to repaint, and a change event then
      // would cost the first rows: VS Code debounces a tree's change events (200 ms, leading), so
      // the "loading" change at activation held back the one with the first read by ~0.2 s.
      if (!this.asked) return;
      const plan = planTreeUpdate(this.served, view => this.roots(view), change.view, this.options(), change.diff);
      if (plan.full) return this.emitter.fire(undefined);
      const repaint = applyTreeUpdate(plan.changed);
      if (repaint.length > 0) this.emitter.fire(repaint);
    });
  }

  private roots(view: ConnectionView): ClusterNode[] {
    return this.kind === 'machines' ? machineRoots(view) : unitRoots(view, this.options());
  }

  /** Re-render (e.g. grouping or sorting changed). */
  refresh(): void {
    this.emitter.fire(undefined);
  }

  getChildren(element?: ClusterNode): ClusterNode[] {
    const view = this.model.view;
    if (!element) {
      this.asked = true;
      return this.served.serve(undefined, this.roots(view));
    }
    return this.served.serve(element, childrenOf(element, view, this.options()));
  }

  /** For TreeView.reveal: a node's id is its parent's id, `/`, its own part; roots have no parent. */
  getParent(node: ClusterNode): ClusterNode | undefined {
    const cut = node.id.lastIndexOf('/');
    if (cut < 0) return undefined;
    const parentId = node.id.slice(0, cut);
    const roots = this.getChildren();
    const root = roots.find(n => n.id === parentId);
    if (root) return root;
    const grandId = parentId.slice(0, Math.max(0, parentId.lastIndexOf('/')));
    const grand = roots.find(n => n.id === grandId);
    return grand ? this.getChildren(grand).find(n => n.id === parentId) : undefined;
  }

  getTreeItem(node: ClusterNode): vscode.TreeItem {
    const spec = toItem(node);
    const item = new vscode.TreeItem(
      spec.label,
      spec.collapsible === 'none'
        ? vscode.TreeItemCollapsibleState.None
        : spec.collapsible === 'expanded'
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed,
    );
    item.id = spec.id;
    if (spec.description !== undefined) item.description = spec.description;
    if (spec.tooltip) {
      const md = new vscode.MarkdownString(spec.tooltip, true);
      md.isTrusted = false;
      item.tooltip = md;
    }
    item.contextValue = spec.contextValue;
    item.iconPath = new vscode.ThemeIcon(spec.icon.id, spec.icon.color ? new vscode.ThemeColor(spec.icon.color) : undefined);
    if (spec.command) item.command = { command: spec.command, title: spec.label };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
