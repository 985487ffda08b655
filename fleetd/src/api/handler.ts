/**
 * fleet's v1 HTTP API as a node:http request listener (fleet's api/mux.go and resources):
 * decode → validate with unitfile → call the registry (ApiRegistry) → encode. Everything is mounted under
 * `/fleet/v1` and the legacy `/v1-alpha`. Errors are fleet's `{"error":{"code","message"}}`; while
 * the registry is unreachable every request gets fleet's 503.
 */
import { FLEET_VERSION } from '../../../protocol/src/version';
import { describeError, errorStack, type Log } from '../../../protocol/src/log';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryLimitError, RegistryUnavailableError, type ApiRegistry } from '../../../registry/src/registry';
import { DISCOVERY_JSON } from './discovery';
import { ApiError, UNAVAILABLE_MESSAGE } from '../../../registry/src/api/errors';
import { sendEmpty, sendError, sendJson } from './respond';
import { serveJournal } from './journal';
import { MachinesResource } from '../../../registry/src/api/machines';
import { DEFAULT_TOKEN_LIMIT } from '../../../registry/src/api/pagination';
import { StateResource } from '../../../registry/src/api/state';
import { checkContentType, UnitsResource } from '../../../registry/src/api/units';
import { ChangeClock, ifNoneMatch, waitTag } from './changes';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_BODIES,
  MAX_BODIES_READ,
  MAX_JSON_DEPTH,
  MAX_WAITING_BODIES,
  nestsDeeperThan,
  readBody,
  Semaphore,
  SMALL_BODY_BYTES,
  writtenUnitBytesAtLeast,
} from './limits';

export const API_PREFIXES = ['/fleet/v1', '/v1-alpha'] as const;
/** Bodies larger than this are refused with 413 (fleet reads without a limit). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const FLEETD_VERSION = FLEET_VERSION;

export interface ApiHandlerOptions {
  registry: ApiRegistry;
  /** fleet's token_limit (page size); default 100. */
  tokenLimit?: number;
  maxBodyBytes?: number;
  /** Longest hold of a `?wait=<tag>` list request (default 60 s). */
  maxWaitMs?: number;
  /** Requests with a body processed at once (the others wait; body-less ones never do); default 1. */
  maxConcurrentBodies?: number;
  /** Longest a request body may take to arrive; default 15 s. */
  bodyTimeoutMs?: number;
  /** Sent as `Server: fleetd/<version>`. */
  version?: string;
  /** `DELETE /machines/{id}` (fleetd local only): removes the machine; its errors are ApiErrors. */
  removeMachine?: (id: string) => Promise<void>;
  log?: Log;
}

/** What the API is busy with: requests with a body being processed or waiting for a slot, long polls waiting for a change. */
export interface ApiLoad {
  bodiesProcessing: number;
  bodiesWaiting: number;
  longPolls: number;
}

export type ApiHandler = ((req: IncomingMessage, res: ServerResponse) => void) & { dispose(): void; load(): ApiLoad };

/** The longest a `?wait=<tag>` list request is held (the client asks again after it). */
export const MAX_WAIT_MS = 60_000;

export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const { registry } = options;
  const tokenLimit = options.tokenLimit ?? DEFAULT_TOKEN_LIMIT;
  if (!Number.isInteger(tokenLimit) || tokenLimit < 1 || tokenLimit > 0xffff)
    throw new RangeError(`tokenLimit must be an integer from 1 to 65535, got ${tokenLimit}`);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = options.log ?? (() => {});
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const reading = new Semaphore(MAX_BODIES_READ, MAX_WAITING_BODIES);
  const processing = new Semaphore(options.maxConcurrentBodies ?? DEFAULT_MAX_CONCURRENT_BODIES, Number.MAX_SAFE_INTEGER);
  /** The body of a request, read while fewer than MAX_BODIES_READ are, then processed by `fn` while fewer than maxConcurrentBodies are. */
  const withBody = <T>(req: IncomingMessage, decodePrefix: string, fn: (body: string) => Promise<T>, unitBody = false): Promise<T> =>
    reading.run(async () => {
      // A unit body larger than the registry takes in one request cannot be stored: refused before
      // it is decoded, validated and hashed (hundreds of ms and of MB for a few MB).
      const registryLimit = unitBody ? registry.maxRequestBytes : undefined;
      const body =
        registryLimit !== undefined && registryLimit < maxBodyBytes
          ? await readBody(req, registryLimit, bodyTimeoutMs, unitTooLarge, maxBodyBytes)
          : await readBody(req, maxBodyBytes, bodyTimeoutMs);
      // The decoder recurses per level: refuse what would overflow its stack (Go's text, its own limit).
      if (nestsDeeperThan(body, MAX_JSON_DEPTH))
        throw new ApiError(400, `${decodePrefix}exceeded max depth (fleetd decodes JSON nested at most ${MAX_JSON_DEPTH} deep)`);
      // A unit that cannot fit once written is refused before the costly decoding, validation and hashing.
      const written = registryLimit !== undefined ? writtenUnitBytesAtLeast(body) : undefined;
      if (written !== undefined && written > registryLimit!) throw unitTooLarge(registryLimit!, written);
      // Small bodies are processed at once (bounded by the bodies read); large ones one after the other.
      if (body.length <= SMALL_BODY_BYTES) return fn(body);
      return processing.run(() => fn(body));
    });
  const serverHeader = `fleetd/${options.version ?? FLEETD_VERSION}`;
  const units = new UnitsResource(registry, tokenLimit);
  const state = new StateResource(registry, tokenLimit);
  const machines = new MachinesResource(registry, tokenLimit);
  const clock = new ChangeClock(registry);
  const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;

  /**
   * A collection GET with the change feed: ETag, 304 for If-None-Match (while this collection is
   * unchanged since the tag), `?wait=<tag>`, and page walks cut from the list page 1 read.
   * `render` turns the whole list into the answer.
   */
  const serveList = async <T>(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    key: string,
    all: () => Promise<T[]>,
    render: (source: () => Promise<readonly T[]>) => Promise<unknown>,
  ): Promise<void> => {
    let tag = clock.tag;
    let readAt = clock.now;
    const walking = url.searchParams.has('nextPageToken');
    const wait = waitTag(url.searchParams);
    // The list read at most once per request (a check for If-None-Match may read it first).
    let read: Promise<readonly T[]> | undefined;
    const source = (): Promise<readonly T[]> =>
      (read ??= (async () => {
        const hit = walking ? clock.cachedList<T>(key, tag) : undefined;
        if (hit) return hit;
        const items = await all();
        clock.rememberList(key, tag, items);
        clock.observe(key, readAt, items);
        return items;
      })());
    if (wait !== undefined && wait === tag) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      res.once('close', onClose);
      const changed = await clock.waitPast(tag, maxWaitMs, gone.signal);
      res.off('close', onClose);
      if (gone.signal.aborted) return;
      if (!changed) return sendNotModified(res, tag);
      tag = clock.tag;
      readAt = clock.now;
    } else {
      // Unchanged since one of the client's tags: 304, also after changes to other collections
      // (checked against this collection's last read, or a read now when only that can tell).
      const tags = ifNoneMatch(req.headers['if-none-match']);
      if (tags.includes(tag)) return sendNotModified(res, tag);
      let known = walking ? [] : tags.map(t => clock.unchangedSince(key, t));
      if (known.includes(undefined) && !known.includes(true)) {
        await source();
        known = tags.map(t => clock.unchangedSince(key, t));
      }
      if (known.includes(true)) return sendNotModified(res, tag);
    }
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
      if (method === 'GET')
        return serveList(
          req,
          res,
          url,
          'machines',
          () => machines.all(),
          source => machines.list(url.searchParams.getAll('nextPageToken'), source, url.searchParams.getAll('pageSize')),
        );
      if (method === 'PATCH') {
        await withBody(req, '', body => machines.patch(body));
        clock.bump();
        return sendEmpty(res, 204);
      }
      throw new ApiError(405, 'only GET and PATCH supported against this resource');
    }

    const machinePath = resourcePath(rest, '/machines');
    if (machinePath.kind === 'item' && method === 'DELETE') {
      if (!options.removeMachine)
        throw new ApiError(405, 'only a local cluster (fleetd local) removes machines; a fleet machine leaves the cluster when its fleetd stops');
      await options.removeMachine(machinePath.item);
      clock.bump();
      return sendEmpty(res, 204);
    }

    const unitsPath = resourcePath(rest, '/units');
    if (unitsPath.kind === 'collection') {
      if (method !== 'GET') throw new ApiError(405, 'only GET supported against this resource');
      return serveList(
        req,
        res,
        url,
        'units',
        () => units.all(),
        source => units.list(url.searchParams.getAll('nextPageToken'), source, url.searchParams.getAll('pageSize')),
      );
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
        const status = await withBody(req, 'unable to decode body: ', body => units.set(name, contentTypes, body), true);
        clock.bump();
        return sendEmpty(res, status);
      }
      throw new ApiError(405, 'only GET, PUT and DELETE supported against this resource');
    }

    const statePath = resourcePath(rest, '/state');
    if (statePath.kind === 'collection' || statePath.kind === 'item') {
      if (method !== 'GET') throw new ApiError(405, 'only GET supported against this resource');
      if (statePath.kind === 'collection')
        return serveList(
          req,
          res,
          url,
          'state',
          () => state.all(),
          source => state.list(url.searchParams, source),
        );
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
        if (status >= 500) log('error', `HTTP ${req.method} ${req.url}: ${status} ${message}`);
      } else if (err instanceof RegistryLimitError) {
        // fleet answers 503 "unable to communicate with etcd" here; the client's request is what is too big.
        status = err.kind === 'size' ? 413 : 400;
        message = err.message;
        log('warn', `HTTP ${req.method} ${req.url}: ${status}: ${describeError(err)}`);
      } else if (err instanceof RegistryUnavailableError) {
        unavailable = true;
        status = 503;
        message = UNAVAILABLE_MESSAGE;
        log('warn', `HTTP ${req.method} ${req.url}: 503: ${describeError(err)}`);
      } else {
        log('error', `HTTP ${req.method} ${req.url}: 500: ${errorStack(err)}`);
      }
      if (res.headersSent) {
        // A streaming response (journal) broke after it started: all we can do is end it.
        res.destroy();
        return;
      }
      if (!req.complete) {
        // Refuse the rest of the body: answer, drain what is in flight, and close the connection.
        res.setHeader('Connection', 'close');
        req.resume();
      }
      sendError(res, status, message);
    });
  };
  const load = (): ApiLoad => ({ bodiesProcessing: processing.load.active, bodiesWaiting: processing.load.waiting, longPolls: clock.waiting });
  return Object.assign(handler, { dispose: () => clock.dispose(), load });
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

function unitTooLarge(limit: number, written?: number): ApiError {
  const what = written === undefined ? `the request body exceeds ${limit} bytes` : `the unit takes at least ${written} bytes once written`;
  return new ApiError(
    413,
    `too large for etcd: ${what}, and etcd takes at most --max-request-bytes (${limit} bytes) ` +
      'per request, in which a unit is written with its options three times; make the unit smaller',
  );
}
