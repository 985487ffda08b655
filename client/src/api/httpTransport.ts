/**
 * The HTTP transport under HttpFleetApi: one request at a time over a connection from one
 * factory — TCP, a unix socket, TLS on top of either, or a stream from an SSH tunnel (`dial`), as
 * fleetctl's Transport.Dial does — with keep-alive where the endpoint is dialled directly, the
 * request timeout, a bound on the body, and errors that name the endpoint and the fix. Knows
 * nothing of fleet's resources (fleetApi.ts). No `vscode` import here.
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { abortError, errorMessage } from '../../../protocol/src/log';
import { parseEndpoint as checkEndpoint } from '../connection/profile';
import { FleetApiError } from './types';

/** Where a connection goes: what the tunnel (or the local machine) dials. */
export type DialTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface TransportOptions {
  /** `http://host:port[/prefix]`, `https://…`, `unix:///path` (or `file:///path`). */
  endpoint: string;
  /** Defaults to the endpoint. */
  label?: string;
  /** Time allowed from dialing to the end of the response (to the headers for a stream). Default 10 s; 0 = none. */
  requestTimeoutMs?: number;
  /** PEM contents for https endpoints. Without `ca` the system roots are used. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Opens the byte stream to the target instead of dialing locally (an SSH tunnel). */
  dial?: (target: DialTarget, signal?: AbortSignal) => Promise<Duplex>;
  /** Upper bound on a response body (default 64 MiB). */
  maxBodyBytes?: number;
}

export interface Endpoint {
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
export function parseEndpoint(endpoint: string): Endpoint {
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
export function networkError(err: unknown, label: string, endpoint: Endpoint, timeoutMs: number): FleetApiError {
  if (err instanceof FleetApiError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  /** For decisions (connectionProblem.ts): the socket's error code. */
  const tag = code || undefined;
  const where = endpoint.target.kind === 'unix' ? `the fleet socket ${endpoint.target.path}` : `fleet at ${label}`;
  if (endpoint.target.kind === 'unix' && code === 'ENOENT') {
    return new FleetApiError(
      `Cannot reach ${where}: no such socket. Is fleetd running on this machine? For a remote cluster set an http:// endpoint or a tunnel.`,
      undefined,
      'network',
      tag,
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FleetApiError(
      `Cannot reach ${where}: permission denied. Add your user to the group that owns the socket, or use an http:// endpoint.`,
      undefined,
      'network',
      tag,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new FleetApiError(
      `Cannot reach ${where}: connection refused. Is fleetd running and listening there? Check the endpoint.`,
      undefined,
      'network',
      tag,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new FleetApiError(`Cannot reach ${where}: host name not found. Check the host in the endpoint.`, undefined, 'network', tag);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') {
    return new FleetApiError(`Cannot reach ${where}: the host is unreachable (${code}). Check the network, or use a tunnel.`, undefined, 'network', tag);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(e.message ?? '')) {
    return new FleetApiError(
      `The connection to ${where} closed before fleet answered. Is that endpoint a fleet API${endpoint.scheme === 'http' ? ' (or does it expect https://)' : ''}?`,
      undefined,
      'network',
      tag,
    );
  }
  if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(e.message ?? '')) {
    return new FleetApiError(`TLS to ${where} failed: ${tlsReason(e)}`, undefined, 'tls', tag);
  }
  if (code === 'ETIMEOUT_FLEET') {
    return new FleetApiError(
      `${where} did not answer within ${timeoutMs / 1000} s. Is fleetd healthy? (The timeout is the profile's requestTimeout.)`,
      undefined,
      'network',
      tag,
    );
  }
  return new FleetApiError(`Cannot reach ${where}: ${errorMessage(err)}`, undefined, 'network', tag);
}

export interface Response {
  status: number;
  body: string;
  /** The ETag header (fleetd's change feed), when the server sent one. */
  etag?: string;
}

/** Per request: a longer deadline (a long poll) and extra headers. */
export interface RequestExtra {
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export class HttpTransport {
  readonly label: string;
  readonly endpoint: Endpoint;
  readonly timeoutMs: number;
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

  constructor(private readonly options: TransportOptions) {
    this.endpoint = parseEndpoint(options.endpoint);
    this.label = options.label ?? options.endpoint;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.agent = options.dial ? undefined : new DialingAgent(() => this.connect());
  }

  /** A socket-level failure of this endpoint as a FleetApiError that names it and the fix. */
  networkError(err: unknown): FleetApiError {
    return networkError(err, this.label, this.endpoint, this.timeoutMs);
  }

  /** Destroys the requests in flight and the kept connections; later requests are refused. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const req of this.inflight) req.destroy(new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'network'));
    this.inflight.clear();
    this.agent?.destroy();
  }

  async send(method: string, path: string, body: unknown, signal?: AbortSignal, extra?: RequestExtra): Promise<Response> {
    const { response, timedOut } = await this.open(method, path, body, signal, false, extra);
    const out: Response = { status: response.statusCode ?? 0, body: await this.readBody(response, timedOut, signal) };
    const etag = response.headers.etag;
    if (typeof etag === 'string' && etag !== '') out.etag = etag;
    return out;
  }

  readBody(response: http.IncomingMessage, timedOut: () => boolean, signal?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          // Reject first: destroying the response reports its own (less useful) error.
          reject(
            new FleetApiError(
              `fleet API: the response from ${this.label} is larger than ${this.maxBodyBytes} bytes; stopped reading`,
              response.statusCode,
              'http',
            ),
          );
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
  async open(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    streaming: boolean,
    extra?: RequestExtra,
  ): Promise<{ response: http.IncomingMessage; timedOut: () => boolean }> {
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

  private openOnce(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    streaming: boolean,
    extra?: RequestExtra,
  ): Promise<{ response: http.IncomingMessage; timedOut: () => boolean }> {
    if (this.disposed) return Promise.reject(new FleetApiError(`the connection to ${this.label} was closed`, undefined, 'config'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const payload = body === undefined ? undefined : `${JSON.stringify(body)}\n`;
    const separator = path.includes('?') ? '&' : '?';
    return new Promise((resolve, reject) => {
      let settled = false;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const headers: http.OutgoingHttpHeaders = {
        Host: this.endpoint.hostHeader,
        'User-Agent': 'vscode-fleet',
        Accept: 'application/json',
        ...(extra?.headers ?? {}),
      };
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
              this.connect(signal).then(
                socket => callback(null, socket),
                (err: unknown) => callback(err as Error),
              );
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
          if (req.reusedSocket && !timedOut && ['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? ''))
            Object.assign(error, { reusedSocket: true });
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
