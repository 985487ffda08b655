/**
 * Free TCP ports on 127.0.0.1 for the servers tests start. They are chosen below the kernel's
 * ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): a port from that range, found free
 * and handed to a server that binds it seconds later, can be taken meanwhile by any outgoing
 * connection or `listen(0)` (etcd's, code-server's, Chromium's), which made e2e runs fail now
 * and then. Below the range only an explicit bind can take it.
 */
import fs from 'node:fs';
import net from 'node:net';

/** The first port of the kernel's ephemeral range (32768 when /proc does not say). */
function ephemeralStart(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux, or no /proc
  }
  return 32768;
}
/** Candidates: [LOW, ephemeral start). */
const LOW = 20000;

function listenOnce(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise(resolve => server.close(() => resolve()));
}

/**
 * `count` distinct free ports (all held open at once, so they differ), from below the ephemeral
 * range; random candidates, a bounded number of tries, then ports the kernel picks.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const high = ephemeralStart();
  try {
    for (let tries = 0; servers.length < count && tries < 200 && high > LOW; tries++) {
      const candidate = LOW + Math.floor(Math.random() * (high - LOW));
      try {
        servers.push(await listenOnce(candidate));
      } catch {
        // in use: try another
      }
    }
    while (servers.length < count) servers.push(await listenOnce(0));
    return servers.map(s => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** True if nothing listens on 127.0.0.1:port right now. */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listenOnce(port));
    return true;
  } catch {
    return false;
  }
}

/** `preferred` when it is free, else a kernel-chosen free port. */
export async function preferredOrFreePort(preferred: number): Promise<number> {
  return (await isPortFree(preferred)) ? preferred : freePort();
}
