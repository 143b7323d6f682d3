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
import type { RpcErrorObject, RpcId } from '../wire/json-rpc.js';

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

/** A response as a raw peer reads it, unchecked: hostile tests look at malformed ones too. */
export interface RawReply {
  jsonrpc: string;
  id: RpcId | null;
  result?: unknown;
  error?: RpcErrorObject;
}

/**
 * A bare client: writes whatever it is told and records every line it receives.
 * Tests either look at all lines at once (`lines`, `messages`, `response`) or
 * use it one request at a time (`exchange`, `call`, `next`, `drain`), which
 * reads each line once, in order.
 */
export class RawPeer {
  readonly socket: Socket;
  readonly lines: string[] = [];
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  /** The longest line received, in bytes: answers must fit the agent's maxMessageBytes. */
  maxLineBytes = 0;
  #partial = '';
  #waiters: Array<() => void> = [];
  #isClosed = false;
  /** Index in `lines` of the first line `next` has not handed out. */
  #read = 0;
  #nextId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.maxLineBytes = Math.max(this.maxLineBytes, Buffer.byteLength(line));
      this.lines.push(...parts);
      this.#wake();
    });
    // Hostile peers provoke EPIPE/ECONNRESET on purpose.
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
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

  /** True from the moment the socket closed (`socket.destroyed` turns true earlier, when this side destroys it). */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes `frame` as it is, JSON or not, and ends the line. */
  writeLine(frame: string | Buffer): void {
    this.socket.write(Buffer.isBuffer(frame) ? Buffer.concat([frame, Buffer.from('\n')]) : `${frame}\n`);
  }

  /** Sends one JSON value as a line. */
  send(message: unknown): void {
    this.writeLine(JSON.stringify(message));
  }

  /**
   * Writes one line and resolves with the answer to it: the next response
   * (notifications are skipped), or `undefined` if the agent closed the
   * connection instead. Throws if a line came unasked, so that it is not
   * taken for this answer.
   */
  exchange(frame: string | Buffer, timeoutMs = 10_000): Promise<RawReply | undefined> {
    if (this.#read < this.lines.length) throw new Error(`unexpected line from the agent: ${this.lines[this.#read]!.slice(0, 200)}`);
    if (!this.#isClosed) this.writeLine(frame);
    return this.next(timeoutMs);
  }

  /** `exchange` of a JSON-RPC request, with ids `c1`, `c2`, … in the order of the calls. */
  call(method: string, params?: unknown): Promise<RawReply | undefined> {
    return this.exchange(JSON.stringify({ jsonrpc: '2.0', id: `c${this.#nextId++}`, method, params }));
  }

  /** The next response not read yet (notifications are skipped), or `undefined` once the socket closed without one. */
  async next(timeoutMs = 10_000): Promise<RawReply | undefined> {
    let reply: RawReply | undefined;
    await this.#until(() => (reply = this.#readResponse()) !== undefined || this.#isClosed, timeoutMs, 'a response');
    return reply;
  }

  /** Waits for the other side to close the connection; returns the lines not read until then, parsed. */
  async drain(timeoutMs = 5000): Promise<RawReply[]> {
    await this.#until(() => this.#isClosed, timeoutMs, 'the connection to close');
    const unread = this.lines.slice(this.#read);
    this.#read = this.lines.length;
    return unread.map((line) => JSON.parse(line) as RawReply);
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

  #readResponse(): RawReply | undefined {
    while (this.#read < this.lines.length) {
      const message = JSON.parse(this.lines[this.#read++]!) as RawReply & { method?: string };
      if (message.method === undefined) return message;
    }
    return undefined;
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        // `done` may read lines: once the wait is over it must not run again.
        timedOut = true;
        reject(new Error(`Timed out waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (timedOut) return;
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
 * A flood that cannot run away: runs `step` (awaited) and pauses `pauseMs`,
 * at most `rounds` times, stopping early once `until()` is true (checked
 * before each round). Resolves with the number of rounds run.
 */
export async function flood(limit: { rounds: number; pauseMs: number; until?: () => boolean }, step: (round: number) => unknown): Promise<number> {
  let round = 0;
  for (; round < limit.rounds && !limit.until?.(); round++) {
    await step(round);
    await sleep(limit.pauseMs);
  }
  return round;
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
