/**
 * A small client for etcd's v2 keys API (`/v2/keys`), the API fleet v1.0 keeps its registry in
 * (fleet-etcd-v2.md §4). Plain HTTP(S) with the wire format of fleet's vendored client: GETs with
 * `quorum`, `recursive`, `sorted`; PUTs as `application/x-www-form-urlencoded` bodies `ttl=…&value=…`
 * with conditions in the query; DELETEs with conditions and `recursive` in the query.
 *
 * Connections: keep-alive to the endpoints, or one stream per request from `dial` (an SSH tunnel's
 * direct-tcpip channel, as fleetctl's etcd driver dials through `--tunnel`). Endpoints are tried in
 * turn when one cannot be reached. Every failure to get an answer is an `EtcdUnreachableError`
 * (a RegistryUnavailableError, so fleetd's API answers 503) whose message names the endpoint and
 * the fix; an answer that is an etcd error is an `EtcdV2Error` with etcd's errorCode.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RegistryUnavailableError } from '../registry';
import { abortError, errorMessage } from '../../../protocol/src/log';

export interface V2Node {
  key: string;
  value?: string;
  dir?: boolean;
  nodes?: V2Node[];
  ttl?: number;
  modifiedIndex: number;
  createdIndex: number;
}

export interface V2Response {
  action: string;
  node: V2Node;
  prevNode?: V2Node;
  /** X-Etcd-Index: the store's index when the answer was made. */
  etcdIndex: number;
}

/** etcd's error codes that fleet's registry acts on (fleet-etcd-v2.md §4). */
export const EtcdCode = {
  KeyNotFound: 100,
  CompareFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  DirNotEmpty: 108,
  EventIndexCleared: 401,
} as const;

/** An error answer from etcd: `{"errorCode","message","cause","index"}`. */
export class EtcdV2Error extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
    readonly etcdCause: string,
    readonly index: number,
    readonly status: number,
  ) {
    super(`${errorCode}: ${message}${etcdCause ? ` (${etcdCause})` : ''}`);
    this.name = 'EtcdV2Error';
  }
}

/** No usable answer from any endpoint. `reason` says why, for messages that name the fix. */
export class EtcdUnreachableError extends RegistryUnavailableError {
  constructor(
    message: string,
    readonly reason: 'network' | 'no-v2' | 'not-etcd' | 'tls' | 'timeout' | 'fleet-api',
    options?: { cause?: unknown },
  ) {
    super(message);
    this.name = 'EtcdUnreachableError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

export interface EtcdV2ClientOptions {
  /** `http://host:port` or `https://host:port`, tried in order. */
  endpoints: readonly string[];
  /** PEM contents for https endpoints. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Opens the byte stream to host:port instead of dialing locally (an SSH tunnel). */
  dial?: (target: { host: string; port: number }, signal?: AbortSignal) => Promise<Duplex>;
  /** Deadline of each request but watches (fleetctl's --request-timeout, 3 s). Default 5 s. */
  requestTimeoutMs?: number;
}

interface Endpoint {
  url: URL;
  host: string;
  port: number;
  secure: boolean;
  /** A unix socket (etcd's `unix://path`), instead of host:port. */
  socketPath?: string;
}

export interface SetOptions {
  ttlSeconds?: number;
  prevExist?: boolean;
  prevIndex?: number;
  prevValue?: string;
  /** etcd ≥ 2.3: renew the TTL without changing the value and without a watch event (needs prevExist=true and ttl). */
  refresh?: boolean;
}

export interface DeleteOptions {
  recursive?: boolean;
  /** Delete a directory only if it is empty (etcd answers 108 "Directory not empty" otherwise). */
  dir?: boolean;
  prevIndex?: number;
  prevValue?: string;
}

const MAX_BODY = 256 * 1024 * 1024;

export class EtcdV2Client {
  private readonly endpoints: Endpoint[];
  private readonly timeoutMs: number;
  private readonly agents: { http: http.Agent; https: https.Agent };
  /** The endpoint that answered last: tried first. */
  private preferred = 0;
  private closed = false;
  private readonly inflight = new Set<http.ClientRequest>();

  constructor(private readonly options: EtcdV2ClientOptions) {
    if (options.endpoints.length === 0) throw new Error('etcd v2: no endpoint given (expected e.g. http://127.0.0.1:2379)');
    this.endpoints = options.endpoints.map(parseEtcdEndpoint);
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 32, ...(options.tls ?? {}) }),
    };
  }

  get label(): string {
    return this.endpoints.map(originOf).join(',');
  }

  /** undefined when the key does not exist (100). */
  async get(key: string, opts: { recursive?: boolean; sorted?: boolean; quorum?: boolean } = {}): Promise<V2Response | undefined> {
    const q = new URLSearchParams({ quorum: String(opts.quorum ?? false), recursive: String(opts.recursive ?? false), sorted: String(opts.sorted ?? false) });
    try {
      return await this.call('GET', key, q);
    } catch (err) {
      if (err instanceof EtcdV2Error && err.errorCode === EtcdCode.KeyNotFound) return undefined;
      throw err;
    }
  }

  async set(key: string, value: string, opts: SetOptions = {}): Promise<V2Response> {
    const q = new URLSearchParams();
    if (opts.prevExist !== undefined) q.set('prevExist', String(opts.prevExist));
    if (opts.prevIndex !== undefined) q.set('prevIndex', String(opts.prevIndex));
    if (opts.prevValue !== undefined) q.set('prevValue', opts.prevValue);
    const body = new URLSearchParams();
    if (opts.refresh) body.set('refresh', 'true');
    if (opts.ttlSeconds !== undefined) body.set('ttl', String(Math.max(1, Math.trunc(opts.ttlSeconds))));
    if (!opts.refresh) body.set('value', value);
    return this.call('PUT', key, q, body.toString());
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<V2Response> {
    const q = new URLSearchParams();
    if (opts.prevIndex !== undefined) q.set('prevIndex', String(opts.prevIndex));
    if (opts.prevValue !== undefined) q.set('prevValue', opts.prevValue);
    if (opts.recursive) q.set('recursive', 'true');
    if (opts.dir) q.set('dir', 'true');
    return this.call('DELETE', key, q);
  }

  /** A whole subtree and the store index it was read at; `node` undefined when the key does not exist. */
  async tree(key: string): Promise<{ node: V2Node | undefined; etcdIndex: number }> {
    try {
      const res = await this.call('GET', key, new URLSearchParams({ quorum: 'true', recursive: 'true', sorted: 'false' }));
      return { node: res.node, etcdIndex: res.etcdIndex };
    } catch (err) {
      if (err instanceof EtcdV2Error && err.errorCode === EtcdCode.KeyNotFound) return { node: undefined, etcdIndex: err.index };
      throw err;
    }
  }

  /**
   * The first change under `key` at or after `waitIndex` (long poll, no deadline; abort with
   * `signal`); undefined when etcd closed the wait without an event. An index older than etcd's
   * event history rejects with EtcdV2Error 401 (EventIndexCleared).
   */
  async watch(key: string, waitIndex: number, signal: AbortSignal): Promise<V2Response | undefined> {
    const q = new URLSearchParams({ wait: 'true', recursive: 'true', waitIndex: String(waitIndex) });
    const path = `/v2/keys${encodeKey(key)}?${q}`;
    const res = await this.raw('GET', path, undefined, signal, true);
    if (res.status === 200 && res.body.trim() === '') return undefined;
    return this.decode(res);
  }

  /** etcd's `/version`; also tells that the endpoint is etcd at all. */
  async version(): Promise<{ etcdserver: string; etcdcluster: string }> {
    const res = await this.raw('GET', '/version', undefined, undefined, false);
    const json = parseJson(res.body) as { etcdserver?: unknown; etcdcluster?: unknown } | undefined;
    if (res.status !== 200 || typeof json?.etcdserver !== 'string') throw this.notEtcd(res);
    return { etcdserver: json.etcdserver, etcdcluster: String(json.etcdcluster ?? '') };
  }

  close(): void {
    this.closed = true;
    for (const req of this.inflight) req.destroy(new Error('etcd v2 client closed'));
    this.inflight.clear();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  // ---------------------------------------------------------------- internals

  private async call(method: string, key: string, query: URLSearchParams, body?: string, signal?: AbortSignal, wait = false): Promise<V2Response> {
    const path = `/v2/keys${encodeKey(key)}${query.size > 0 ? `?${query}` : ''}`;
    return this.decode(await this.raw(method, path, body, signal, wait));
  }

  private decode(res: { status: number; body: string; etcdIndex: number; endpoint: Endpoint }): V2Response {
    const json = parseJson(res.body) as Record<string, unknown> | undefined;
    if (json && typeof json.errorCode === 'number') {
      throw new EtcdV2Error(json.errorCode, String(json.message ?? ''), String(json.cause ?? ''), Number(json.index ?? 0), res.status);
    }
    if (!json || typeof json.action !== 'string' || typeof json.node !== 'object' || json.node === null) throw this.notEtcd(res);
    const out: V2Response = { action: json.action, node: json.node as V2Node, etcdIndex: res.etcdIndex };
    if (typeof json.prevNode === 'object' && json.prevNode !== null) out.prevNode = json.prevNode as V2Node;
    return out;
  }

  /** An answer that is not etcd v2's, turned into the reason and its fix. */
  private notEtcd(res: { status: number; body: string; endpoint: Endpoint }): EtcdUnreachableError {
    const where = originOf(res.endpoint);
    const text = res.body.trim().split('\n')[0]?.slice(0, 160) ?? '';
    if (res.status === 404 && /^404 page not found$/i.test(text)) {
      return new EtcdUnreachableError(
        `etcd at ${where} does not serve the v2 API that fleet keeps its registry in (etcd 3.4 and later disable it by default): start etcd with --enable-v2=true`,
        'no-v2',
      );
    }
    if (/client sent an http request to an https server/i.test(text)) {
      return new EtcdUnreachableError(
        `etcd at ${where} requires TLS: use https://${res.endpoint.url.host} and set the CA file (and a client certificate and key if etcd asks for one)`,
        'tls',
      );
    }
    const fleet = parseJson(res.body) as { error?: { code?: unknown } } | undefined;
    if (fleet && typeof fleet.error === 'object' && fleet.error !== null) {
      return new EtcdUnreachableError(
        `${where} is fleet's HTTP API, not etcd: use the API driver for this endpoint (driver "api"), or give the etcd endpoint (port 2379 or 4001)`,
        'fleet-api',
      );
    }
    return new EtcdUnreachableError(`${where} is not an etcd v2 endpoint (HTTP ${res.status}${text ? `: "${text}"` : ''}); check the endpoint`, 'not-etcd');
  }

  private async raw(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    wait: boolean,
  ): Promise<{ status: number; body: string; etcdIndex: number; endpoint: Endpoint }> {
    if (this.closed) throw new EtcdUnreachableError(`etcd v2 client for ${this.label} is closed`, 'network');
    let last: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        const res = await this.once(endpoint, method, path, body, signal, wait);
        this.preferred = index;
        return { ...res, endpoint };
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        last = err;
        // A plain-HTTP request that a TLS listener hung up on: find out whether it speaks TLS.
        const code = (err as NodeJS.ErrnoException).code;
        if (
          !endpoint.secure &&
          !endpoint.socketPath &&
          !this.options.dial &&
          (code === 'ECONNRESET' || /socket hang up/i.test(errorMessage(err))) &&
          (await speaksTls(endpoint))
        ) {
          last = new EtcdUnreachableError(
            `etcd at ${endpoint.url.origin} requires TLS: use https://${endpoint.url.host} and set the CA file (and a client certificate and key if etcd asks for one)`,
            'tls',
            { cause: err },
          );
        }
      }
    }
    throw toUnreachable(last, this.endpoints, this.timeoutMs);
  }

  private async once(
    endpoint: Endpoint,
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    wait: boolean,
  ): Promise<{ status: number; body: string; etcdIndex: number }> {
    const stream = this.options.dial ? await this.options.dial({ host: endpoint.host, port: endpoint.port }, signal) : undefined;
    const mod = endpoint.secure ? https : http;
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const options: https.RequestOptions = {
      method,
      path,
      headers,
      ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }),
      ...(endpoint.secure ? { ...(this.options.tls ?? {}), servername: isIp(endpoint.host) ? undefined : endpoint.host } : {}),
    };
    if (stream) {
      options.createConnection = () => stream as never;
      options.agent = false;
    } else {
      options.agent = endpoint.secure ? this.agents.https : this.agents.http;
    }
    return new Promise((resolve, reject) => {
      const req = mod.request(options, res => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error(`etcd answered with more than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          this.inflight.delete(req);
          if (stream) stream.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), etcdIndex: Number(res.headers['x-etcd-index'] ?? 0) });
        });
        res.on('error', fail);
      });
      this.inflight.add(req);
      const onAbort = () => req.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      function fail(err: Error) {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (stream) stream.destroy();
        reject(err);
      }
      const timer = wait
        ? undefined
        : setTimeout(() => req.destroy(Object.assign(new Error(`etcd did not answer within ${this.timeoutMs} ms`), { code: 'ETIMEOUT_ETCD' })), this.timeoutMs);
      req.on('error', err => {
        this.inflight.delete(req);
        fail(err);
      });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.end(body);
    });
  }
}

/** How an endpoint is named in messages. */
function originOf(e: Endpoint): string {
  return e.socketPath ? `unix://${e.socketPath}` : e.url.origin;
}

/** True when host:port completes a TLS handshake or answers with a TLS alert (a server that wants TLS). */
function speaksTls(endpoint: Endpoint): Promise<boolean> {
  return new Promise(resolve => {
    const socket = tls.connect({ host: endpoint.host, port: endpoint.port, rejectUnauthorized: false, timeout: 2_000 });
    const done = (v: boolean) => {
      socket.destroy();
      resolve(v);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', (e: NodeJS.ErrnoException) => done(/alert|certificate/i.test(e.message) || /^ERR_SSL_(TLSV|SSLV)/.test(e.code ?? '')));
    socket.once('timeout', () => done(false));
  });
}

export function parseEtcdEndpoint(text: string): Endpoint {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`"${text}" is not an etcd endpoint; write e.g. http://127.0.0.1:2379`);
  }
  if (url.protocol === 'unix:') {
    const socketPath = decodeURIComponent(url.pathname);
    if (url.host !== '' || socketPath === '') throw new Error(`"${text}" is not a unix socket endpoint; write unix:///path/to/etcd.sock`);
    return { url, host: 'localhost', port: 0, secure: false, socketPath };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`"${text}" is not an etcd endpoint: etcd is reached over http://, https:// or unix://`);
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { url, host, port: url.port ? Number(url.port) : secure ? 443 : 80, secure };
}

/** Each path segment escaped as Go's url.URL does for a path (`@` and `:` stay as they are). */
function encodeKey(key: string): string {
  const withSlash = key.startsWith('/') ? key : `/${key}`;
  return withSlash
    .split('/')
    .map(seg => encodeURIComponent(seg).replace(/%40/g, '@').replace(/%3A/gi, ':'))
    .join('/');
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const TLS_FAILURE = /certificate|ssl|tls|wrong version number|alert/i;

function toUnreachable(err: unknown, endpoints: readonly Endpoint[], timeoutMs: number): EtcdUnreachableError {
  if (err instanceof EtcdUnreachableError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const where = endpoints.map(originOf).join(', ');
  const code = e?.code ?? '';
  const text = errorMessage(err);
  if (code === 'ETIMEOUT_ETCD')
    return new EtcdUnreachableError(`etcd at ${where} did not answer within ${timeoutMs / 1000} s; is it healthy?`, 'timeout', { cause: err });
  if (code === 'ECONNREFUSED')
    return new EtcdUnreachableError(`cannot reach etcd at ${where}: connection refused; is etcd running and listening there?`, 'network', { cause: err });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new EtcdUnreachableError(`cannot reach etcd at ${where}: host name not found; check the endpoint`, 'network', { cause: err });
  if (code === 'ECONNRESET' || /socket hang up/i.test(text)) {
    const plain = endpoints.some(x => !x.secure);
    return new EtcdUnreachableError(
      `the connection to etcd at ${where} closed before it answered${plain ? '; if etcd requires TLS, use https:// and set the CA file, client certificate and key' : ''}`,
      plain ? 'tls' : 'network',
      { cause: err },
    );
  }
  if (TLS_FAILURE.test(text) || /^ERR_(SSL|TLS)|CERT/.test(code)) {
    return new EtcdUnreachableError(`TLS to etcd at ${where} failed: ${text.split('\n')[0]}; check the CA file, client certificate and key`, 'tls', {
      cause: err,
    });
  }
  return new EtcdUnreachableError(`cannot reach etcd at ${where}: ${text}`, 'network', { cause: err });
}
