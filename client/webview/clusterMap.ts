/**
 * The cluster map in the webview: machines laid out by the browser's flex layout, units as chips
 * (buttons, arrow keys move between them), the global band, the waiting lane with reasons, the
 * "what if" picker, and the MachineOf / Conflicts / Replaces edges of the hovered or selected chip
 * drawn over the map. All data comes from the extension (`clusterMap()`); nothing is computed here
 * but positions.
 */
import type { ClusterMap, MapChip } from '../src/cluster/clusterMap';
import { edgesOf, type MapEdge } from '../src/cluster/mapEdges';
import type { ClusterMapState, FromClusterMap, ToClusterMap } from '../src/maps/clusterMapPanel';
import { applyMapDelta } from '../src/maps/mapDelta';
import { esc, renderStats, timedRender, vscodeApi } from './common';

renderStats();
const vscode = vscodeApi<ClusterMapState>();
const root = document.getElementById('root')!;
let state: ClusterMapState = vscode.getState() ?? {};
let current: ClusterMap | undefined;
/** The units drawn as chips (edges are resolved among them). */
let chipNames: string[] = [];
let hovered: string | undefined;

const post = (m: FromClusterMap) => vscode.postMessage(m);
const save = () => vscode.setState(state);

const STATES: [string, string][] = [
  ['failed', 'failed'],
  ['unplaceable', 'cannot be scheduled'],
  ['pending', 'pending'],
  ['launched', 'launched'],
  ['loaded', 'loaded'],
  ['inactive', 'inactive'],
  ['unknown', 'not in the registry'],
];

const EDGE_WORDS: Record<MapEdge['kind'], [string, string]> = {
  machineOf: ['follows (MachineOf)', 'followed by (MachineOf)'],
  conflicts: ['repels (Conflicts)', 'repelled by (Conflicts)'],
  replaces: ['replaces', 'replaced by'],
};

function chipHtml(c: MapChip, where: string): string {
  const label = `${c.name}, ${c.stateLabel}, ${where}${c.description ? `: ${c.description}` : ''}`;
  return `<button class="chip s-${c.display}" data-unit="${esc(c.name)}" tabindex="-1" aria-label="${esc(label)}" title="${esc(label)}" aria-selected="${state.selected === c.name}">${esc(c.name)}</button>`;
}

/** The HTML of the last render, by part: an update replaces only the machine boxes that changed. */
let last: { pre: string; post: string; ids: string; boxes: string[] } | undefined;

function machineHtml(m: ClusterMap['machines'][number], hidden: boolean): string {
  const title = `${m.shortId}${m.ip ? ` / ${m.ip}` : ''}`;
  const body = m.chips
    ? `<div class="chips">${m.chips.map(c => chipHtml(c, `on ${m.shortId}`)).join('')}</div>`
    : `<div class="counts" aria-label="${m.total} units by state">${Object.entries(m.counts)
        .map(([s, n]) => `<span class="chip s-${s}" data-count="${s}">${n} ${esc(s)}</span>`)
        .join('')}</div>`;
  return `<article class="machine${hidden ? ' hidden' : ''}" data-machine="${esc(m.id)}" aria-label="Machine ${esc(title)}, ${m.total} unit${m.total === 1 ? '' : 's'}${hidden ? ', hidden (what if)' : ''}"><h2 title="${esc(m.id)}">${esc(title)}</h2><div class="meta">${esc(m.metadata)}</div>${body}</article>`;
}

function render(msg: Extract<ToClusterMap, { type: 'map' }>, map: ClusterMap | undefined): void {
  current = map;
  if (msg.hide !== state.hide) {
    state.hide = msg.hide;
    save();
  }
  const parts: string[] = [];
  parts.push(`<header><h1>Cluster map · ${esc(msg.label)}</h1>`);
  if (map) {
    const options = map.machines
      .map(m => `<option value="${esc(m.id)}"${m.id === msg.hide ? ' selected' : ''}>${esc(m.shortId)}${m.ip ? ` (${esc(m.ip)})` : ''}</option>`)
      .join('');
    parts.push(
      `<label>What if this machine is gone: <select id="whatif" aria-label="What if a machine is gone"><option value="">(none)</option>${options}</select></label>`,
    );
    const present = new Set([...map.machines.flatMap(m => Object.keys(m.counts)), ...map.global.map(c => c.display), ...map.waiting.map(c => c.display)]);
    const states = STATES.filter(([s]) => present.has(s))
      .map(([s, word]) => `<span><span class="swatch s-${s}"></span>${word}</span>`)
      .join('');
    parts.push(
      `<span class="legend" aria-hidden="true">${states}<span><span class="line machineOf"></span>MachineOf</span><span><span class="line conflicts"></span>Conflicts</span><span><span class="line replaces"></span>Replaces</span></span>`,
    );
  }
  parts.push('</header>');
  if (msg.status) parts.push(`<p class="status" role="status">${esc(msg.status)}</p>`);
  if (msg.error) parts.push(`<p class="error" role="alert">${esc(msg.error)}</p>`);
  if (!map) {
    last = undefined;
    root.innerHTML = parts.join('');
    root.setAttribute('aria-busy', 'false');
    return;
  }
  parts.push('<div id="stage">');
  if (map.global.length > 0) {
    parts.push(
      `<section class="band" aria-label="Global units: on every eligible machine"><h2>Global units · on every eligible machine</h2><div class="chips">${map.global.map(c => chipHtml(c, 'global')).join('')}</div></section>`,
    );
  }
  parts.push('<section class="machines" aria-label="Machines">');
  const pre = parts.join('');
  const boxes = map.machines.map(m => ({ id: m.id, html: machineHtml(m, m.id === msg.hide) }));
  parts.length = 0;
  parts.push(`<section class="lane" aria-label="Waiting: units that cannot be placed"><h2>Waiting · ${map.waiting.length}</h2>`);
  for (const w of map.waiting) parts.push(`<div class="waiting-item">${chipHtml(w, 'waiting')}<span class="reason">${esc(w.reason)}</span></div>`);
  if (map.waiting.length === 0) parts.push('<span class="status">Every unit that should run has a machine.</span>');
  parts.push('</section>');
  if (map.whatIf) {
    const short = (id: string | undefined) => (id ? id.slice(0, 8) : 'nowhere');
    parts.push(
      `<section class="lane whatif" aria-live="polite" aria-label="What if ${esc(short(map.whatIf.hidden))} is gone"><h2>What if ${esc(short(map.whatIf.hidden))} is gone (fleet's scheduler)</h2>`,
    );
    if (map.whatIf.moves.length === 0) parts.push('<span class="status">Nothing moves.</span>');
    else
      parts.push(
        `<ul class="moves">${map.whatIf.moves.map(mv => `<li data-move="${esc(mv.unit)}"><b>${esc(mv.unit)}</b>: ${esc(short(mv.from))} → ${esc(short(mv.to))}: <span class="reason">${esc(mv.reason)}</span></li>`).join('')}</ul>`,
      );
    parts.push('</section>');
  }
  parts.push('<svg id="edges" aria-hidden="true"></svg></div>');
  parts.push('<div class="detail" id="detail" aria-live="polite"></div>');
  const post = parts.join('');
  const ids = boxes.map(b => b.id).join(' ');
  if (last && last.pre === pre && last.post === post && last.ids === ids) {
    // One unit changed: only the machine boxes whose HTML changed are replaced (focus, the detail
    // line and the scroll position elsewhere stay as they are).
    boxes.forEach((b, i) => {
      if (b.html === last!.boxes[i]) return;
      const el = root.querySelector(`article.machine[data-machine="${CSS.escape(b.id)}"]`);
      if (el) el.outerHTML = b.html;
    });
  } else {
    root.innerHTML = `${pre}${boxes.map(b => b.html).join('')}</section>${post}`;
  }
  last = { pre, post, ids, boxes: boxes.map(b => b.html) };
  root.setAttribute('aria-busy', 'false');
  const chips = chipElements();
  chipNames = [...new Set(chips.map(c => c.dataset.unit!))];
  const focusName = (chips.find(c => c.dataset.unit === state.selected) ?? chips[0])?.dataset.unit;
  const active = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.unit : undefined;
  for (const c of chips) c.tabIndex = c.dataset.unit === (active ?? focusName) ? 0 : -1;
  drawEdges();
  if (state.selected && chips.some(c => c.dataset.unit === state.selected)) showRelations(state.selected);
}

function chipElements(): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>('button.chip[data-unit]')];
}

function chipFor(name: string): HTMLElement | undefined {
  return root.querySelector<HTMLElement>(`button.chip[data-unit="${CSS.escape(name)}"]`) ?? undefined;
}

/** The edges of the hovered (else selected) unit, as curves between chip centres. */
function drawEdges(): void {
  const svg = root.querySelector<SVGSVGElement>('#edges');
  const stage = root.querySelector<HTMLElement>('#stage');
  if (!svg || !stage) return;
  const focus = hovered ?? state.selected;
  const edges = focus && current ? edgesOf(focus, current.relations, chipNames) : [];
  for (const el of root.querySelectorAll('.chip.related')) el.classList.remove('related');
  const box = stage.getBoundingClientRect();
  svg.setAttribute('width', String(stage.scrollWidth));
  svg.setAttribute('height', String(stage.scrollHeight));
  const paths: string[] = [];
  for (const e of edges) {
    const a = chipFor(e.from);
    const b = chipFor(e.to);
    if (!a || !b) continue;
    (e.from === focus ? b : a).classList.add('related');
    const ra = a.getBoundingClientRect();
    const rb = b.getBoundingClientRect();
    const x1 = ra.left + ra.width / 2 - box.left;
    const y1 = ra.top + ra.height / 2 - box.top;
    const x2 = rb.left + rb.width / 2 - box.left;
    const y2 = rb.top + rb.height / 2 - box.top;
    const bend = Math.max(30, Math.abs(x2 - x1) / 4);
    paths.push(
      `<path class="${e.kind}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="M${x1},${y1} C${x1},${y1 - bend} ${x2},${y2 - bend} ${x2},${y2}"><title>${esc(`${e.from} ${EDGE_WORDS[e.kind][0]} ${e.to}`)}</title></path>`,
    );
  }
  svg.innerHTML = paths.join('');
}

/** The extension's answer for the selected unit (its actions), kept across re-renders. */
let offered: { unit: string; actions: { command: string; title: string }[]; inExplorer: boolean } | undefined;

function showRelations(name: string, actions?: { command: string; title: string }[], inExplorer?: boolean): void {
  const detail = root.querySelector<HTMLElement>('#detail');
  if (!detail) return;
  if (actions) offered = { unit: name, actions, inExplorer: !!inExplorer };
  else if (offered?.unit === name) ({ actions, inExplorer } = offered);
  const words = (current ? edgesOf(name, current.relations, chipNames) : []).map(e =>
    e.from === name ? `${EDGE_WORDS[e.kind][0]} ${e.to}` : `${EDGE_WORDS[e.kind][1]} ${e.from}`,
  );
  const waiting = current?.waiting.find(w => w.name === name);
  const buttons = (actions ?? []).map(a => `<button data-command="${esc(a.command)}">${esc(a.title)}</button>`).join('');
  detail.innerHTML = `<b>${esc(name)}</b>${inExplorer ? ' <span class="status">(selected in the Units view)</span>' : ''}${waiting ? ` <span class="reason">waits: ${esc(waiting.reason)}</span>` : ''}${words.length ? ` · ${esc(words.join('; '))}` : ''} ${buttons}`;
}

function select(name: string): void {
  state.selected = name;
  save();
  for (const c of chipElements()) {
    c.setAttribute('aria-selected', String(c.dataset.unit === name));
    c.tabIndex = c.dataset.unit === name ? 0 : -1;
  }
  drawEdges();
  showRelations(name);
  post({ type: 'select', unit: name });
}

root.addEventListener('click', e => {
  const target = e.target as HTMLElement;
  const chip = target.closest<HTMLElement>('button.chip[data-unit]');
  if (chip) {
    select(chip.dataset.unit!);
    return;
  }
  const action = target.closest<HTMLElement>('button[data-command]');
  if (action && state.selected) post({ type: 'run', unit: state.selected, command: action.dataset.command! });
});
root.addEventListener('change', e => {
  const target = e.target as HTMLSelectElement;
  if (target.id === 'whatif') post({ type: 'whatIf', machine: target.value || null });
});
root.addEventListener('mouseover', e => {
  const chip = (e.target as HTMLElement).closest<HTMLElement>('button.chip[data-unit]');
  const name = chip?.dataset.unit;
  if (name !== hovered) {
    hovered = name;
    drawEdges();
  }
});
root.addEventListener('keydown', e => {
  const chip = (e.target as HTMLElement).closest<HTMLElement>('button.chip[data-unit]');
  if (!chip) return;
  const chips = chipElements();
  const i = chips.indexOf(chip);
  const next =
    e.key === 'ArrowRight' || e.key === 'ArrowDown'
      ? i + 1
      : e.key === 'ArrowLeft' || e.key === 'ArrowUp'
        ? i - 1
        : e.key === 'Home'
          ? 0
          : e.key === 'End'
            ? chips.length - 1
            : undefined;
  if (next === undefined) return;
  e.preventDefault();
  const to = chips[Math.max(0, Math.min(chips.length - 1, next))];
  if (!to) return;
  chip.tabIndex = -1;
  to.tabIndex = 0;
  to.focus();
  hovered = to.dataset.unit;
  drawEdges();
});
window.addEventListener('resize', () => drawEdges());

/** The number of the message whose map is `current` (a delta applies only to it). */
let currentSeq: number | undefined;

function receive(msg: ToClusterMap, receivedAt: number): void {
  if (msg.type === 'map') {
    if (msg.delta && (!current || msg.delta.base !== currentSeq)) {
      // Not the map this delta was made from (the webview was reloaded meanwhile): ask for it whole.
      post({ type: 'ready' });
      return;
    }
    const map = msg.delta ? applyMapDelta(current!, msg.delta) : msg.map;
    currentSeq = map ? msg.seq : undefined;
    timedRender(receivedAt, () => render(msg, map), map ? { changedAt: msg.changedAt, postedAt: msg.postedAt } : undefined);
  } else if (msg.type === 'selected' && msg.unit === state.selected) showRelations(msg.unit, msg.actions, msg.inExplorer);
}

window.addEventListener('message', (event: MessageEvent<ToClusterMap>) => receive(event.data, performance.now()));
// Say hello until the extension answers: a restored panel can load before the extension has
// activated and is listening, and a message sent then is lost (bounded: 30 tries).
let hellos = 0;
const hello = setInterval(() => (++hellos >= 30 ? clearInterval(hello) : post({ type: 'ready' })), 1000);
window.addEventListener('message', () => clearInterval(hello), { once: true });
post({ type: 'ready' });
if (state.hide) post({ type: 'whatIf', machine: state.hide });
