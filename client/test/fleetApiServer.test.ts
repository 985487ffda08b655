/**
 * A tiny fleet v1 API emulator for client tests (fleet-reference §3): pages of `limit` items with
 * fleet's nextPageToken (including the empty last page when the count is a multiple), fleet's
 * error bodies, `%40` decoding, and fleetd's journal extension (NDJSON, follow).
 * Every request is recorded as it arrived on the wire.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { it } from 'node:test';
import type { ApiMachine, ApiUnit, ApiUnitState, JournalLine } from '../../protocol/src/api';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeFleetServerOptions {
  limit?: number;
  units?: ApiUnit[];
  states?: ApiUnitState[];
  machines?: ApiMachine[];
  journal?: JournalLine[];
  /** Serve https with these options (key, cert, ca, requestCert…). */
  tls?: https.ServerOptions;
  /** Overrides: return true when handled. */
  override?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => boolean;
}

export function sendError(res: http.ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
}

function token(limit: number, page: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(limit, 0);
  b.writeUInt16LE(page, 2);
  return b.toString('base64url') + '='.repeat((4 - (b.toString('base64url').length % 4)) % 4);
}

function pageOf<T>(items: T[], limit: number, url: URL): { items: T[]; next?: string } | { error: string } {
  const raw = url.searchParams.get('nextPageToken');
  let page = 1;
  if (raw !== null) {
    const b = Buffer.from(raw, 'base64url');
    if (b.length < 4) return { error: 'EOF' };
    if (b.readUInt16LE(0) !== limit) return { error: `token limit must be ${limit}` };
    page = b.readUInt16LE(2);
    if (page === 0) return { error: 'token page must be greater than zero' };
  }
  const slice = items.slice((page - 1) * limit, page * limit);
  return page * limit <= items.length ? { items: slice, next: token(limit, page + 1) } : { items: slice };
}

export class FakeFleetServer {
  readonly requests: Recorded[] = [];
  readonly units = new Map<string, ApiUnit>();
  states: ApiUnitState[];
  machines: ApiMachine[];
  journal: JournalLine[];
  /** Open follow responses, for pushing lines. */
  readonly followers = new Set<http.ServerResponse>();
  private readonly server: http.Server;
  private readonly limit: number;
  /** TCP (or unix socket) connections accepted so far. */
  connections = 0;
  private readonly open = new Set<net.Socket>();
  private readonly closedWaiters: (() => void)[] = [];

  constructor(private readonly options: FakeFleetServerOptions = {}) {
    this.limit = options.limit ?? 100;
    for (const u of options.units ?? []) this.units.set(u.name, u);
    this.states = options.states ?? [];
    this.machines = options.machines ?? [];
    this.journal = options.journal ?? [];
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (this.options.override?.(req, res, body)) return;
        this.handle(req, res, body);
      });
    };
    this.server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
    this.server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      this.connections++;
      this.open.add(socket);
      socket.on('close', () => {
        this.open.delete(socket);
        if (this.open.size === 0) for (const waiter of this.closedWaiters.splice(0)) waiter();
      });
    });
  }

  /** Calls `then` once no connection is open (at once when none is). */
  onConnectionsClosed(then: () => void): void {
    if (this.open.size === 0) then();
    else this.closedWaiters.push(then);
  }

  async listen(where: { port: 0 } | { path: string }): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      if ('path' in where) this.server.listen(where.path, resolve);
      else this.server.listen(0, '127.0.0.1', resolve);
    });
    if ('path' in where) return `unix://${where.path}`;
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  push(line: JournalLine): void {
    for (const res of this.followers) res.write(`${JSON.stringify(line)}\n`);
  }

  async close(): Promise<void> {
    for (const res of this.followers) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
    const address = this.server.address();
    if (typeof address === 'string') fs.rmSync(address, { force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, value: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const segments = url.pathname.split('/').slice(1);
    if (segments[0] !== 'fleet' || segments[1] !== 'v1') return sendError(res, 404, '');
    const [collection, rawName, extra] = segments.slice(2);
    if (extra !== undefined) return sendError(res, 404, '');
    const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
    const list = <T>(items: T[], key: string) => {
      const page = pageOf(items, this.limit, url);
      if ('error' in page) return sendError(res, 400, page.error);
      const out: Record<string, unknown> = {};
      if (page.items.length) out[key] = page.items;
      if (page.next) out['nextPageToken'] = page.next;
      return json(200, out);
    };
    if (collection === 'units' && name === undefined) {
      return list(
        [...this.units.values()].sort((a, b) => a.name.localeCompare(b.name)),
        'units',
      );
    }
    if (collection === 'units' && name !== undefined) {
      const unit = this.units.get(name);
      if (req.method === 'GET') return unit ? json(200, unit) : sendError(res, 404, 'unit does not exist');
      if (req.method === 'DELETE') {
        if (!unit) return sendError(res, 404, 'unit does not exist');
        this.units.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'PUT') {
        if (req.headers['content-type'] !== 'application/json') return sendError(res, 415, 'only acceptable Content-Type is application/json');
        let parsed: ApiUnit;
        try {
          parsed = JSON.parse(body) as ApiUnit;
        } catch (err) {
          return sendError(res, 400, `unable to decode body: ${(err as Error).message}`);
        }
        if (!unit) {
          if (!parsed.options?.length) return sendError(res, 409, 'unit does not exist and options field empty');
          this.units.set(name, { name, options: parsed.options, desiredState: parsed.desiredState ?? 'inactive', currentState: 'inactive' });
          res.writeHead(201).end();
          return;
        }
        if (!parsed.desiredState) return sendError(res, 409, 'must provide DesiredState to update existing unit');
        unit.desiredState = parsed.desiredState;
        res.writeHead(204).end();
        return;
      }
      return sendError(res, 405, 'only GET, PUT and DELETE supported against this resource');
    }
    if (collection === 'state' && name === undefined) return list(this.states, 'states');
    if (collection === 'machines' && name === undefined) return list(this.machines, 'machines');
    if (collection === 'journal' && name !== undefined) {
      const machine = url.searchParams.get('machineID');
      let lines = this.journal.filter(l => !machine || l.machineID === machine);
      const n = url.searchParams.get('lines');
      if (n !== null) lines = lines.slice(-Number(n));
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      for (const l of lines) res.write(`${JSON.stringify(l)}\n`);
      if (url.searchParams.get('follow') === 'true') {
        this.followers.add(res);
        res.on('close', () => this.followers.delete(res));
        return;
      }
      res.end();
      return;
    }
    return sendError(res, 404, '');
  }
}

// Self-test of the emulator's paging against fleet's token vectors (fleet-reference §3.4),
// registered only when this file is run itself (other tests import the emulator).
if (require.main === module) {
  it("emulator: page tokens are fleet's (base64url with padding of limit, page as uint16 LE)", () => {
    assert.equal(token(100, 2), 'ZAACAA==');
    assert.equal(token(100, 3), 'ZAADAA==');
    assert.equal(token(12482, 0), 'wjAAAA==');
    assert.equal(token(19, 11852), 'EwBMLg==');
  });
}
