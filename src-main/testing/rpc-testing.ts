/**
 * Test helpers for the agent protocol: a private temp directory for sockets
 * and a raw socket peer that speaks bytes, not JSON-RPC, so tests can play a
 * hostile or broken client. Used only by *.test.ts files.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SocketDir {
  dir: string;
  /** `<dir>/run/agent.sock`: the `run` directory does not exist yet. */
  socket: string;
  remove(): Promise<void>;
}

/** A fresh temp directory; short, because Unix socket paths are limited to ~104 bytes. */
export async function makeSocketDir(): Promise<SocketDir> {
  const dir = await mkdtemp(join(tmpdir(), 'lk-'));
  return { dir, socket: join(dir, 'run', 'agent.sock'), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A bare client: writes whatever it is told and records every line it receives. */
export class RawPeer {
  readonly socket: Socket;
  readonly lines: string[] = [];
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  #partial = '';
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.#wake();
    });
    // Hostile peers provoke EPIPE/ECONNRESET on purpose.
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#wake());
  }

  static connect(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  /** Every received line parsed as JSON. */
  messages(): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one JSON value as a line. */
  send(message: unknown): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Waits until at least `count` lines arrived (or the socket closed); rejects after `timeoutMs`. */
  async waitForLines(count: number, timeoutMs = 5000): Promise<Array<Record<string, unknown>>> {
    await this.#until(() => this.lines.length >= count || this.socket.destroyed, timeoutMs, `${count} lines (got ${this.lines.length})`);
    return this.messages();
  }

  /** Waits for the response with this id. */
  async response(id: string | number, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const find = (): Record<string, unknown> | undefined => this.messages().find((m) => m.id === id);
    await this.#until(() => find() !== undefined, timeoutMs, `response ${id}`);
    return find()!;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      check();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Leaves a socket file at `path` with nobody listening, the way a crashed
 * agent does: a child process listens and is killed with SIGKILL, so it never
 * gets to unlink the file. (`path`'s directory must exist.)
 */
export async function makeStaleSocket(path: string): Promise<void> {
  const script = `require('net').createServer().listen(process.argv[1], () => process.stdout.write('ready'))`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`listener exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Deterministic PRNG (mulberry32), so a failing fuzz case can be replayed from its seed. */
export function seededRandom(seed: number) {
  let a = seed;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]!, chance: (p: number): boolean => next() < p };
}
