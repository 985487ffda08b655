/** What both map webviews share: the VS Code API handle, escaping, and render timings for the benchmark. */

interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export function vscodeApi<S>(): VsCodeApi<S> {
  return acquireVsCodeApi<S>();
}

export const esc = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

export interface RenderStats {
  /** Renders so far. */
  renders: number;
  /** performance.now() when the script began (it asks for the stats first thing). */
  scriptAt: number;
  /** performance.now() when the first data message arrived, and when its frame was painted. */
  firstMessageAt?: number;
  firstPaintAt?: number;
  /** The last render: message received → next frame painted, in ms. */
  lastMs?: number;
  lastPaintAt?: number;
  /** Epoch ms (performance.timeOrigin + now) of the first paint that showed data, and of every paint with data. */
  firstDataPaintEpoch?: number;
  /** Per paint with data: the extension's `changedAt` and the paint's epoch ms. */
  paints: { changedAt: number; postedAt: number; receivedAt: number; paintedAt: number; renderMs: number }[];
}

/** Window-global stats the e2e suite and the benchmark read (`window.fleetRenderStats`). */
export function renderStats(): RenderStats {
  const w = window as unknown as { fleetRenderStats?: RenderStats };
  return (w.fleetRenderStats ??= { renders: 0, scriptAt: performance.now(), paints: [] });
}

/** Runs `render` and records, after the next frame, how long message → paint took. */
export function timedRender(receivedAt: number, render: () => void, data?: { changedAt: number; postedAt: number }): void {
  const stats = renderStats();
  stats.firstMessageAt ??= receivedAt;
  render();
  const renderMs = performance.now() - receivedAt;
  requestAnimationFrame(() => {
    // The frame after the DOM change: the browser has laid out and painted it.
    setTimeout(() => {
      const now = performance.now();
      stats.renders++;
      stats.lastMs = now - receivedAt;
      stats.lastPaintAt = now;
      stats.firstPaintAt ??= now;
      if (data) {
        const paintedAt = performance.timeOrigin + now;
        stats.firstDataPaintEpoch ??= paintedAt;
        stats.paints.push({ changedAt: data.changedAt, postedAt: data.postedAt, receivedAt: performance.timeOrigin + receivedAt, paintedAt, renderMs });
        if (stats.paints.length > 1000) stats.paints.shift();
      }
      document.body.dataset.renders = String(stats.renders);
    }, 0);
  });
}
