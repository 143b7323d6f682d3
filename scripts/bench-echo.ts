/**
 * The floor for the cached-token round trip: a bare Node Unix-socket server
 * that answers every newline-terminated request with a fixed reply of the
 * same size as the agent's answer. No JSON, no schema, no handler: what is
 * left is the kernel, libuv and the event loop.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { withDeadline } from './bench-process.js';

const NEWLINE = 0x0a;

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

export interface EchoServer {
  close(): Promise<void>;
}

export async function startEchoServer(path: string, reply: Buffer): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (let n = countNewlines(chunk); n > 0; n--) socket.write(reply);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface EchoClient {
  /** Sends `frame` and resolves when one newline-terminated reply has arrived. */
  roundTrip(frame: Buffer): Promise<void>;
  close(): void;
}

export async function connectEcho(path: string): Promise<EchoClient> {
  const socket = connect(path);
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    5000,
    'connecting to the echo server',
  );
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (countNewlines(chunk) > 0 && waiting) {
      const done = waiting;
      waiting = undefined;
      done();
    }
  });
  return {
    roundTrip: (frame) =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        socket.write(frame);
      }),
    close: () => socket.destroy(),
  };
}
