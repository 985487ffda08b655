/**
 * The unit graph in the webview: @dagrejs/dagre lays out the language server's graph (templates
 * as compound clusters around their instances), and this draws its result as SVG: nodes are
 * focusable buttons (arrow keys move to the nearest node that way, Enter opens the file), edges
 * are styled per kind, and problems (MachineOf cycles, unresolvable requirements) carry the
 * language server's messages.
 */
import dagre from '@dagrejs/dagre';
import type { UnitGraph, UnitGraphEdge, UnitGraphNode } from '../../protocol/src/lsp';
import type { FromUnitGraph, ToUnitGraph, UnitGraphState } from '../src/maps/unitGraphPanel';
import { esc, timedRender, vscodeApi } from './common';

const vscode = vscodeApi<UnitGraphState>();
const root = document.getElementById('root')!;
let state: UnitGraphState = vscode.getState() ?? {};
const post = (m: FromUnitGraph) => vscode.postMessage(m);

const KINDS: readonly UnitGraphEdge['kind'][] = ['Requires', 'BindsTo', 'Wants', 'PartOf', 'After', 'Before', 'MachineOf', 'Conflicts', 'Replaces'];
const CHAR = 7;
/**
 * dagre's layout time grows faster than the graph (ARCHITECTURE.md has the figures): above this many
 * units the graph shows the neighbourhood (two steps, any edge) of the focused unit.
 */
const MAX_NODES = 600;

/** The graph, or the part of it within two steps of `focus` when it is too large to lay out at once. */
function visible(graph: UnitGraph, focus: string | undefined): { graph: UnitGraph; note?: string } {
  if (graph.nodes.length <= MAX_NODES) return { graph };
  const degree = new Map<string, number>();
  const near = new Map<string, Set<string>>();
  for (const e of graph.edges) {
    for (const [a, b] of [
      [e.from, e.to],
      [e.to, e.from],
    ] as const) {
      degree.set(a, (degree.get(a) ?? 0) + 1);
      const set = near.get(a) ?? new Set<string>();
      set.add(b);
      near.set(a, set);
    }
  }
  const centre = focus && graph.nodes.some(n => n.name === focus) ? focus : ([...degree.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? graph.nodes[0]!.name);
  const keep = new Set([centre]);
  let frontier = [centre];
  for (let step = 0; step < 2 && keep.size < MAX_NODES; step++) {
    const next: string[] = [];
    for (const n of frontier)
      for (const m of near.get(n) ?? [])
        if (!keep.has(m) && keep.size < MAX_NODES) {
          keep.add(m);
          next.push(m);
        }
    frontier = next;
  }
  return {
    graph: { nodes: graph.nodes.filter(n => keep.has(n.name)), edges: graph.edges.filter(e => keep.has(e.from) && keep.has(e.to)) },
    note: `${graph.nodes.length} units are too many to lay out at once: showing the ${keep.size} within two steps of ${centre}. Run Fleet: Show Unit Graph from a unit file's editor to centre it there.`,
  };
}

interface Placed {
  node: UnitGraphNode;
  x: number;
  y: number;
  width: number;
  height: number;
}

function layout(graph: UnitGraph): {
  placed: Placed[];
  clusters: { name: string; x: number; y: number; width: number; height: number }[];
  edges: { edge: UnitGraphEdge; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
} {
  const g = new dagre.graphlib.Graph({ multigraph: true, compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 70, marginx: 16, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  const groups = new Set(graph.nodes.filter(n => n.group && graph.nodes.filter(m => m.group === n.group).length > 1).map(n => n.group!));
  for (const group of groups) g.setNode(`group:${group}`, { label: group });
  for (const n of graph.nodes) {
    g.setNode(n.name, { width: Math.max(90, n.name.length * CHAR + 24), height: 28 });
    if (n.group && groups.has(n.group)) g.setParent(n.name, `group:${n.group}`);
  }
  // Conflicts is symmetric ("keep apart"), not an order: it does not rank the layout (a ring of
  // mutual conflicts would stretch it into a long chain); it is drawn between the placed nodes.
  for (const e of graph.edges) if (e.kind !== 'Conflicts') g.setEdge(e.from, e.to, { edge: e, minlen: 1 }, e.kind);
  dagre.layout(g);
  const placed = graph.nodes.map(node => {
    const l = g.node(node.name) as { x: number; y: number; width: number; height: number };
    return { node, x: l.x, y: l.y, width: l.width, height: l.height };
  });
  const clusters = [...groups].map(name => {
    const l = g.node(`group:${name}`) as { x: number; y: number; width: number; height: number };
    return { name, x: l.x, y: l.y, width: l.width, height: l.height };
  });
  const edges = g.edges().map(ref => {
    const l = g.edge(ref) as { edge: UnitGraphEdge; points: { x: number; y: number }[] };
    return { edge: l.edge, points: l.points };
  });
  const at = new Map(placed.map(p => [p.node.name, p]));
  for (const e of graph.edges) {
    if (e.kind !== 'Conflicts') continue;
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (!a || !b) continue;
    // A bow between the two nodes' edges, to the side, so A→B and B→A stay apart.
    const mx = (a.x + b.x) / 2 + (b.y - a.y) * 0.15;
    const my = (a.y + b.y) / 2 - (b.x - a.x) * 0.15;
    edges.push({
      edge: e,
      points: [
        { x: a.x, y: a.y + (b.y >= a.y ? a.height / 2 : -a.height / 2) },
        { x: mx, y: my },
        { x: b.x, y: b.y + (a.y >= b.y ? b.height / 2 : -b.height / 2) },
      ],
    });
  }
  const size = g.graph() as { width?: number; height?: number };
  return { placed, clusters, edges, width: size.width ?? 0, height: size.height ?? 0 };
}

function render(msg: ToUnitGraph): void {
  const graph = msg.graph;
  if (msg.focus) state.focus = msg.focus;
  vscode.setState(state);
  const legend = KINDS.map(
    k => `<span><svg width="26" height="8" aria-hidden="true"><g class="edge ${k}"><path d="M1,4 L25,4"></path></g></svg> ${k}</span>`,
  ).join('');
  const head = `<header><h1>Unit graph · workspace</h1><span class="legend" aria-label="Edge styles">${legend}</span></header>`;
  if (!graph || graph.nodes.length === 0) {
    root.innerHTML = `${head}<p class="status" role="status">${esc(msg.status ?? 'No units.')}</p>`;
    root.setAttribute('aria-busy', 'false');
    return;
  }
  const shown = visible(graph, state.focus);
  const { placed, clusters, edges, width, height } = layout(shown.graph);
  const svg: string[] = [];
  // Scaled down to the panel's width when larger (viewBox), never up; scroll for the rest.
  svg.push(
    `<svg viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" width="${Math.ceil(width)}" height="${Math.ceil(height)}" class="fit" overflow="visible" role="group" aria-label="Units and their relationships"><defs>`,
  );
  for (const k of KINDS)
    svg.push(
      `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" class="edge ${k}"><path d="M0,0 L10,5 L0,10 z" class="edge-head"></path></marker>`,
    );
  svg.push('</defs>');
  for (const c of clusters) {
    svg.push(
      `<g class="cluster" data-group="${esc(c.name)}"><rect x="${c.x - c.width / 2}" y="${c.y - c.height / 2}" width="${c.width}" height="${c.height}"></rect><text x="${c.x - c.width / 2 + 6}" y="${c.y - c.height / 2 + 12}">${esc(c.name)} and instances</text></g>`,
    );
  }
  for (const { edge, points } of edges) {
    const d =
      edge.kind === 'Conflicts' && points.length === 3
        ? `M${points[0]!.x.toFixed(1)},${points[0]!.y.toFixed(1)} Q${points[1]!.x.toFixed(1)},${points[1]!.y.toFixed(1)} ${points[2]!.x.toFixed(1)},${points[2]!.y.toFixed(1)}`
        : points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const title = `${edge.from} ${edge.kind}=${edge.written ?? edge.to}${edge.written ? ` (${edge.to})` : ''}${edge.problem ? `: ${edge.problem}` : ''}`;
    svg.push(
      `<g class="edge ${edge.kind}${edge.problem ? ' problem' : ''}" data-from="${esc(edge.from)}" data-to="${esc(edge.to)}" data-kind="${edge.kind}"><path d="${d}" marker-end="url(#arrow-${edge.kind})"></path><title>${esc(title)}</title></g>`,
    );
  }
  for (const p of placed) {
    const n = p.node;
    const out = shown.graph.edges.filter(e => e.from === n.name).map(e => `${e.kind} ${e.to}`);
    const label = `${n.name}${n.uri ? '' : ' (not in the workspace)'}${n.problems.length ? `; problems: ${n.problems.join('; ')}` : ''}${out.length ? `; ${out.join(', ')}` : ''}`;
    const cls = `node${n.uri ? '' : ' external'}${n.problems.length ? ' problem' : ''}${state.focus === n.name ? ' selected' : ''}`;
    svg.push(
      `<g class="${cls}" data-unit="${esc(n.name)}" tabindex="${state.focus === n.name || (!state.focus && p === placed[0]) ? 0 : -1}" role="button" aria-label="${esc(label)}" data-x="${p.x}" data-y="${p.y}"><rect x="${p.x - p.width / 2}" y="${p.y - p.height / 2}" width="${p.width}" height="${p.height}"></rect><text x="${p.x - p.width / 2 + 12}" y="${p.y + 4}">${esc(n.name)}</text><title>${esc(label)}</title></g>`,
    );
  }
  svg.push('</svg>');
  const note = shown.note ? `<p class="status" role="status">${esc(shown.note)}</p>` : '';
  const problems = shown.graph.nodes.flatMap(n => n.problems.map(m => `<li data-unit="${esc(n.name)}"><b>${esc(n.name)}</b>: ${esc(m)}</li>`));
  root.innerHTML = `${head}${note}${problems.length ? `<ul class="problems" role="alert">${problems.join('')}</ul>` : ''}<div id="graph">${svg.join('')}</div>`;
  root.setAttribute('aria-busy', 'false');
  const focused = root.querySelector<SVGGElement>(`g.node[data-unit="${CSS.escape(state.focus ?? '')}"]`);
  focused?.scrollIntoView({ block: 'center', inline: 'center' });
}

function nodes(): SVGGElement[] {
  return [...root.querySelectorAll<SVGGElement>('g.node[data-unit]')];
}

function open(el: SVGGElement): void {
  state.focus = el.dataset.unit!;
  vscode.setState(state);
  for (const n of nodes()) n.classList.toggle('selected', n === el);
  post({ type: 'open', unit: el.dataset.unit! });
}

root.addEventListener('click', e => {
  const el = (e.target as Element).closest<SVGGElement>('g.node[data-unit]');
  if (el) open(el);
});
root.addEventListener('keydown', e => {
  const el = (e.target as Element).closest<SVGGElement>('g.node[data-unit]');
  if (!el) return;
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    open(el);
    return;
  }
  const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[e.key];
  if (!dir) return;
  e.preventDefault();
  // The nearest node in that direction (distance along it weighs less than sideways offset).
  const x = Number(el.dataset.x);
  const y = Number(el.dataset.y);
  let best: SVGGElement | undefined;
  let bestScore = Infinity;
  for (const n of nodes()) {
    if (n === el) continue;
    const dx = Number(n.dataset.x) - x;
    const dy = Number(n.dataset.y) - y;
    const along = dx * dir[0]! + dy * dir[1]!;
    if (along <= 0) continue;
    const score = along + 3 * Math.abs(dx * dir[1]! + dy * dir[0]!);
    if (score < bestScore) {
      bestScore = score;
      best = n;
    }
  }
  if (!best) return;
  el.tabIndex = -1;
  best.tabIndex = 0;
  best.focus();
  state.focus = best.dataset.unit!;
  vscode.setState(state);
});

window.addEventListener('message', (event: MessageEvent<ToUnitGraph>) => {
  const receivedAt = performance.now();
  if (event.data.type === 'graph') timedRender(receivedAt, () => render(event.data));
});
// Say hello until the extension answers: a restored panel can load before the extension has
// activated and is listening, and a message sent then is lost (bounded: 30 tries).
let hellos = 0;
const hello = setInterval(() => (++hellos >= 30 ? clearInterval(hello) : post({ type: 'ready' })), 1000);
window.addEventListener('message', () => clearInterval(hello), { once: true });
post({ type: 'ready' });
