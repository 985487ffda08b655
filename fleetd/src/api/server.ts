/**
 * createApiServer: the API handler on TCP addresses (loopback by default) and unix sockets, as
 * fleet serves it on /var/run/fleet.sock. close() stops listening, ends idle keep-alive
 * connections and in-flight journal streams, and removes the socket files it created.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { ApiRegistry } from '../../../registry/src/registry';
import { createApiHandler, type ApiHandlerOptions, type ApiLoad } from './handler';

/** TLS for a TCP listener: PEM contents; clients must present a certificate signed by `ca`. */
export interface ApiTls {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

export type ApiListen = { host: string; port: number; tls?: ApiTls } | { socketPath: string };

export interface ApiServerOptions extends Omit<ApiHandlerOptions, 'registry'> {
  registry: ApiRegistry;
  /** Where to listen; port 0 picks a free port (see `urls`). */
  listen: ApiListen[];
}

export interface ApiServer {
  /** `http://host:port` per TCP listener and `unix:///path` per socket, in `listen` order. */
  urls: string[];
  /** What the API is busy with (for diagnostics and tests). */
  load(): ApiLoad;
  close(): Promise<void>;
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  if (options.listen.length === 0) throw new Error('createApiServer: nothing to listen on (give {host, port} or {socketPath})');
  const handler = createApiHandler(options);
  const servers: http.Server[] = [];
  const urls: string[] = [];
  const sockets: string[] = [];
  const closeAll = async () => {
    handler.dispose();
    await Promise.all(
      servers.map(
        s =>
          new Promise<void>(resolve => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    for (const p of sockets) fs.rmSync(p, { force: true });
  };
  try {
    for (const target of options.listen) {
      const tls = 'tls' in target ? target.tls : undefined;
      // With TLS, only clients with a certificate of the CA get through the handshake.
      const server = tls
        ? https.createServer({ ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true }, handler)
        : http.createServer(handler);
      server.keepAliveTimeout = 5_000;
      server.headersTimeout = 10_000;
      // No requestTimeout: journal follow streams are long-lived by design.
      server.requestTimeout = 0;
      servers.push(server);
      if ('socketPath' in target) {
        await removeStaleSocket(target.socketPath);
        await listen(server, { path: target.socketPath });
        sockets.push(target.socketPath);
        // Only its owner may connect: whoever reaches the API runs processes as fleetd's user.
        fs.chmodSync(target.socketPath, 0o600);
        urls.push(`unix://${target.socketPath}`);
      } else {
        await listen(server, { host: target.host, port: target.port });
        const address = server.address() as AddressInfo;
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        urls.push(`${tls ? 'https' : 'http'}://${host}:${address.port}`);
      }
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return { urls, load: () => handler.load(), close: () => (closing ??= closeAll()) };
}

function listen(server: http.Server, options: { host: string; port: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = 'path' in options ? options.path : `${options.host}:${options.port}`;
      reject(new Error(`fleetd API cannot listen on ${where}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A socket file left by a process that died is removed; one that still answers belongs to a live server. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`fleetd API cannot listen on ${path}: it exists and is not a socket`);
  const alive = await new Promise<boolean>(resolve => {
    const probe = net.connect({ path });
    probe.setTimeout(1_000, () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`fleetd API cannot listen on ${path}: another server is listening there`);
  fs.rmSync(path, { force: true });
}

export { createApiHandler } from './handler';
