/**
 * HttpFleetApi: FleetApi over fleet's v1 HTTP API, the way fleetctl's API driver talks to it
 * (fleet-reference §3, §4.2): `/fleet/v1/…` under the endpoint's path, `alt=json` on every
 * request, `@` sent as `%40`, every page followed, errors shown with the server's message.
 *
 * Every request dials its own connection through one factory: TCP, a unix socket, TLS on top of
 * either, or a stream from an SSH tunnel (`dial`), as fleetctl's Transport.Dial does. No
 * `vscode` import here.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type {
  ApiErrorBody, ApiMachine, ApiUnit, ApiUnitOption, ApiUnitState, JobState, JournalLine, MachinePage, UnitPage, UnitStatePage,
} from '../../../protocol/src/api';
import { abortError } from '../../../protocol/src/log';
import { parseEndpoint as checkEndpoint } from '../connection/profile';
import { FleetApiError, type FleetApi } from './types';

/** Where a connection goes: what the tunnel (or the local machine) dials. */
export type DialTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface HttpFleetApiOptions {
  /** `http://host:port[/prefix]`, `https://…`, `unix:///path` (or `file:///path`). */
  endpoint: string;
  /** Defaults to the endpoint. */
  label?: string;
  /** Time allowed from dialing to the end of the response (to the headers for followJournal). Default 10 s; 0 = none. */
  requestTimeoutMs?: number;
  /** PEM contents for https endpoints. Without `ca` the system roots are used. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Opens the byte stream to the target instead of dialing locally (an SSH tunnel). */
  dial?: (target: DialTarget, signal?: AbortSignal) => Promise<Duplex>;
  /** Called once by dispose() (e.g. to close the tunnel). */
  onDispose?: () => void;
  /** Upper bound on pages followed per list (default 10 000). */
  maxPages?: number;
  /** Upper bound on a response body (default 64 MiB). */
  maxBodyBytes?: number;
}

interface Endpoint {
  scheme: 'http' | 'https' | 'unix';
  /** For TCP: host and port; for unix: the socket path. */
  target: DialTarget;
  /** Host header (`domain-sock` for unix sockets, as fleetctl). */
  hostHeader: string;
  servername: string | undefined;
  /** Path prefix + `/fleet/v1/`. */
  base: string;
}

/** The endpoint checked by the profile's parseEndpoint (one set of errors), then taken apart. */
function parseEndpoint(endpoint: string): Endpoint {
  const checked = checkEndpoint(endpoint);
  if ('error' in checked) throw new FleetApiError(checked.error, undefined, 'config');
  if (checked.value.startsWith('unix://')) {
    const path = checked.value.slice('unix://'.length);
    return { scheme: 'unix', target: { kind: 'unix', path }, hostHeader: 'domain-sock', servername: undefined, base: '/fleet/v1/' };
  }
  const url = new URL(checked.value);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  const prefix = url.pathname.replace(/\/+$/, '');
  return {
    scheme,
    target: { kind: 'tcp', host, port },
    hostHeader: url.host,
    servername: net.isIP(host) ? undefined : host,
    base: `${prefix}/fleet/v1/`,
  };
}

/** Path segment for a unit name: `@` becomes `%40` (as fleetctl sends it); `/` can never be part of a name. */
function unitSegment(name: string): string {
  if (name === '' || name.includes('/')) {
    throw new FleetApiError(`"${name}" is not a unit name; a name such as hello.service or web@1.service is needed`, undefined, 'config');
  }
  return encodeURIComponent(name);
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL|ERR_TLS|EPROTO$|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/;

/** OpenSSL's error text without its `…:SSL routines:fn:` prefix and source location, and the fix. */
function tlsReason(e: NodeJS.ErrnoException): string {
  const text = (e.message ?? '').split('\n')[0]!;
  if (/alert certificate required|alert handshake failure|alert bad certificate/i.test(text) && !/unknown ca/i.test(text)) {
    return 'the server requires a client certificate it accepts. Set certFile and keyFile in the cluster profile to a certificate signed by the CA the server trusts.';
  }
  if (/alert unknown ca/i.test(text)) {
    return 'the server does not trust the client certificate (unknown CA). Check certFile and keyFile.';
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `${text}. Use the host name the certificate was issued for in the endpoint.`;
  }
  const reason = text.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]+:[^:]+:/, '').replace(/:\.\.?\/.*$/, '');
  return `${reason}. Check caFile (the CA that signed the server's certificate), certFile and keyFile.`;
}

/** Turns a socket-level failure into a message that names the endpoint and the fix. */
function networkError(err: unknown, label: string, endpoint: Endpoint, timeoutMs: number): FleetApiError {
  if (err instanceof FleetApiError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  /** For decisions (connectionProblem.ts): the socket's error code. */
  const tag = code || undefined;
  const where = endpoint.target.kind === 'unix' ? `the fleet socket ${endpoint.target.path}` : `fleet at ${label}`;
  if (endpoint.target.kind === 'unix' && code === 'ENOENT') {
    return new FleetApiError(`Cannot reach ${where}: no such socket. Is fleetd running on this machine? For a remote cluster set an http:// endpoint or a tunnel.`, undefined, 'network', tag);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FleetApiError(`Cannot reach ${where}: permission denied. Add your user to the group that owns the socket, or use an http:// endpoint.`, undefined, 'network', tag);
  }
  if (code === 'ECONNREFUSED') {
    return new FleetApiError(`Cannot reach ${where}: connection refused. Is fleetd running and listening there? Check the endpoint.`, undefined, 'network', tag);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new FleetApiError(`Cannot reach ${where}: host name not found. Check the host in the endpoint.`, undefined, 'network', tag);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') {
    return new FleetApiError(`Cannot reach ${where}: the host is unreachable (${code}). Check the network, or use a tunnel.`, undefined, 'network', tag);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(e.message ?? '')) {
    return new FleetApiError(`The connection to ${where} closed before fleet answered. Is that endpoint a fleet API${endpoint.scheme === 'http' ? ' (or does it expect https://)' : ''}?`, undefined, 'network', tag);
  }
  if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(e.message ?? '')) {
    return new FleetApiError(`TLS to ${where} failed: ${tlsReason(e)}`, undefined, 'tls', tag);
  }
  if (code === 'ETIMEOUT_FLEET') {
    return new FleetApiError(`${where} did not answer within ${timeoutMs / 1000} s. Is fleetd healthy? (The timeout is the profile's requestTimeout.)`, undefined, 'network', tag);
  }
  return new FleetApiError(`Cannot reach ${where}: ${e.message ?? String(err)}`, undefined, 'network', tag);
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
    return new FleetApiError(`fleet API ${status}: ${what} got a response that is not fleet's${snippet ? ` ("${snippet}")` : ''}; is ${label} a fleet API endpoint?`, status, 'http');
  }
  if (message === '') {
    const hint = status >= 500 ? `the server gave no detail; see the fleetd log on ${label}` : 'the server gave no detail';
    return new FleetApiError(`fleet API ${status}: ${what} failed (${hint})`, status, 'http');
  }
  return new FleetApiError(`fleet API ${status}: ${message}`, status, 'http');
}

const MAX_JOURNAL_LINE = 1024 * 1024;

interface Response {
  status: number;
  body: string;
  /** The ETag header (fleetd's change feed), when the server sent one. */
  etag?: string;
}

/** Per request: a longer deadline (a long poll) and extra headers. */
interface RequestExtra {
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** How long fleetd holds a `?wait=` list request (its MAX_WAIT_MS), plus slack for the answer. */
const WAIT_HOLD_MS = 60_000;

export class HttpFleetApi implements FleetApi {
  readonly label: string;
  private readonly endpoint: Endpoint;
  private readonly timeoutMs: number;
  private readonly maxPages: number;
  private readonly maxBodyBytes: number;
  private disposed = false;
  /** Requests in flight, destroyed by dispose(). */
  private readonly inflight = new Set<http.ClientRequest>();
  /**
   * Keep-alive connections for an endpoint dialled directly (TCP, TLS, unix socket): the explorer's
   * reads and the change feed reuse them instead of one connection per request. Through an SSH
   * tunnel each request keeps its own forwarded channel (the tunnel is the long-lived connection).
   */
  private readonly agent: http.Agent | undefined;

  constructor(private readonly options: HttpFleetApiOptions) {
    this.endpoint = parseEndpoint(options.endpoint);
    this.label = options.label ?? options.endpoint;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxPages = options.maxPages ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.agent = options.dial ? undefined : new DialingAgent(() => this.connect());
  }

  // --- FleetApi -------------------------------------------------------------------------------

  async listMachines(signal?: AbortSignal): Promise<ApiMachine[]> {
    return this.pages<MachinePage, ApiMachine>('machines', page => page.machines, 'listing machines', signal);
  }

  async listUnits(signal?: AbortSignal): Promise<ApiUnit[]> {
    return this.pages<UnitPage, ApiUnit>('units', page => page.units, 'listing units', signal);
  }

  async listUnitStates(signal?: AbortSignal, filter?: { unitName?: string }): Promise<ApiUnitState[]> {
    const collection = filter?.unitName ? `state?unitName=${encodeURIComponent(filter.unitName)}` : 'state';
    return this.pages<UnitStatePage, ApiUnitState>(collection, page => page.states, 'listing unit states', signal);
  }

  /**
   * fleetd's change feed: `GET machines?wait=<token>` is held until the cluster changes (or about
   * a minute passes). Resolves with the token after the change (or the same token when nothing
   * changed), the current token when `token` is undefined, and undefined when the server has no
   * feed (real fleet: no ETag) — then the caller polls.
   */
  async waitForChange(token: string | undefined, signal: AbortSignal): Promise<string | undefined> {
    const path = token === undefined ? 'machines' : `machines?wait=${encodeURIComponent(token)}`;
    const extra: RequestExtra = token === undefined ? { headers: {} } : { timeoutMs: WAIT_HOLD_MS + Math.max(this.timeoutMs, 10_000), headers: { 'If-None-Match': token } };
    const res = await this.send('GET', path, undefined, signal, extra);
    if (res.status === 304) return res.etag ?? token;
    this.expect(res, [200], 'waiting for a change');
    return res.etag;
  }

  async getUnit(name: string, signal?: AbortSignal): Promise<ApiUnit | undefined> {
    const res = await this.send('GET', `units/${unitSegment(name)}`, undefined, signal);
    if (res.status === 404) return undefined;
    this.expect(res, [200], `getting unit ${name}`);
    return this.json<ApiUnit>(res, `unit ${name}`);
  }

  async createUnit(name: string, options: ApiUnitOption[], desiredState: JobState, signal?: AbortSignal): Promise<void> {
    const res = await this.send('PUT', `units/${unitSegment(name)}`, { name, options, desiredState }, signal);
    this.expect(res, [201, 204], `creating unit ${name}`);
  }

  async setUnitTargetState(name: string, desiredState: JobState, signal?: AbortSignal): Promise<void> {
    const res = await this.send('PUT', `units/${unitSegment(name)}`, { name, desiredState }, signal);
    this.expect(res, [201, 204], `setting unit ${name} to ${desiredState}`);
  }

  async destroyUnit(name: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.send('DELETE', `units/${unitSegment(name)}`, undefined, signal);
    if (res.status === 404) return false;
    this.expect(res, [200, 204], `destroying unit ${name}`);
    return true;
  }

  async journal(unit: string, options: { lines?: number; machineId?: string }, signal?: AbortSignal): Promise<JournalLine[]> {
    const res = await this.send('GET', this.journalPath(unit, options, false), undefined, signal);
    this.expectJournal(res, unit);
    const lines: JournalLine[] = [];
    const text = res.body.trim();
    if (text.startsWith('[')) {
      for (const item of this.json<unknown[]>(res, `the journal of ${unit}`)) lines.push(journalLine(item, JSON.stringify(item)));
    } else if (text.startsWith('{"lines"')) {
      for (const item of this.json<{ lines: unknown[] }>(res, `the journal of ${unit}`).lines ?? []) lines.push(journalLine(item, JSON.stringify(item)));
    } else {
      for (const raw of text.split('\n')) if (raw.trim()) lines.push(parseJournalLine(raw));
    }
    return lines;
  }

  async followJournal(unit: string, onLine: (line: JournalLine) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    let response: http.IncomingMessage;
    try {
      ({ response } = await this.open('GET', this.journalPath(unit, {}, true), undefined, signal, true));
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    if (response.statusCode !== 200) {
      const body = await this.readBody(response, () => false, signal).catch(() => '');
      this.expectJournal({ status: response.statusCode ?? 0, body }, unit);
    }
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      response.setEncoding('utf8');
      const onAbort = () => {
        response.destroy();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        if (err) response.destroy();
        if (buffered.trim()) onLine(parseJournalLine(buffered));
        buffered = '';
        if (err && !signal.aborted) reject(networkError(err, this.label, this.endpoint, this.timeoutMs));
        else resolve();
      };
      response.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const raw = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (raw.trim()) onLine(parseJournalLine(raw));
        }
        if (buffered.length > MAX_JOURNAL_LINE) {
          buffered = '';
          finish(new FleetApiError(`fleet API: the journal from ${this.label} sent a line longer than ${MAX_JOURNAL_LINE} bytes; stopped following`, 200, 'http'));
        }
      });
      response.on('end', () => finish());
      response.on('error', err => finish(err));
      response.on('close', () => finish());
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const req of this.inflight) req.destroy(new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'network'));
    this.inflight.clear();
    this.agent?.destroy();
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

  private async pages<P extends { nextPageToken?: string }, T>(collection: string, items: (page: P) => T[] | undefined, what: string, signal?: AbortSignal): Promise<T[]> {
    const all: T[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 0; page < this.maxPages; page++) {
      const path = token === undefined ? collection : `${collection}${collection.includes('?') ? '&' : '?'}nextPageToken=${encodeURIComponent(token)}`;
      const res = await this.send('GET', path, undefined, signal);
      this.expect(res, [200], what);
      const body = this.json<P>(res, what);
      if (typeof body !== 'object' || body === null) {
        throw new FleetApiError(`fleet API ${res.status}: ${what}: expected an object, got ${res.body.slice(0, 100)}`, res.status, 'http');
      }
      all.push(...(items(body) ?? []));
      token = body.nextPageToken || undefined;
      if (token === undefined) return all;
      if (seen.has(token)) throw new FleetApiError(`fleet API: ${what}: the server repeated page token ${token}; stopped to avoid looping forever`, res.status, 'http');
      seen.add(token);
    }
    throw new FleetApiError(`fleet API: ${what}: more than ${this.maxPages} pages; stopped`, undefined, 'http');
  }

  private async send(method: string, path: string, body: unknown, signal?: AbortSignal, extra?: RequestExtra): Promise<Response> {
    const { response, timedOut } = await this.open(method, path, body, signal, false, extra);
    const out: Response = { status: response.statusCode ?? 0, body: await this.readBody(response, timedOut, signal) };
    const etag = response.headers.etag;
    if (typeof etag === 'string' && etag !== '') out.etag = etag;
    return out;
  }

  private readBody(response: http.IncomingMessage, timedOut: () => boolean, signal?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          // Reject first: destroying the response reports its own (less useful) error.
          reject(new FleetApiError(`fleet API: the response from ${this.label} is larger than ${this.maxBodyBytes} bytes; stopped reading`, response.statusCode, 'http'));
          response.destroy();
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      const failed = (err: Error) => {
        if (signal?.aborted) reject(abortError(signal));
        else if (timedOut()) reject(networkError(Object.assign(new Error('timeout'), { code: 'ETIMEOUT_FLEET' }), this.label, this.endpoint, this.timeoutMs));
        else reject(networkError(err, this.label, this.endpoint, this.timeoutMs));
      };
      response.on('error', failed);
      response.on('aborted', () => failed(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    });
  }

  /** Dials (through the tunnel when there is one), adds TLS for https. */
  private async connect(signal?: AbortSignal): Promise<Duplex> {
    const { target } = this.endpoint;
    const raw: Duplex | undefined = this.options.dial ? await this.options.dial(target, signal) : undefined;
    if (this.endpoint.scheme === 'https') {
      const tlsOptions: tls.ConnectionOptions = {
        ...(this.options.tls?.ca ? { ca: this.options.tls.ca } : {}),
        ...(this.options.tls?.cert ? { cert: this.options.tls.cert } : {}),
        ...(this.options.tls?.key ? { key: this.options.tls.key } : {}),
        ...(this.endpoint.servername ? { servername: this.endpoint.servername } : {}),
        ...(raw ? { socket: raw } : target.kind === 'tcp' ? { host: target.host, port: target.port } : { path: target.path }),
      };
      return tls.connect(tlsOptions);
    }
    if (raw) return raw;
    return target.kind === 'tcp' ? net.connect({ host: target.host, port: target.port }) : net.connect({ path: target.path });
  }

  /**
   * One request on its own connection. Resolves with the response once the headers arrived;
   * the timeout keeps running until the body ended (unless `streaming`).
   */
  private async open(method: string, path: string, body: unknown, signal: AbortSignal | undefined, streaming: boolean, extra?: RequestExtra): Promise<{ response: http.IncomingMessage; timedOut: () => boolean }> {
    try {
      return await this.openOnce(method, path, body, signal, streaming, extra);
    } catch (err) {
      // A kept-alive connection the server closed just as it was reused: a GET is asked again, once,
      // on a new connection (Node's documented pattern for keep-alive agents).
      if (method === 'GET' && (err as { reusedSocket?: boolean }).reusedSocket && !signal?.aborted && !this.disposed) {
        return this.openOnce(method, path, body, signal, streaming, extra);
      }
      throw err;
    }
  }

  private openOnce(method: string, path: string, body: unknown, signal: AbortSignal | undefined, streaming: boolean, extra?: RequestExtra): Promise<{ response: http.IncomingMessage; timedOut: () => boolean }> {
    if (this.disposed) return Promise.reject(new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'config'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const payload = body === undefined ? undefined : `${JSON.stringify(body)}\n`;
    const separator = path.includes('?') ? '&' : '?';
    return new Promise((resolve, reject) => {
      let settled = false;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const headers: http.OutgoingHttpHeaders = { Host: this.endpoint.hostHeader, 'User-Agent': 'vscode-fleet', Accept: 'application/json', ...(extra?.headers ?? {}) };
      const timeoutMs = extra?.timeoutMs ?? this.timeoutMs;
      if (payload !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = Buffer.byteLength(payload);
      }
      // new ClientRequest, not http.request: VS Code's extension host patches http.request for its
      // proxy support, and the patched one ignores createConnection (every request then dials
      // the Host header directly and is refused).
      const common = { method, path: `${this.endpoint.base}${path}${separator}alt=json`, headers };
      const req = this.agent
        ? new http.ClientRequest({ ...common, agent: this.agent })
        : new http.ClientRequest({
            ...common,
            createConnection: ((_: unknown, callback: (err: Error | null, socket?: Duplex) => void) => {
              this.connect(signal).then(socket => callback(null, socket), (err: unknown) => callback(err as Error));
              return undefined;
            }) as unknown as http.ClientRequestArgs['createConnection'],
          });
      this.inflight.add(req);
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.inflight.delete(req);
      };
      const fail = (err: unknown) => {
        cleanup();
        if (!settled) {
          settled = true;
          const error = signal?.aborted ? abortError(signal) : networkError(err, this.label, this.endpoint, this.timeoutMs);
          // Whether the request went out on a kept-alive connection the server may have just closed.
          if (req.reusedSocket && !timedOut && ['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '')) Object.assign(error, { reusedSocket: true });
          reject(error);
        }
      };
      const onAbort = () => req.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEOUT_FLEET' }));
        }, timeoutMs);
      }
      req.on('error', fail);
      req.on('response', response => {
        if (streaming) cleanup();
        else response.on('close', cleanup);
        settled = true;
        resolve({ response, timedOut: () => timedOut });
      });
      req.end(payload);
    });
  }
}

/**
 * An http.Agent that keeps connections alive and opens new ones with the API's own dialer (TCP,
 * TLS with the profile's certificates, or a unix socket). Node's agent takes the connection from
 * the callback of createConnection.
 */
class DialingAgent extends http.Agent {
  constructor(private readonly dial: () => Promise<Duplex>) {
    super({ keepAlive: true, keepAliveMsecs: 1_000, maxFreeSockets: 4, scheduling: 'lifo' });
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | undefined {
    this.dial().then(
      socket => callback?.(null, socket),
      (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

function parseJournalLine(raw: string): JournalLine {
  try {
    return journalLine(JSON.parse(raw), raw);
  } catch {
    return { time: Date.now(), machineID: '', stream: 'system', text: `(unreadable journal line) ${raw}` };
  }
}

function journalLine(value: unknown, raw: string): JournalLine {
  const v = value as Partial<JournalLine> | null;
  if (!v || typeof v !== 'object' || typeof v.text !== 'string') {
    return { time: Date.now(), machineID: '', stream: 'system', text: `(unreadable journal line) ${raw}` };
  }
  return {
    time: typeof v.time === 'number' ? v.time : Date.now(),
    machineID: typeof v.machineID === 'string' ? v.machineID : '',
    stream: v.stream === 'stdout' || v.stream === 'stderr' || v.stream === 'system' ? v.stream : 'system',
    text: v.text,
  };
}
