/** An API server on 127.0.0.1 (port 0) over a MemoryRegistry, and a raw HTTP client for tests. */
import http from 'node:http';
import { MemoryRegistry } from '../src/registry/memoryRegistry';
import type { Registry } from '../../registry/src/registry';
import { createApiServer, type ApiServer } from '../src/api';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Parsed body, or undefined when empty. */
  json: unknown;
}

export interface RequestOptions {
  /** A string body, sent as is. */
  body?: string | Buffer;
  /** Raw header pairs; repeated names are sent repeatedly. Default for bodies: Content-Type: application/json. */
  headers?: [string, string][];
  socketPath?: string;
}

export class ApiClient {
  constructor(readonly base: string) {}

  request(method: string, path: string, options: RequestOptions & { timeoutMs?: number } = {}): Promise<Reply> {
    const url = new URL(this.base);
    // Raw header pairs (so a test can repeat or omit Content-Type); Node adds no Host then.
    const headers: string[] = ['Host', options.socketPath ? 'localhost' : url.host];
    const pairs = options.headers ?? (options.body !== undefined ? [['Content-Type', 'application/json']] : []);
    for (const [k, v] of pairs) headers.push(k, v);
    if (options.body !== undefined) headers.push('Content-Length', String(Buffer.byteLength(options.body)));
    return new Promise((resolve, reject) => {
      const req = http.request(
        options.socketPath
          ? { socketPath: options.socketPath, method, path, headers, agent: false }
          : { host: url.hostname, port: url.port, method, path, headers, agent: false },
        res => {
          const chunks: Buffer[] = [];
          res.on('data', c => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
          res.on('error', reject);
        },
      );
      const timeoutMs = options.timeoutMs ?? 10_000;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs / 1000} s`)));
      req.on('error', reject);
      if (options.body !== undefined) req.write(options.body);
      req.end();
    });
  }

  get(path: string): Promise<Reply> {
    return this.request('GET', path);
  }

  put(path: string, body: unknown): Promise<Reply> {
    return this.request('PUT', path, { body: typeof body === 'string' ? body : JSON.stringify(body) });
  }

  delete(path: string): Promise<Reply> {
    return this.request('DELETE', path);
  }

  patch(path: string, body: unknown): Promise<Reply> {
    return this.request('PATCH', path, { body: typeof body === 'string' ? body : JSON.stringify(body) });
  }
}

export interface ApiFixture {
  registry: MemoryRegistry;
  server: ApiServer;
  api: ApiClient;
  close(): Promise<void>;
}

export async function startApi(
  options: { tokenLimit?: number; maxBodyBytes?: number; maxWaitMs?: number; registry?: Registry } = {},
): Promise<ApiFixture & { registryUsed: Registry }> {
  const registry = new MemoryRegistry();
  const used = options.registry ?? registry;
  const server = await createApiServer({
    registry: used,
    listen: [{ host: '127.0.0.1', port: 0 }],
    ...(options.tokenLimit !== undefined ? { tokenLimit: options.tokenLimit } : {}),
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.maxWaitMs !== undefined ? { maxWaitMs: options.maxWaitMs } : {}),
  });
  return {
    registry,
    registryUsed: used,
    server,
    api: new ApiClient(server.urls[0]!),
    close: async () => {
      await server.close();
      await registry.close();
    },
  };
}

export const HELLO_OPTIONS = [
  { section: 'Unit', name: 'Description', value: 'Hello' },
  { section: 'Service', name: 'ExecStart', value: '/bin/sleep 1000' },
];

export const errorBody = (code: number, message = '') => ({ error: { code, message } });
