/**
 * The agent's journal: a bounded ring of output lines per unit (stdout, stderr and the manager's
 * own messages such as "Started web.service."), with follow subscriptions, and a loopback HTTP
 * server `GET /journal/{unit}?lines=N&follow=true` that answers NDJSON `JournalLine`s
 * (protocol/src/api.ts). With follow it keeps streaming until the client disconnects.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { JournalLine } from '../../../protocol/src/api';

export type JournalStream = JournalLine['stream'];

export interface JournalOptions {
  machineId: string;
  /** Lines kept per unit (older ones are dropped). Default 1000. */
  maxLinesPerUnit?: number;
  /** Units kept; the one that wrote least recently is forgotten first. Default 1000. */
  maxUnits?: number;
  now?: () => number;
}

export interface JournalSubscription {
  dispose(): void;
}

/** journalctl's default for `-n` without a number, and fleetctl journal's default `--lines`. */
export const DEFAULT_JOURNAL_LINES = 10;
/** Longest line kept; longer output is split (journald splits at LineMax=48K as well). */
const MAX_LINE = 48 * 1024;

class Ring {
  private readonly items: (JournalLine | undefined)[];
  private start = 0;
  size = 0;
  constructor(private readonly capacity: number) {
    this.items = new Array<JournalLine | undefined>(capacity);
  }
  push(line: JournalLine): void {
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      this.items[(this.start + this.size) % this.capacity] = line;
      this.size++;
    } else {
      this.items[this.start] = line;
      this.start = (this.start + 1) % this.capacity;
    }
  }
  last(n: number): JournalLine[] {
    const count = Math.max(0, Math.min(n, this.size));
    const out: JournalLine[] = [];
    for (let i = this.size - count; i < this.size; i++) out.push(this.items[(this.start + i) % this.capacity]!);
    return out;
  }
}

export class Journal {
  readonly machineId: string;
  private readonly max: number;
  private readonly now: () => number;
  private readonly maxUnits: number;
  /** Units in least-recently-written order (Map iteration order). */
  private readonly rings = new Map<string, Ring>();
  private lastUnit: string | undefined;
  private readonly followers = new Map<string, Set<(line: JournalLine) => void>>();

  constructor(options: JournalOptions) {
    this.machineId = options.machineId;
    this.max = Math.max(0, Math.floor(options.maxLinesPerUnit ?? 1000));
    this.maxUnits = Math.max(1, Math.floor(options.maxUnits ?? 1000));
    this.now = options.now ?? Date.now;
  }

  /** Append one line (longer text is split at newlines and at MAX_LINE). */
  append(unit: string, stream: JournalStream, text: string): void {
    for (const raw of text.split('\n')) {
      for (let i = 0; i === 0 || i < raw.length; i += MAX_LINE) {
        const line: JournalLine = { time: this.now(), machineID: this.machineId, stream, text: raw.slice(i, i + MAX_LINE) };
        let ring = this.rings.get(unit);
        if (!ring) {
          this.rings.set(unit, (ring = new Ring(this.max)));
          // Bounded memory across unit churn: forget the units that wrote least recently.
          while (this.rings.size > this.maxUnits) this.rings.delete(this.rings.keys().next().value!);
        } else if (this.lastUnit !== unit) {
          this.rings.delete(unit);
          this.rings.set(unit, ring);
        }
        this.lastUnit = unit;
        ring.push(line);
        for (const f of this.followers.get(unit) ?? []) {
          try {
            f(line);
          } catch {
            // A follower's failure (a closed socket) must not stop the others; it unsubscribes itself.
          }
        }
      }
    }
  }

  /** The last `lines` lines of a unit, oldest first. */
  read(unit: string, lines = DEFAULT_JOURNAL_LINES): JournalLine[] {
    return this.rings.get(unit)?.last(lines) ?? [];
  }

  /** Units with at least one line. */
  units(): string[] {
    return [...this.rings.keys()].sort();
  }

  follow(unit: string, listener: (line: JournalLine) => void): JournalSubscription {
    let set = this.followers.get(unit);
    if (!set) this.followers.set(unit, (set = new Set()));
    set.add(listener);
    return {
      dispose: () => {
        set.delete(listener);
        if (set.size === 0 && this.followers.get(unit) === set) this.followers.delete(unit);
      },
    };
  }

  /** Forget a unit's lines (not done on unload: `fleetctl journal` of a stopped unit still shows why it stopped). */
  clear(unit: string): void {
    this.rings.delete(unit);
  }
}

/** A line stream decoder: feeds complete lines of a child's output into the journal. */
export class LineSplitter {
  private pending = '';
  constructor(private readonly emit: (line: string) => void) {}
  write(chunk: string): void {
    const text = this.pending + chunk;
    const parts = text.split('\n');
    this.pending = parts.pop() ?? '';
    for (const p of parts) this.emit(p.endsWith('\r') ? p.slice(0, -1) : p);
    if (this.pending.length > MAX_LINE) {
      this.emit(this.pending);
      this.pending = '';
    }
  }
  flush(): void {
    if (this.pending !== '') this.emit(this.pending);
    this.pending = '';
  }
}

export interface JournalServer {
  url: string;
  close(): Promise<void>;
}

function sendError(res: http.ServerResponse, code: number, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Route: `/journal/{unit}` (also under `/fleet/v1/`, so an API proxy may forward paths unchanged). */
function unitFromPath(pathname: string): string | undefined {
  const m = /^(?:\/fleet\/v1)?\/journal\/([^/]+)\/?$/.exec(pathname);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

export function handleJournalRequest(journal: Journal, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const unit = unitFromPath(url.pathname);
  if (unit === undefined) return sendError(res, 404, `not found: ${url.pathname}; use GET /journal/{unit}?lines=N&follow=true`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendError(res, 405, `method ${req.method ?? ''} not allowed on ${url.pathname}; use GET`);
  }
  const linesParam = url.searchParams.get('lines');
  let lines = DEFAULT_JOURNAL_LINES;
  if (linesParam !== null && linesParam !== '') {
    if (!/^\d+$/.test(linesParam)) return sendError(res, 400, `invalid lines=${JSON.stringify(linesParam)}: use a whole number of lines, e.g. lines=50`);
    lines = Number(linesParam);
  }
  const followParam = (url.searchParams.get('follow') ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0', ''].includes(followParam)) {
    return sendError(res, 400, `invalid follow=${JSON.stringify(followParam)}: use follow=true or follow=false`);
  }
  const follow = followParam === 'true' || followParam === '1';
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
  if (req.method === 'HEAD') return void res.end();
  const backlog = journal.read(unit, lines);
  if (backlog.length > 0) res.write(backlog.map(l => JSON.stringify(l) + '\n').join(''));
  if (!follow) return void res.end();
  res.flushHeaders();
  const sub = journal.follow(unit, line => {
    if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(line) + '\n');
  });
  const done = () => sub.dispose();
  res.on('close', done);
  req.on('close', done);
}

/**
 * Serve a journal over HTTP on a loopback address, or on a unix socket (made 0600: unit output
 * may hold secrets; URL `unix:///path`). Closing ends follow streams too.
 */
export async function startJournalServer(journal: Journal, listen: { host: string; port: number } | { socketPath: string }): Promise<JournalServer> {
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => handleJournalRequest(journal, req, res));
  server.on('connection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const where = 'socketPath' in listen ? listen.socketPath : `${listen.host}:${listen.port}`;
  if ('socketPath' in listen) {
    fs.mkdirSync(path.dirname(listen.socketPath), { recursive: true, mode: 0o700 });
    fs.rmSync(listen.socketPath, { force: true }); // one journal per machine state dir (the manager's lock)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen('socketPath' in listen ? { path: listen.socketPath } : { host: listen.host, port: listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(
      `journal server could not listen on ${where}: ${err.message}` +
        (err.code === 'EADDRINUSE' ? ('socketPath' in listen ? ' (another server listens there)' : ' (the port is in use; pick another port)') : ''),
    );
  });
  if ('socketPath' in listen) {
    fs.chmodSync(listen.socketPath, 0o600);
    return {
      url: `unix://${listen.socketPath}`,
      close: () =>
        new Promise<void>(resolve => {
          server.close(() => {
            fs.rmSync(listen.socketPath, { force: true });
            resolve();
          });
          for (const s of sockets) s.destroy();
        }),
    };
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
