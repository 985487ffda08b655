/**
 * The cluster map in a real webview (code-server + Debian chromium, the packaged extension):
 *
 *   node --import tsx bench/maps.bench.ts [--scenarios 10x500,100x5000] [--updates 7] [--no-tags]
 *
 * For each scenario (machines × units) a fresh code-server connects to a fleet v1 API served by
 * this process (with fleetd's change feed: ETag, `?wait=` and If-None-Match per collection), with mixed constraints (a tenth of
 * the units follow another with MachineOf, a fifth carry a Conflicts glob). Measured, in the
 * webview's own clock (performance.timeOrigin + now, the same wall clock as this process):
 *
 *  - first paint: Enter on "Fleet: Show Cluster Map" → the first frame painted with the map
 *    (the extension is active and connected before; the map's watch lease triggers a read);
 *  - update: one unit's state changes in the API → the frame that shows it (change feed → the
 *    model's re-read of the three collections → clusterMap() → postMessage → render → paint),
 *    median of `--updates`; also split: the model's change event → paint, and the webview's
 *    render (message → DOM built).
 *
 * Targets: first paint < 1 s at 1,000 units; an update < 100 ms.
 */
import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';
import { CodeServer, VSIX } from '../test/e2e/codeServer';
import { withWorkbench, type Workbench } from '../test/e2e/workbench';
import { ClusterWorkbench } from '../test/e2e/clusterWorkbench';
import { freePorts } from '../test/support/ports';
import { waitFor } from '../test/support/process';
import { syntheticCluster, type SyntheticCluster } from '../test/support/syntheticCluster';
import { benchFlag, benchNumber, benchOption } from './lib/args';

const SCENARIOS = benchOption('scenarios', '10x500,10x1000,100x500,100x5000')
  .split(',')
  .map(s => {
    const [m, u] = s.split('x').map(Number);
    if (!m || !u) throw new Error(`--scenarios: "${s}" is not MACHINESxUNITS (e.g. 100x5000)`);
    return { machines: m, units: u };
  });
const UPDATES = benchNumber('updates', 7);
const TAGS = !benchFlag('no-tags');

/**
 * fleet's v1 API (read side) over `data`, with fleetd's change feed: `?wait=` on /machines, and
 * If-None-Match answered with a 304 per collection while that collection is unchanged since the
 * tag (as fleetd does; `--no-tags` leaves If-None-Match unanswered, as fleetd before it did).
 */
async function apiServer(data: SyntheticCluster): Promise<{ url: string; change(): number; close(): Promise<void> }> {
  let version = 1;
  /** The version at which each collection last changed. */
  const changedAt = { machines: 1, units: 1, states: 1 };
  let waiters: (() => void)[] = [];
  const bodies = new Map<string, string>();
  const body = (what: 'machines' | 'units' | 'states') => {
    const key = `${what}@${changedAt[what]}`;
    let b = bodies.get(key);
    if (!b) bodies.set(key, (b = JSON.stringify({ [what]: data[what] })));
    return b;
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const what = url.pathname.replace(/^\/fleet\/v1\//, '');
    const etag = `"v${version}"`;
    const collection = what === 'state' ? 'states' : what === 'units' || what === 'machines' ? what : undefined;
    const since = /^"v(\d+)"$/.exec(req.headers['if-none-match'] ?? '')?.[1];
    if (TAGS && collection && since !== undefined && !url.searchParams.has('wait') && Number(since) >= changedAt[collection]) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    const send = (b: string) => {
      res.writeHead(200, { 'content-type': 'application/json', etag: `"v${version}"` });
      res.end(b);
    };
    if (what === 'machines' && url.searchParams.has('wait')) {
      const token = url.searchParams.get('wait');
      if (token !== etag) return send(body('machines'));
      const timer = setTimeout(() => {
        waiters = waiters.filter(w => w !== wake);
        res.writeHead(304, { etag });
        res.end();
      }, 30_000);
      const wake = () => {
        clearTimeout(timer);
        send(body('machines'));
      };
      waiters.push(wake);
      return;
    }
    if (what === 'machines') return send(body('machines'));
    if (what === 'units') return send(body('units'));
    if (what === 'state') return send(body('states'));
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 404, message: `no ${url.pathname}` } }));
  });
  const [port] = await freePorts(1);
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  let flip = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    /** One unit's state changes (active ↔ failed); returns Date.now() of the change. */
    change() {
      const s = data.states[(flip++ * 7919) % data.states.length]!;
      s.systemdActiveState = s.systemdActiveState === 'active' ? 'failed' : 'active';
      version++;
      changedAt.states = version;
      const at = Date.now();
      for (const w of waiters.splice(0)) w();
      return at;
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const w of waiters.splice(0)) w();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Frame {
  locator(selector: string): { count(): Promise<number> };
  evaluate<T>(fn: () => T): Promise<T>;
}
interface Stats {
  firstDataPaintEpoch?: number;
  paints: { changedAt: number; postedAt: number; receivedAt: number; paintedAt: number; renderMs: number }[];
}

async function mapFrame(wb: Workbench): Promise<Frame> {
  return waitFor(
    'the cluster map webview',
    async () => {
      for (const frame of (wb.page as unknown as { frames(): Frame[] }).frames()) {
        if (
          (await frame
            .locator('h1')
            .count()
            .catch(() => 0)) > 0 &&
          (await frame
            .evaluate(() => !!(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('main#root'))
            .catch(() => false))
        )
          return frame;
      }
      return false;
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function scenario(machines: number, units: number): Promise<string> {
  const data = syntheticCluster(machines, units);
  const api = await apiServer(data);
  const cs = await CodeServer.start({
    vsix: [VSIX],
    settings: { 'fleet.clusters': [{ name: 'bench', endpoint: api.url }], 'fleet.activeCluster': 'bench', 'git.enabled': false },
  });
  const folder = path.join(cs.dir, 'ws');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'README.txt'), 'bench\n');
  try {
    return await withWorkbench(cs, `maps-bench-${machines}x${units}`, { folder, waitForFile: 'README.txt' }, async wb => {
      const ui = new ClusterWorkbench(wb);
      // Activate and connect (the status bar shows the cluster), then open the map.
      // (The palette lists the extension's commands once the workbench has read its contributions.)
      for (let attempt = 1; ; attempt++) {
        try {
          await ui.pickCommand('Fleet: Show Language Server Output');
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          await wb.page.keyboard.press('Escape');
        }
      }
      await ui.waitForStatus(/Fleet: bench/, 60_000);
      await wb.page.keyboard.press('F1');
      const input = wb.page.locator('.quick-input-widget input').first();
      await input.fill('>Fleet: Show Cluster Map');
      await wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: 'Fleet: Show Cluster Map' }).first().waitFor();
      const t0 = Date.now();
      await wb.page.keyboard.press('Enter');
      const frame = await mapFrame(wb);
      const first = await waitFor(
        'the first paint with the map',
        async () => (await frame.evaluate(() => (globalThis as unknown as { fleetRenderStats?: Stats }).fleetRenderStats?.firstDataPaintEpoch)) ?? false,
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      const boxes = await frame.locator('article.machine').count();
      if (boxes !== machines) throw new Error(`the map shows ${boxes} machines, the API has ${machines}`);
      const firstPaint = first - t0;
      // The first paint's parts, in the webview's clock: its document started (VS Code made the
      // panel and its iframe), its script arrived (from the extension's dist/webview, or inline),
      // the first map message arrived, the frame was painted.
      const parts = await frame.evaluate(() => {
        const w = globalThis as unknown as {
          performance: { timeOrigin: number; getEntriesByType(t: string): { name: string; responseEnd: number }[] };
          fleetRenderStats: { firstMessageAt?: number; firstDataPaintEpoch?: number; scriptAt?: number };
        };
        const script = w.performance.getEntriesByType('resource').find(e => /clusterMap\.js/.test(e.name))?.responseEnd;
        return { origin: w.performance.timeOrigin, script, scriptRan: w.fleetRenderStats.scriptAt, message: w.fleetRenderStats.firstMessageAt };
      });
      const firstParts = `document ${Math.round(parts.origin - t0)} ms, script ${parts.script === undefined ? 'inline' : `loaded +${Math.round(parts.script)}`}, ran +${Math.round(parts.scriptRan ?? NaN)}, map message +${Math.round(parts.message ?? NaN)}, painted +${Math.round(first - parts.origin)} ms`;
      // Let the watch lease's own re-read settle, then change one unit at a time.
      await wb.page.waitForTimeout(1500);
      const endToEnd: number[] = [];
      const fromModel: number[] = [];
      const render: number[] = [];
      const compute: number[] = [];
      const transport: number[] = [];
      for (let i = 0; i < UPDATES; i++) {
        const before = await frame.evaluate(() => (globalThis as unknown as { fleetRenderStats: Stats }).fleetRenderStats.paints.length);
        const changedAt = api.change();
        const paint = await waitFor(
          'the update painted',
          async () => {
            const paints = await frame.evaluate(() => (globalThis as unknown as { fleetRenderStats: Stats }).fleetRenderStats.paints);
            return paints.length > before ? paints[paints.length - 1]! : false;
          },
          { timeoutMs: 30_000, intervalMs: 10 },
        );
        endToEnd.push(paint.paintedAt - changedAt);
        fromModel.push(paint.paintedAt - paint.changedAt);
        render.push(paint.renderMs);
        compute.push(paint.postedAt - paint.changedAt);
        transport.push(paint.receivedAt - paint.postedAt);
        await wb.page.waitForTimeout(300);
      }
      const f = (n: number) => `${Math.round(n)} ms`;
      return `${String(machines).padStart(4)} machines × ${String(units).padStart(5)} units: first paint ${f(firstPaint)} (${firstParts}); update (API change → paint) median ${f(median(endToEnd))} (max ${f(Math.max(...endToEnd))}), model change → paint ${f(median(fromModel))} (clusterMap ${f(median(compute))}, postMessage ${f(median(transport))}, webview render ${f(median(render))}); every update: ${endToEnd.map(Math.round).join(' ')} ms`;
    });
  } finally {
    await cs.stop();
    await api.close();
  }
}

async function main(): Promise<void> {
  const lines: string[] = [];
  for (const s of SCENARIOS) {
    const line = await scenario(s.machines, s.units);
    console.log(line);
    lines.push(line);
  }
  console.log('targets: first paint < 1000 ms at 1,000 units; update < 100 ms');
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
