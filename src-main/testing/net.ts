/**
 * Test-only: servers on the loopback interface. Other test runs share this
 * machine, so test servers listen on 127.0.0.1 only, on a port the kernel
 * hands out (port 0), never on a fixed one.
 */
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';

/** Starts `server` on 127.0.0.1 on a port of the kernel's choosing; resolves with that port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the server has no TCP port');
  return address.port;
}

/**
 * A port that was free a moment ago on 127.0.0.1, for servers that cannot
 * listen on port 0 and report it, and for configuration that names a port
 * before its server starts.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Stops an HTTP server now: no new connections, and the kept-alive ones that would hold `close()` open are dropped. */
export function closeNow(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
