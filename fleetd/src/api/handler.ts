/**
 * fleet's v1 HTTP API as a node:http request listener (fleet's api/mux.go and resources):
 * decode → validate with unitfile → call the Registry → encode. Everything is mounted under
 * `/fleet/v1` and the legacy `/v1-alpha`. Errors are fleet's `{"error":{"code","message"}}`; while
 * the registry is unreachable every request gets fleet's 503.
 */
import { FLEET_VERSION } from '../../../protocol/src/version';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryUnavailableError, type Registry } from '../../../registry/src/registry';
import { DISCOVERY_JSON } from './discovery';
import { ApiError, UNAVAILABLE_MESSAGE } from '../../../registry/src/api/errors';
import { sendEmpty, sendError, sendJson } from './respond';
import { serveJournal } from './journal';
import { MachinesResource } from '../../../registry/src/api/machines';
import { DEFAULT_TOKEN_LIMIT } from '../../../registry/src/api/pagination';
import { StateResource } from '../../../registry/src/api/state';
import { checkContentType, UnitsResource } from '../../../registry/src/api/units';
import { ChangeClock, ifNoneMatch, waitTag } from './changes';

export type ApiLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export const API_PREFIXES = ['/fleet/v1', '/v1-alpha'] as const;
/** Bodies larger than this are refused with 413 (fleet reads without a limit). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const FLEETD_VERSION = FLEET_VERSION;

export interface ApiHandlerOptions {
  registry: Registry;
  /** fleet's token_limit (page size); default 100. */
  tokenLimit?: number;
  maxBodyBytes?: number;
  /** Longest hold of a `?wait=<tag>` list request (default 60 s). */
  maxWaitMs?: number;
  /** Sent as `Server: fleetd/<version>`. */
  version?: string;
  log?: ApiLog;
}

export type ApiHandler = ((req: IncomingMessage, res: ServerResponse) => void) & { dispose(): void };

/** The longest a `?wait=<tag>` list request is held (the client asks again after it). */
export const MAX_WAIT_MS = 60_000;

export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const { registry } = options;
  const tokenLimit = options.tokenLimit ?? DEFAULT_TOKEN_LIMIT;
  if (!Number.isInteger(tokenLimit) || tokenLimit < 1 || tokenLimit > 0xffff) throw new RangeError(`tokenLimit must be an integer from 1 to 65535, got ${tokenLimit}`);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});
  const serverHeader = `fleetd/${options.version ?? FLEETD_VERSION}`;
  const units = new UnitsResource(registry, tokenLimit);
  const state = new StateResource(registry, tokenLimit);
  const machines = new MachinesResource(registry, tokenLimit);
  const clock = new ChangeClock(registry);
  const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;

  /**
   * A collection GET with the change feed: ETag, 304 for If-None-Match, `?wait=<tag>`, and page
   * walks cut from the list page 1 read. `render` turns the whole list into the answer.
   */
  const serveList = async <T>(req: IncomingMessage, res: ServerResponse, url: URL, key: string, all: () => Promise<T[]>, render: (source: () => Promise<readonly T[]>) => Promise<unknown>): Promise<void> => {
    let tag = clock.tag;
    const wait = waitTag(url.searchParams);
    if (wait !== undefined && wait === tag) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      res.once('close', onClose);
      const changed = await clock.waitPast(tag, maxWaitMs, gone.signal);
      res.off('close', onClose);
      if (gone.signal.aborted) return;
      if (!changed) return sendNotModified(res, tag);
      tag = clock.tag;
    } else if (ifNoneMatch(req.headers['if-none-match']).includes(tag)) {
      return sendNotModified(res, tag);
    }
    const walking = url.searchParams.has('nextPageToken');
    const source = async (): Promise<readonly T[]> => {
      const hit = walking ? clock.cachedList<T>(key, tag) : undefined;
      if (hit) return hit;
      const items = await all();
      clock.rememberList(key, tag, items);
      return items;
    };
    const body = await render(source);
    res.setHeader('ETag', tag);
    sendJson(res, 200, body);
  };
  /** Known unreachable: check with a ping before serving anything, as fleet serves only 503s then. */
  let unavailable = false;

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fleetd');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new ApiError(400, `invalid URL escape in ${url.pathname}`);
    }
    if (unavailable) {
      await registry.ping();
      unavailable = false;
    }

    if (path === '/') throw new ApiError(405);
    const prefix = API_PREFIXES.find(p => path === p || path.startsWith(`${p}/`));
    if (!prefix) throw new ApiError(404);
    const rest = path.slice(prefix.length);
    if (rest === '') throw new ApiError(405);

    if (rest === '/discovery') {
      if (method !== 'GET') throw new ApiError(400, 'only HTTP GET supported against this resource');
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(DISCOVERY_JSON) });
      res.end(DISCOVERY_JSON);
      return;
    }

    if (rest === '/machines') {
      if (method === 'GET') return serveList(req, res, url, 'machines', () => machines.all(), source => machines.list(url.searchParams.getAll('nextPageToken'), source));
      if (method === 'PATCH') {
        await machines.patch(await readBody(req, maxBodyBytes));
        clock.bump();
        return sendEmpty(res, 204);
      }
      throw new ApiError(405, 'only GET and PATCH supported against this resource');
    }

    const unitsPath = resourcePath(rest, '/units');
    if (unitsPath.kind === 'collection') {
      if (method !== 'GET') throw new ApiError(405, 'only GET supported against this resource');
      return serveList(req, res, url, 'units', () => units.all(), source => units.list(url.searchParams.getAll('nextPageToken'), source));
    }
    if (unitsPath.kind === 'item') {
      const name = unitsPath.item;
      if (method === 'GET') return sendJson(res, 200, await units.get(name));
      if (method === 'DELETE') {
        await units.destroy(name);
        clock.bump();
        return sendEmpty(res, 204);
      }
      if (method === 'PUT') {
        const contentTypes = headerValues(req, 'content-type');
        // fleet checks the media type before it reads the body: a 415 wins over a 413.
        checkContentType(contentTypes);
        const body = await readBody(req, maxBodyBytes);
        const status = await units.set(name, contentTypes, body);
        clock.bump();
        return sendEmpty(res, status);
      }
      throw new ApiError(405, 'only GET, PUT and DELETE supported against this resource');
    }

    const statePath = resourcePath(rest, '/state');
    if (statePath.kind === 'collection' || statePath.kind === 'item') {
      if (method !== 'GET') throw new ApiError(405, 'only GET supported against this resource');
      if (statePath.kind === 'collection') return serveList(req, res, url, 'state', () => state.all(), source => state.list(url.searchParams, source));
      return sendJson(res, 200, await state.get(statePath.item));
    }

    const journalPath = resourcePath(rest, '/journal');
    if (journalPath.kind === 'item') {
      if (method !== 'GET') throw new ApiError(405, 'only GET supported against this resource');
      return serveJournal(registry, { unit: journalPath.item, query: url.searchParams }, res);
    }

    throw new ApiError(404);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Server', serverHeader);
    log('debug', `HTTP ${req.method} ${req.url}`);
    route(req, res).catch((err: unknown) => {
      let status = 500;
      let message = '';
      if (err instanceof ApiError) {
        status = err.status;
        message = err.message;
      } else if (err instanceof RegistryUnavailableError) {
        unavailable = true;
        status = 503;
        message = UNAVAILABLE_MESSAGE;
        log('warn', `HTTP ${req.method} ${req.url}: ${describe(err)}`);
      } else {
        log('error', `HTTP ${req.method} ${req.url} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      }
      if (res.headersSent) {
        // A streaming response (journal) broke after it started: all we can do is end it.
        res.destroy();
        return;
      }
      if (status === 413) {
        // Refuse the rest of the body: answer, drain what is in flight, and close the connection.
        res.setHeader('Connection', 'close');
        req.resume();
      }
      sendError(res, status, message);
    });
  };
  return Object.assign(handler, { dispose: () => clock.dispose() });
}

/** 304 with the tag (no body). */
function sendNotModified(res: ServerResponse, tag: string): void {
  res.writeHead(304, { ETag: tag });
  res.end();
}

type ResourcePath = { kind: 'collection' } | { kind: 'item'; item: string } | { kind: 'none' };

/** fleet's isCollectionPath / isItemPath: the base exactly, or exactly one non-empty segment after it. */
function resourcePath(rest: string, base: string): ResourcePath {
  if (rest === base) return { kind: 'collection' };
  if (!rest.startsWith(`${base}/`)) return { kind: 'none' };
  const item = rest.slice(base.length + 1);
  if (item === '' || item.includes('/')) return { kind: 'none' };
  return { kind: 'item', item };
}

function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!);
  }
  return out;
}

/** The whole body as UTF-8, refused with 413 beyond `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', err => {
      if (done) return;
      done = true;
      reject(err);
    });
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `request body exceeds the limit of ${limit} bytes`);
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const text = err instanceof Error ? err.message : String(err);
  return cause ? `${text}: ${describe(cause)}` : text;
}
