/**
 * HttpFleetApi: FleetApi over fleet's v1 HTTP API, the way fleetctl's API driver talks to it
 * (fleet-reference §3, §4.2): `/fleet/v1/…` under the endpoint's path, `alt=json` on every
 * request, `@` sent as `%40`, every page followed, errors shown with the server's message. Lists
 * ask for big pages with fleetd's `pageSize` (fleet ignores it and sends its pages of 100).
 *
 * The connections (TCP, unix socket, TLS, an SSH tunnel's streams), timeouts and socket errors
 * are httpTransport.ts's; fleetd's journal lines are journalStream.ts's. No `vscode` import here.
 */
import type http from 'node:http';
import type {
  ApiErrorBody,
  ApiMachine,
  ApiUnit,
  ApiUnitOption,
  ApiUnitState,
  JobState,
  JournalLine,
  MachinePage,
  UnitPage,
  UnitStatePage,
} from '../../../protocol/src/api';
import { HttpTransport, type RequestExtra, type Response, type TransportOptions } from './httpTransport';
import { followJournalStream, parseJournalBody } from './journalStream';
import { FleetApiError, type CollectionItems, type ConditionalList, type FleetApi } from './types';

export interface HttpFleetApiOptions extends TransportOptions {
  /** Called once by dispose() (e.g. to close the tunnel). */
  onDispose?: () => void;
  /** Upper bound on pages followed per list (default 10 000). */
  maxPages?: number;
  /**
   * Items per page, asked with fleetd's `pageSize` extension (default 5,000: a cluster of that
   * size in one request per list). fleet ignores the parameter and answers pages of 100.
   */
  pageSize?: number;
}

/** The page size asked of the server by default (fleetd's `pageSize`; fleet's pages stay 100). */
export const DEFAULT_PAGE_SIZE = 5000;

/** Path segment for a unit name: `@` becomes `%40` (as fleetctl sends it); `/` can never be part of a name. */
function unitSegment(name: string): string {
  if (name === '' || name.includes('/')) {
    throw new FleetApiError(`"${name}" is not a unit name; a name such as hello.service or web@1.service is needed`, undefined, 'config');
  }
  return encodeURIComponent(name);
}

/** The `message` of fleet's error body; undefined when the body is not one. */
function serverMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as Partial<ApiErrorBody>;
    if (parsed && typeof parsed.error === 'object' && parsed.error !== null && typeof parsed.error.message === 'string') {
      return parsed.error.message;
    }
  } catch {
    // not JSON: the caller describes the body instead
  }
  return undefined;
}

function httpError(status: number, body: string, label: string, what: string): FleetApiError {
  const message = serverMessage(body);
  if (message === undefined) {
    const snippet = body.trim().split('\n')[0]?.slice(0, 200) ?? '';
    // etcd answers fleet's API paths with Go's plain "404 page not found".
    if (status === 404 && snippet === '404 page not found') {
      return new FleetApiError(
        `fleet API 404: ${label} answers like etcd, not like fleet's HTTP API (${what}). If it is the cluster's etcd, use the etcd driver: "driver": "etcd" in the cluster profile, or FLEETCTL_DRIVER=etcd`,
        status,
        'config',
        'wrong-driver',
      );
    }
    return new FleetApiError(
      `fleet API ${status}: ${what} got a response that is not fleet's${snippet ? ` ("${snippet}")` : ''}; is ${label} a fleet API endpoint?`,
      status,
      'http',
    );
  }
  if (message === '') {
    const hint = status >= 500 ? `the server gave no detail; see the fleetd log on ${label}` : 'the server gave no detail';
    return new FleetApiError(`fleet API ${status}: ${what} failed (${hint})`, status, 'http');
  }
  return new FleetApiError(`fleet API ${status}: ${message}`, status, 'http');
}

/** The cluster's collections: their path under /fleet/v1, their items in a page, what a failure names. */
const COLLECTIONS = {
  machines: { path: 'machines', what: 'listing machines', items: (page: MachinePage) => page.machines },
  units: { path: 'units', what: 'listing units', items: (page: UnitPage) => page.units },
  states: { path: 'state', what: 'listing unit states', items: (page: UnitStatePage) => page.states },
} as const;

/** How long fleetd holds a `?wait=` list request (its MAX_WAIT_MS), plus slack for the answer. */
const WAIT_HOLD_MS = 60_000;

export class HttpFleetApi implements FleetApi {
  readonly label: string;
  private disposed = false;
  private readonly transport: HttpTransport;
  private readonly timeoutMs: number;
  private readonly maxPages: number;
  private readonly pageSize: number;

  constructor(private readonly options: HttpFleetApiOptions) {
    this.transport = new HttpTransport(options);
    this.label = this.transport.label;
    this.timeoutMs = this.transport.timeoutMs;
    this.maxPages = options.maxPages ?? 10_000;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  // --- FleetApi -------------------------------------------------------------------------------

  async listMachines(signal?: AbortSignal): Promise<ApiMachine[]> {
    return (await this.listIfChanged('machines', undefined, signal)).items!;
  }

  async listUnits(signal?: AbortSignal): Promise<ApiUnit[]> {
    return (await this.listIfChanged('units', undefined, signal)).items!;
  }

  async listUnitStates(signal?: AbortSignal, filter?: { unitName?: string }): Promise<ApiUnitState[]> {
    if (!filter?.unitName) return (await this.listIfChanged('states', undefined, signal)).items!;
    const collection = `state?unitName=${encodeURIComponent(filter.unitName)}`;
    return (await this.pages<UnitStatePage, ApiUnitState>(collection, page => page.states, 'listing unit states', undefined, signal)).items!;
  }

  /** fleetd's ETag per collection: with `tag`, page 1 asks If-None-Match, and a 304 skips the walk. */
  async listIfChanged<C extends keyof CollectionItems>(
    collection: C,
    tag: string | undefined,
    signal?: AbortSignal,
  ): Promise<ConditionalList<CollectionItems[C]>> {
    const read = COLLECTIONS[collection] as { path: string; what: string; items: (page: never) => CollectionItems[C][] | undefined };
    return this.pages(read.path, read.items, read.what, tag, signal);
  }

  /**
   * fleetd's change feed: `GET machines?wait=<token>` is held until the cluster changes (or about
   * a minute passes). Resolves with the token after the change (or the same token when nothing
   * changed), the current token when `token` is undefined, and undefined when the server has no
   * feed (real fleet: no ETag) — then the caller polls.
   */
  async waitForChange(token: string | undefined, signal: AbortSignal): Promise<string | undefined> {
    const path = token === undefined ? 'machines' : `machines?wait=${encodeURIComponent(token)}`;
    const extra: RequestExtra =
      token === undefined ? { headers: {} } : { timeoutMs: WAIT_HOLD_MS + Math.max(this.timeoutMs, 10_000), headers: { 'If-None-Match': token } };
    const res = await this.transport.send('GET', path, undefined, signal, extra);
    if (res.status === 304) return res.etag ?? token;
    this.expect(res, [200], 'waiting for a change');
    return res.etag;
  }

  async getUnit(name: string, signal?: AbortSignal): Promise<ApiUnit | undefined> {
    const res = await this.transport.send('GET', `units/${unitSegment(name)}`, undefined, signal);
    if (res.status === 404) return undefined;
    this.expect(res, [200], `getting unit ${name}`);
    return this.json<ApiUnit>(res, `unit ${name}`);
  }

  async createUnit(name: string, options: ApiUnitOption[], desiredState: JobState, signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send('PUT', `units/${unitSegment(name)}`, { name, options, desiredState }, signal);
    this.expect(res, [201, 204], `creating unit ${name}`);
  }

  async setUnitTargetState(name: string, desiredState: JobState, signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send('PUT', `units/${unitSegment(name)}`, { name, desiredState }, signal);
    this.expect(res, [201, 204], `setting unit ${name} to ${desiredState}`);
  }

  async destroyUnit(name: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.transport.send('DELETE', `units/${unitSegment(name)}`, undefined, signal);
    if (res.status === 404) return false;
    this.expect(res, [200, 204], `destroying unit ${name}`);
    return true;
  }

  async journal(unit: string, options: { lines?: number; machineId?: string }, signal?: AbortSignal): Promise<JournalLine[]> {
    const res = await this.transport.send('GET', this.journalPath(unit, options, false), undefined, signal);
    this.expectJournal(res, unit);
    return parseJournalBody(res.body, <T>() => this.json<T>(res, `the journal of ${unit}`));
  }

  async followJournal(
    unit: string,
    onLine: (line: JournalLine) => void,
    signal: AbortSignal,
    options: { lines?: number; machineId?: string } = {},
  ): Promise<void> {
    if (signal.aborted) return;
    let response: http.IncomingMessage;
    try {
      ({ response } = await this.transport.open('GET', this.journalPath(unit, options, true), undefined, signal, true));
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    if (response.statusCode !== 200) {
      const body = await this.transport.readBody(response, () => false, signal).catch(() => '');
      this.expectJournal({ status: response.statusCode ?? 0, body }, unit);
    }
    // Once the stream runs, a reset is the cluster going away (stopped or restarted), not an
    // endpoint that is no fleet API, which is what networkError says of a reset before an answer.
    const broken = (err: Error): Error => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|aborted/i.test(err.message)) {
        return new FleetApiError(
          `the journal of ${unit} from ${this.label} broke off: the cluster closed the connection (was it stopped or restarted?)`,
          undefined,
          'network',
          code || undefined,
        );
      }
      return this.transport.networkError(err);
    };
    await followJournalStream(response, onLine, signal, this.label, broken);
  }

  dispose(): void {
    this.transport.dispose();
    if (this.disposed) return;
    this.disposed = true;
    this.options.onDispose?.();
  }

  // --- internals ------------------------------------------------------------------------------

  private journalPath(unit: string, options: { lines?: number; machineId?: string }, follow: boolean): string {
    const query = new URLSearchParams();
    if (options.lines !== undefined) query.set('lines', String(Math.max(0, Math.floor(options.lines))));
    if (options.machineId) query.set('machineID', options.machineId);
    if (follow) query.set('follow', 'true');
    const q = query.toString();
    return `journal/${unitSegment(unit)}${q ? `?${q}` : ''}`;
  }

  private expectJournal(res: Response, unit: string): void {
    // fleet answers unknown paths with 404 and an empty message; fleetd's journal says why it has none.
    if (res.status === 404 && serverMessage(res.body) === '') {
      throw new FleetApiError(
        `fleet API 404: ${this.label} has no journal endpoint (a fleetd extension; real fleet serves journals only through \`fleetctl journal\` over SSH)`,
        404,
        'http',
      );
    }
    this.expect(res, [200], `reading the journal of ${unit}`);
  }

  private expect(res: Response, ok: number[], what: string): void {
    if (!ok.includes(res.status)) throw httpError(res.status, res.body, this.label, what);
  }

  private json<T>(res: Response, what: string): T {
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new FleetApiError(`fleet API ${res.status}: ${what} is not valid JSON; is ${this.label} a fleet API endpoint?`, res.status, 'http');
    }
  }

  /** Every page of a collection; with `ifNoneMatch`, page 1 asks for it only if it changed (items undefined on a 304). The tag is page 1's. */
  private async pages<P extends { nextPageToken?: string }, T>(
    collection: string,
    items: (page: P) => T[] | undefined,
    what: string,
    ifNoneMatch: string | undefined,
    signal?: AbortSignal,
  ): Promise<ConditionalList<T>> {
    const all: T[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    let tag: string | undefined;
    // Every page asks for the same size: fleetd's tokens carry it (fleet ignores it).
    const sized = `${collection}${collection.includes('?') ? '&' : '?'}pageSize=${this.pageSize}`;
    for (let page = 0; page < this.maxPages; page++) {
      const path = token === undefined ? sized : `${sized}&nextPageToken=${encodeURIComponent(token)}`;
      const conditional = page === 0 && ifNoneMatch !== undefined;
      const res = await this.transport.send('GET', path, undefined, signal, conditional ? { headers: { 'If-None-Match': ifNoneMatch } } : undefined);
      if (conditional && res.status === 304) return { items: undefined, tag: res.etag ?? ifNoneMatch };
      this.expect(res, [200], what);
      if (page === 0) tag = res.etag;
      const body = this.json<P>(res, what);
      if (typeof body !== 'object' || body === null) {
        throw new FleetApiError(`fleet API ${res.status}: ${what}: expected an object, got ${res.body.slice(0, 100)}`, res.status, 'http');
      }
      all.push(...(items(body) ?? []));
      token = body.nextPageToken || undefined;
      if (token === undefined) return { items: all, tag };
      if (seen.has(token))
        throw new FleetApiError(`fleet API: ${what}: the server repeated page token ${token}; stopped to avoid looping forever`, res.status, 'http');
      seen.add(token);
    }
    throw new FleetApiError(`fleet API: ${what}: more than ${this.maxPages} pages; stopped`, undefined, 'http');
  }
}
