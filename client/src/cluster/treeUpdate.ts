/**
 * Which tree nodes a cluster change touches: when the tree the views showed keeps its shape (the
 * same ids under every parent they expanded), only the nodes of changed units are refreshed, in
 * place, so VS Code keeps scroll, selection and expansion and re-renders a few rows, not all of
 * them. Any change of shape (a unit added, removed or moved to another group, machines changed)
 * asks for a full refresh, which stable ids make harmless too. Pure; no `vscode`.
 */
import type { SnapshotDiff } from './snapshot';
import { childrenOf, type ClusterNode, type ConnectionView, type ExplorerOptions } from './treeItems';

/** What a view served: every node by id, and the child ids of each parent it asked for ('' is the root). */
export class ServedTree {
  readonly nodes = new Map<string, ClusterNode>();
  readonly children = new Map<string, string[]>();

  /** Records the children served for `parent` and returns them (the objects VS Code will hold). */
  serve(parent: ClusterNode | undefined, kids: ClusterNode[]): ClusterNode[] {
    if (!parent) {
      this.nodes.clear();
      this.children.clear();
    }
    this.children.set(
      parent?.id ?? '',
      kids.map(k => k.id),
    );
    for (const k of kids) this.nodes.set(k.id, k);
    return kids;
  }
}

export type TreeUpdate = { full: true } | { full: false; changed: { served: ClusterNode; fresh: ClusterNode }[] };

const unitName = (node: ClusterNode): string | undefined => (node.kind === 'unit' || node.kind === 'unitState' ? node.row.name : undefined);

/**
 * The update for `diff`: full, or the served nodes to refresh with their fresh contents (every
 * served node whose id stays gets its fresh contents; only those of changed units need a repaint).
 */
export function planTreeUpdate(
  served: ServedTree,
  roots: (view: ConnectionView) => ClusterNode[],
  view: ConnectionView,
  options: ExplorerOptions,
  diff: SnapshotDiff | undefined,
): TreeUpdate {
  if (!diff || view.kind !== 'connected' || served.children.size === 0 || diff.machinesChanged || diff.addedUnits.length > 0 || diff.removedUnits.length > 0)
    return { full: true };
  const fresh = new Map<string, ClusterNode>();
  for (const [parentId, ids] of served.children) {
    let kids: ClusterNode[];
    if (parentId === '') kids = roots(view);
    else {
      const parent = fresh.get(parentId);
      if (!parent) return { full: true };
      kids = childrenOf(parent, view, options);
    }
    if (kids.length !== ids.length || kids.some((k, i) => k.id !== ids[i])) return { full: true };
    for (const k of kids) fresh.set(k.id, k);
  }
  const changedUnits = new Set(diff.changedUnits);
  const changed: { served: ClusterNode; fresh: ClusterNode }[] = [];
  for (const [id, node] of fresh) {
    const old = served.nodes.get(id);
    if (!old) return { full: true };
    changed.push({ served: old, fresh: node });
  }
  return { full: false, changed: changed.filter(c => changedUnits.has(unitName(c.fresh) ?? '') || c.fresh.kind === 'group') };
}

/**
 * Moves the fresh contents into the served node objects (VS Code knows elements by identity) and
 * returns the unit nodes to repaint; groups get their fresh rows silently (same members).
 */
export function applyTreeUpdate(changed: { served: ClusterNode; fresh: ClusterNode }[]): ClusterNode[] {
  const repaint: ClusterNode[] = [];
  for (const { served, fresh } of changed) {
    Object.assign(served, fresh);
    if (served.kind !== 'group') repaint.push(served);
  }
  return repaint;
}
