/**
 * The units' door to the private etcd: a loopback TCP port that forwards to etcd's unix socket,
 * and only for connections made by fleetd's own user (or root).
 *
 * The private etcd listens on a unix socket in the 0700 state dir, so no other local user reaches
 * it (issue 12). etcdctl's v2 client, which the article's sidekick uses
 * (`etcdctl set … --ttl 60` under ETCDCTL_API=2), cannot use a socket path: it needs an
 * `http://host:port` URL. A plain loopback TCP listener would be open to every local user; the
 * gate instead looks up who owns the connecting socket (Linux's /proc/net/tcp lists each TCP
 * socket with its owner's uid, as identd reads it) and closes any connection of another user
 * before a byte reaches etcd. etcd advertises the gate's URL, so a client that syncs the member
 * list (etcdctl's v2 client does, before every command) stays on it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { errorMessage, type Log } from '../../../protocol/src/log';

export interface EtcdGate {
  /** `http://127.0.0.1:PORT`: what units get in ETCDCTL_ENDPOINTS / ETCDCTL_PEERS. */
  readonly url: string;
  /** Connections forwarded to etcd, and connections refused (another user's, or an owner not found). */
  readonly counts: { readonly forwarded: number; readonly refused: number };
  close(): Promise<void>;
}

export interface EtcdGateOptions {
  /** etcd's client socket (its path, without `unix://`). */
  socketPath: string;
  /** The users whose connections are forwarded; default fleetd's own uid and root. */
  allowUids?: readonly number[];
  host?: string;
  /** Reads /proc/net/tcp (a seam for tests). */
  readTcpTable?: () => Promise<string>;
  log?: Log;
}

/** The kernel prints an IPv4 address as the hex of its 32-bit value in host byte order. */
function hexAddress(ip: string, endianness: 'LE' | 'BE'): string {
  const bytes = ip.split('.').map(n => Number(n));
  const ordered = endianness === 'LE' ? bytes.reverse() : bytes;
  return ordered
    .map(b => b.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}

function hexEndpoint(ip: string, port: number, endianness: 'LE' | 'BE'): string {
  return `${hexAddress(ip, endianness)}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

/**
 * The uid that owns the TCP socket whose local end is `local` and remote end `remote`, from the
 * text of /proc/net/tcp (`sl local_address rem_address st … uid timeout inode`); undefined when
 * no such socket is listed.
 */
export function socketOwner(
  table: string,
  local: { address: string; port: number },
  remote: { address: string; port: number },
  endianness: 'LE' | 'BE' = os.endianness(),
): number | undefined {
  const want = [hexEndpoint(local.address, local.port, endianness), hexEndpoint(remote.address, remote.port, endianness)];
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || !/^\d+:$/.test(fields[0]!)) continue;
    if (fields[1] === want[0] && fields[2] === want[1]) {
      const uid = Number(fields[7]);
      return Number.isInteger(uid) ? uid : undefined;
    }
  }
  return undefined;
}

/** Opens the gate on `host` (127.0.0.1) at a free port. */
export async function openEtcdGate(options: EtcdGateOptions): Promise<EtcdGate> {
  const allow = new Set(options.allowUids ?? [process.getuid?.() ?? 0, 0]);
  const readTable = options.readTcpTable ?? (() => fs.promises.readFile('/proc/net/tcp', 'utf8'));
  const log = options.log ?? (() => undefined);
  const counts = { forwarded: 0, refused: 0 };
  /** Users already named in the log: a refused user is logged once, not on every attempt. */
  const logged = new Set<string>();
  const open = new Set<net.Socket>();

  const admit = async (client: net.Socket): Promise<void> => {
    client.pause();
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    let owner: number | undefined;
    try {
      // The client's end: its local address is our remote one, and the reverse.
      owner = socketOwner(
        await readTable(),
        { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
        { address: client.localAddress ?? '', port: client.localPort ?? 0 },
      );
    } catch (err) {
      log('warn', `etcd gate: cannot read /proc/net/tcp to check who connects (${errorMessage(err)}); refusing`);
    }
    if (owner === undefined || !allow.has(owner)) {
      counts.refused++;
      const who = owner === undefined ? 'an unknown user' : `uid ${owner}`;
      if (!logged.has(who)) {
        logged.add(who);
        log('warn', `etcd gate: refused a connection from ${who}: the private etcd serves only fleetd's user`);
      }
      client.destroy();
      return;
    }
    if (client.destroyed) return;
    counts.forwarded++;
    const upstream = net.connect({ path: options.socketPath });
    open.add(upstream);
    upstream.once('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  };

  const server = net.createServer(client => void admit(client));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    counts,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
