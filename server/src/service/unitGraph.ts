/**
 * The workspace's unit graph: every indexed unit as a node, systemd's dependency edges
 * (Requires, Wants, BindsTo, PartOf, After, Before) and fleet's placement edges (MachineOf,
 * Conflicts and Replaces, globs resolved against the workspace), templates grouped with their
 * instances. Problems carry the language server's own messages: the `xfleet-machineof-cycle` rule
 * for MachineOf cycles and fleet's ValidateOptions (`optionViolations`) for a peer that matches a
 * Conflicts or Replaces glob. Pure.
 */
import type { UnitEdgeKind, UnitGraph, UnitGraphEdge, UnitGraphNode } from '../../../protocol/src/lsp';
import {
  FLEET_RULES,
  globMatch,
  optionViolations,
  UnitNameInfo,
  validateUnitFile,
  XFLEET_SECTION,
  xfleetKey,
  type UnitFile,
  type UnitOption,
} from '../../../unitfile/src';
import type { DirectiveCatalog } from './catalog';
import type { WorkspaceIndex } from './types';
import { unitRefs } from './unitRefs';

const SYSTEMD_EDGES: ReadonlySet<string> = new Set(['Requires', 'Wants', 'BindsTo', 'PartOf', 'After', 'Before']);
const FLEET_EDGES: Readonly<Record<string, UnitEdgeKind>> = { machineOf: 'MachineOf', conflicts: 'Conflicts', replaces: 'Replaces' };
const CYCLE_RULE = FLEET_RULES.filter(r => r.code === 'xfleet-machineof-cycle');

function templateOf(name: string): string | undefined {
  const info = UnitNameInfo.parse(name);
  if (!info) return undefined;
  if (UnitNameInfo.isTemplate(info)) return name;
  return UnitNameInfo.isInstance(info) ? info.template : undefined;
}

function options(file: UnitFile): UnitOption[] {
  return file.options.map(o => ({ section: o.section, name: o.name, value: o.value }));
}

export function unitGraph(index: WorkspaceIndex, catalog: DirectiveCatalog): UnitGraph {
  const entries = [...index.units()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = entries.map(e => e.name);
  const nodes = new Map<string, UnitGraphNode>();
  const node = (name: string, uri?: string): UnitGraphNode => {
    let n = nodes.get(name);
    if (!n) {
      const group = templateOf(name);
      n = { name, problems: [] };
      if (uri !== undefined) n.uri = uri;
      if (group !== undefined) n.group = group;
      nodes.set(name, n);
    }
    return n;
  };
  for (const e of entries) node(e.name, e.uri);

  const edges: UnitGraphEdge[] = [];
  const globCache = new Map<string, string[]>();
  const seen = new Set<string>();
  const add = (kind: UnitEdgeKind, from: string, to: string, written: string): UnitGraphEdge | undefined => {
    const key = `${from}\0${kind}\0${to}`;
    if (from === to || seen.has(key)) return undefined;
    seen.add(key);
    node(to);
    const edge: UnitGraphEdge = { kind, from, to };
    if (written !== to) edge.written = written;
    edges.push(edge);
    return edge;
  };

  for (const e of entries) {
    for (const ref of unitRefs(e.file, e.name, catalog)) {
      const o = ref.option;
      if (o.section === XFLEET_SECTION) {
        const fleetKind = xfleetKey(o.name)?.kind;
        const kind = fleetKind ? FLEET_EDGES[fleetKind] : undefined;
        if (!kind) continue;
        if (!ref.glob) {
          add(kind, e.name, ref.name, ref.text);
          continue;
        }
        let matches = globCache.get(ref.name);
        if (!matches) globCache.set(ref.name, (matches = names.filter(n => globMatch(ref.name, n))));
        for (const to of matches) add(kind, e.name, to, ref.text);
      } else if (o.section === 'Unit' && SYSTEMD_EDGES.has(o.name)) {
        add(o.name as UnitEdgeKind, e.name, ref.name, ref.text);
      }
    }
  }

  // The language server's messages, from the same functions its diagnostics use.
  for (const e of entries) {
    const n = nodes.get(e.name)!;
    for (const p of validateUnitFile(e.file, { unitName: e.name, index, rules: CYCLE_RULE })) {
      if (!n.problems.includes(p.message)) n.problems.push(p.message);
      const path = /^MachineOf cycle: (.*); /.exec(p.message)?.[1]?.split(' → ') ?? [];
      for (let i = 0; i + 1 < path.length; i++) {
        for (const edge of edges) if (edge.kind === 'MachineOf' && edge.from === path[i] && edge.to === path[i + 1]) edge.problem = p.message;
      }
    }
    for (const v of optionViolations(options(e.file))) {
      if (v.peer === undefined || v.pattern === undefined) continue;
      n.problems.push(v.message);
      const mine = edges.filter(edge => edge.from === e.name);
      const peer = mine.find(edge => edge.kind === 'MachineOf' && (edge.written ?? edge.to) === v.peer);
      if (!peer) continue;
      peer.problem = v.message;
      const kind: UnitEdgeKind = v.kinds[1] === 'replaces' ? 'Replaces' : 'Conflicts';
      for (const edge of mine) if (edge.kind === kind && edge.to === peer.to && (edge.written ?? edge.to) === v.pattern) edge.problem = v.message;
    }
  }
  return { nodes: [...nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), edges };
}
