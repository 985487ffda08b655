/** The map webviews' CSS: VS Code's theme variables only, so every theme (and high contrast) applies. */
import { STATE_ICONS } from '../cluster/treeItems';
import { DISPLAY_STATES } from '../cluster/unitRows';

/** A theme colour id (`testing.iconPassed`) as the webview's CSS variable. */
export const themeVar = (id: string): string => `var(--vscode-${id.replace(/\./g, '-')})`;

/** One class per display state, in the explorer's icon colours (a CSP without inline styles needs classes). */
const STATE_CSS = DISPLAY_STATES.map(s => `.s-${s} { --chip-color: ${themeVar(STATE_ICONS[s].color ?? 'foreground')}; }`).join('\n');
const BASE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); margin: 0; padding: 8px 12px; }
header { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
header h1 { font-size: 1.1em; margin: 0; font-weight: 600; }
.status { color: var(--vscode-descriptionForeground); }
.error { color: var(--vscode-errorForeground); }
button, select { font: inherit; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); border: 1px solid var(--vscode-contrastBorder, transparent); border-radius: 2px; padding: 2px 8px; cursor: pointer; }
select { color: var(--vscode-dropdown-foreground); background: var(--vscode-dropdown-background); border-color: var(--vscode-dropdown-border); }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
.legend { display: flex; gap: 10px; flex-wrap: wrap; font-size: 0.9em; color: var(--vscode-descriptionForeground); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: middle; background: var(--chip-color); }
.legend svg { vertical-align: middle; }
.legend .line { display: inline-block; width: 22px; border-top: 2px solid; vertical-align: middle; margin-right: 3px; }
.legend .line.machineOf { border-color: var(--vscode-charts-blue); }
.legend .line.conflicts { border-color: var(--vscode-charts-red); border-top-style: dashed; }
.legend .line.replaces { border-color: var(--vscode-charts-purple); border-top-style: dotted; }
`;

export const MAP_CSS = `${BASE}
${STATE_CSS}
.band, .lane { border: 1px dashed var(--vscode-panel-border); border-radius: 4px; padding: 6px; margin-bottom: 8px; }
.band h2, .lane h2, .machine h2 { font-size: 0.95em; margin: 0 0 4px; font-weight: 600; }
.machines { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; margin-bottom: 8px; }
.machine { border: 1px solid var(--vscode-panel-border); background: var(--vscode-sideBar-background, transparent); border-radius: 4px; padding: 6px; min-width: 180px; max-width: 320px; }
.machine.hidden { opacity: 0.45; border-style: dashed; }
.machine .meta { color: var(--vscode-descriptionForeground); font-size: 0.85em; margin-bottom: 4px; word-break: break-all; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; }
.chip { display: inline-flex; align-items: center; gap: 4px; border-radius: 10px; padding: 1px 8px; border: 1px solid var(--chip-color); background: color-mix(in srgb, var(--chip-color) 18%, transparent); color: var(--vscode-foreground); cursor: pointer; font-size: 0.9em; }
.chip::before { content: ''; width: 8px; height: 8px; border-radius: 50%; background: var(--chip-color); }
.chip[aria-selected="true"] { outline: 2px solid var(--vscode-focusBorder); }
.chip.related { box-shadow: 0 0 0 2px var(--vscode-editorInfo-foreground); }
.counts { display: flex; gap: 6px; flex-wrap: wrap; font-size: 0.9em; }
.waiting-item { display: flex; gap: 8px; align-items: baseline; margin: 2px 0; }
.reason { color: var(--vscode-descriptionForeground); }
.moves { margin: 0; padding-left: 18px; }
#stage { position: relative; }
#edges { position: absolute; left: 0; top: 0; pointer-events: none; overflow: visible; }
#edges path { fill: none; stroke-width: 1.5; }
#edges .machineOf { stroke: var(--vscode-charts-blue); }
#edges .conflicts { stroke: var(--vscode-charts-red); stroke-dasharray: 4 3; }
#edges .replaces { stroke: var(--vscode-charts-purple); stroke-dasharray: 1 3; }
.detail { border-top: 1px solid var(--vscode-panel-border); margin-top: 8px; padding-top: 6px; display: flex; gap: 6px; flex-wrap: wrap; align-items: center; }
`;

export const GRAPH_CSS = `${BASE}
#graph { width: 100%; max-height: calc(100vh - 90px); overflow: auto; border: 1px solid var(--vscode-panel-border); }
#graph svg.fit { max-width: 100%; height: auto; }
svg .node rect { fill: var(--vscode-editorWidget-background); stroke: var(--vscode-panel-border); rx: 4; }
svg .node.external rect { stroke-dasharray: 4 3; fill: transparent; }
svg .node.problem rect { stroke: var(--vscode-errorForeground); stroke-width: 2; }
svg .node:focus rect, svg .node.selected rect { stroke: var(--vscode-focusBorder); stroke-width: 2; }
svg .node text { fill: var(--vscode-foreground); font-size: 12px; }
svg .node { cursor: pointer; outline: none; }
svg .cluster rect { fill: none; stroke: var(--vscode-descriptionForeground); stroke-dasharray: 2 2; rx: 6; }
svg .cluster text { fill: var(--vscode-descriptionForeground); font-size: 11px; }
svg .edge path { fill: none; stroke-width: 1.4; }
svg .edge.Requires path, svg .edge.BindsTo path { stroke: var(--vscode-charts-orange); }
svg .edge.BindsTo path { stroke-width: 2.5; }
svg .edge.Wants path, svg .edge.PartOf path { stroke: var(--vscode-charts-yellow); stroke-dasharray: 5 3; }
svg .edge.After path, svg .edge.Before path { stroke: var(--vscode-descriptionForeground); stroke-dasharray: 1 3; }
svg .edge.MachineOf path { stroke: var(--vscode-charts-blue); stroke-width: 2; }
svg .edge.Conflicts path { stroke: var(--vscode-charts-red); stroke-dasharray: 6 3; }
svg .edge.Replaces path { stroke: var(--vscode-charts-purple); stroke-dasharray: 2 2; }
svg .edge.problem path { stroke: var(--vscode-errorForeground); stroke-width: 3; }
.problems li { color: var(--vscode-errorForeground); }
`;
