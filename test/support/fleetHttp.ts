/**
 * Requests against a fleet API base URL as fleetd prints it: `http://host:port` or `unix:///path`
 * (the local cluster's default socket), which `fetch` cannot reach.
 */
import http from 'node:http';

export interface HttpReply {
  status: number;
  text: string;
}

export function httpGet(base: string, path: string, timeoutMs = 5_000): Promise<HttpReply> {
  return httpRequest('GET', base, path, undefined, timeoutMs);
}

/** Any method, with an optional JSON body. */
export function httpRequest(method: string, base: string, path: string, body: unknown, timeoutMs = 5_000): Promise<HttpReply> {
  const target = base.startsWith('unix://')
    ? { socketPath: base.slice('unix://'.length).replace(/\/+$/, ''), path }
    : (() => {
        const u = new URL(path, base);
        return { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}` };
      })();
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
    const req = http.request({ ...target, method, headers, agent: false }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', c => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${base}${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
