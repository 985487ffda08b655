/**
 * fleetd extension: GET /fleet/v1/journal/{unit}?lines=N&follow=true&machineID=…
 *
 * Proxies to the journal endpoint of each agent that runs the unit (MachineRecord.journalUrl,
 * `GET /journal/{unit}?lines=N&follow=true`, NDJSON JournalLines) and answers NDJSON: the last N
 * lines across those machines in time order, then (with follow) every new line as it arrives,
 * until the client disconnects.
 */
import http from 'node:http';
import type { JournalLine } from '../../../protocol/src/api';
import { errorMessage } from '../../../protocol/src/log';
import type { ApiRegistry } from '../../../registry/src/registry';
import { ApiError } from '../../../registry/src/api/errors';

export const DEFAULT_LINES = 10;
export const MAX_LINES = 10_000;
const OPEN_TIMEOUT_MS = 5_000;

export interface JournalRequest {
  unit: string;
  query: URLSearchParams;
}

interface Source {
  machineId: string;
  url: string;
}

export function parseLines(value: string | null): number {
  if (value === null || value === '') return DEFAULT_LINES;
  if (!/^\d+$/.test(value)) throw new ApiError(400, `invalid lines ${JSON.stringify(value)}: expected a number from 0 to ${MAX_LINES}`);
  return Math.min(Number(value), MAX_LINES);
}

/** The machines whose agents can tell about `unit`: those reporting a state for it, and its target. */
export async function journalSources(registry: ApiRegistry, unit: string, machineId: string | undefined): Promise<Source[]> {
  const [units, states, schedule, machines] = await Promise.all([
    registry.getUnit(unit),
    registry.listUnitStates(),
    registry.getSchedule(),
    registry.listMachines(),
  ]);
  const involved = new Set(states.filter(s => s.name === unit).map(s => s.machineId));
  const target = schedule.get(unit)?.machineId;
  if (target) involved.add(target);
  if (!units && involved.size === 0) throw new ApiError(404, 'unit does not exist');
  const byId = new Map(machines.map(m => [m.id, m]));
  if (machineId) {
    const m = byId.get(machineId);
    if (!m) throw new ApiError(404, `machine ${machineId} is not in the cluster`);
    if (!m.journalUrl) throw new ApiError(404, `machine ${machineId} does not serve a journal (its agent runs without one)`);
    return [{ machineId, url: m.journalUrl }];
  }
  const out: Source[] = [];
  for (const id of [...involved].sort()) {
    const url = byId.get(id)?.journalUrl;
    if (url) out.push({ machineId: id, url });
  }
  return out;
}

/**
 * Streams NDJSON from one agent; resolves when it ends. Lines that are not JSON are skipped.
 * `onOpen` runs once the agent answered 200 (for a follow: once it is subscribed).
 */
function readAgent(
  source: Source,
  unit: string,
  lines: number,
  follow: boolean,
  signal: AbortSignal,
  onLine: (l: JournalLine) => void,
  onOpen: () => void = () => {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    // An agent's journal is `http://host:port` or, on the local cluster, `unix:///path` (its socket).
    const unixSocket = source.url.startsWith('unix://') ? source.url.slice('unix://'.length).replace(/\/$/, '') : undefined;
    const url = new URL(`${unixSocket ? 'http://localhost' : source.url.replace(/\/$/, '')}/journal/${encodeURIComponent(unit)}`);
    url.searchParams.set('lines', String(lines));
    if (follow) url.searchParams.set('follow', 'true');
    const req = http.get(
      unixSocket ? 'http://localhost' : url,
      {
        signal,
        timeout: follow ? 0 : 10_000,
        ...(unixSocket ? { socketPath: unixSocket, path: `${url.pathname}${url.search}` } : {}),
      },
      res => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`agent ${source.machineId} answered HTTP ${res.statusCode}`));
          return;
        }
        onOpen();
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const text = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!text) continue;
            try {
              onLine(JSON.parse(text) as JournalLine);
            } catch {
              // not a JournalLine: skip it rather than break the stream
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`agent ${source.machineId} did not answer within 10 s`)));
    req.on('error', err => (signal.aborted ? resolve() : reject(err)));
  });
}

/**
 * Serves the journal request on `res`. Agents that fail are reported as a `system` line rather than
 * failing the whole request, so one dead machine does not hide the others' output.
 */
export async function serveJournal(registry: ApiRegistry, request: JournalRequest, res: http.ServerResponse): Promise<void> {
  const lines = parseLines(request.query.get('lines'));
  const followParam = request.query.get('follow') ?? '';
  const follow = followParam === 'true' || followParam === '1';
  const machineId = request.query.get('machineID') || undefined;
  const sources = await journalSources(registry, request.unit, machineId);

  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
  // A follower with nothing to read yet still gets its headers now.
  res.flushHeaders();
  const write = (l: JournalLine) => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(l)}\n`);
  };
  const failure = (s: Source, err: unknown): JournalLine => ({
    time: Date.now(),
    machineID: s.machineId,
    stream: 'system',
    text: `fleetd: cannot read the journal of ${request.unit} on machine ${s.machineId}: ${errorMessage(err)}`,
  });

  // With follow, subscribe first and hold new lines back, so that nothing written between the
  // backlog read and the subscription is lost; lines seen in both are sent once.
  const pending: JournalLine[] = [];
  let live = false;
  let following: Promise<unknown> = Promise.resolve();
  if (follow) {
    const onLine = (l: JournalLine) => (live ? write(l) : pending.push(l));
    const opened = sources.map(s => {
      let open!: () => void;
      // An agent that never answers must not hold the others back: give up waiting after 5 s.
      const isOpen = new Promise<void>(r => {
        open = r;
        setTimeout(r, OPEN_TIMEOUT_MS).unref();
      });
      const done = readAgent(s, request.unit, 0, true, abort.signal, onLine, open)
        .catch(err => onLine(failure(s, err)))
        .finally(open);
      return { isOpen, done };
    });
    following = Promise.all(opened.map(o => o.done));
    await Promise.all(opened.map(o => o.isOpen));
  }

  // The backlog: the last N lines of each agent, merged by time, the last N overall.
  const backlog: JournalLine[] = [];
  await Promise.all(sources.map(s => readAgent(s, request.unit, lines, false, abort.signal, l => backlog.push(l)).catch(err => backlog.push(failure(s, err)))));
  const sent = backlog.sort((a, b) => a.time - b.time).slice(Math.max(0, backlog.length - lines));
  for (const l of sent) write(l);
  if (!follow || abort.signal.aborted) {
    abort.abort();
    res.end();
    return;
  }
  const key = (l: JournalLine) => `${l.time}\0${l.machineID}\0${l.stream}\0${l.text}`;
  const already = new Set(backlog.map(key));
  for (const l of pending) if (!already.has(key(l))) write(l);
  live = true;
  // Until the client goes away (or every agent ended its stream).
  await following;
  res.end();
}
