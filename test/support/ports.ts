/** Free TCP ports on 127.0.0.1, chosen by the kernel (listen on port 0, read it back, close). */
import net from 'node:net';

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

/** `count` distinct free ports (all held open at once, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnce(0));
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
