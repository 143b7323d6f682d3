/**
 * The smallest owner client of the agent: what a cached `latchkey token` and
 * the credential helpers (git, Docker, kubectl) need, and nothing more.
 *
 * Tools start a helper as a new process for every operation, so its start-up
 * is the whole cost of a cached token. This module loads only `node:net`,
 * `node:fs` and the import-free errors module: no zod, commander, pino or
 * openid-client (the full client in wire/rpc-client.ts validates with zod
 * schemas, which alone costs more than the round trip). The agent still
 * validates every request with the contract's schemas; here the replies are
 * checked by hand, and anything unexpected is a `protocol_error`.
 *
 * When no agent is running, one is started (lazily loading the full CLI's
 * start-up code) and the call is retried once.
 */
import { connect, type Socket } from 'node:net';
import { LatchkeyError, fromWireError, isErrorCode } from '../errors.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { AdminParams, WireToken } from '../wire/owner-contract.js';
import { readOwnerKey } from '../wire/owner-key-file.js';

/** Same default as the full client: a refresh at a slow provider may take a while. */
const CALL_TIMEOUT_MS = 30_000;
/** Bigger replies are not tokens; the agent's own cap is 1 MiB. */
const MAX_REPLY_BYTES = 1024 * 1024;

export interface OwnerCallOptions {
  env: NodeJS.ProcessEnv;
  /** Start an agent when none is running (the CLI's behaviour); default true. */
  autoStart?: boolean;
  /** For the connection and the call together; default 30 s. */
  timeoutMs?: number;
}

/** `admin.token` as the owner, over one short-lived connection. */
export async function ownerToken(paths: LatchkeyPaths, params: AdminParams<'admin.token'>, options: OwnerCallOptions): Promise<WireToken> {
  return (await ownerCall(paths, 'admin.token', params, options)) as WireToken;
}

/** `admin.hello` with the owner key, then one call; the connection is closed afterwards. */
export async function ownerCall(paths: LatchkeyPaths, method: string, params: object, options: OwnerCallOptions): Promise<unknown> {
  let session: OwnerSession;
  try {
    session = await OwnerSession.open(paths.socket, options.timeoutMs ?? CALL_TIMEOUT_MS);
  } catch (err) {
    if (!(err instanceof LatchkeyError) || err.code !== 'agent_unavailable' || options.autoStart === false) throw err;
    const { startBackgroundAgent } = await import('../cli/agent-connection.js');
    await startBackgroundAgent(paths, { env: options.env });
    session = await OwnerSession.open(paths.socket, options.timeoutMs ?? CALL_TIMEOUT_MS);
  }
  try {
    // Both at once: the agent runs a connection's requests in order, so the call sees the hello's
    // owner role, and a cached token costs one round trip instead of two.
    const [, result] = await session.callAll([
      ['admin.hello', { owner_key: readOwnerKey(paths.ownerKey) }],
      [method, params],
    ]);
    return result;
  } finally {
    session.close();
  }
}

/**
 * One connection; its calls are written together, and each reply is matched
 * to its call by id. One deadline covers the connection and the calls (one
 * timer: a cached call's whole run is a few milliseconds, and timers are part
 * of its start-up cost).
 */
class OwnerSession {
  #buffer = '';
  #waiting: Array<{ id: number; resolve: (v: unknown) => void; reject: (e: LatchkeyError) => void }> = [];
  #failure: LatchkeyError | undefined;
  #connected = false;
  #method = '';
  readonly #deadline: NodeJS.Timeout;

  private constructor(
    private readonly socket: Socket,
    path: string,
    timeoutMs: number,
    connectFailed: (err: LatchkeyError) => void,
  ) {
    this.#deadline = setTimeout(() => {
      if (this.#connected) return this.#fail(new LatchkeyError('timeout', `${this.#method} did not finish within ${timeoutMs} ms`));
      socket.destroy();
      connectFailed(new LatchkeyError('agent_unavailable', `The Latchkey agent at ${path} did not accept a connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.once('connect', () => (this.#connected = true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#connected) return;
      clearTimeout(this.#deadline);
      const gone = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      const why = gone ? `No Latchkey agent is running at ${path}` : `Cannot connect to the Latchkey agent at ${path}: ${err.message}`;
      connectFailed(new LatchkeyError('agent_unavailable', why, { cause: err }));
    });
    socket.on('close', () => this.#fail(this.#failure ?? new LatchkeyError('agent_unavailable', 'The connection to the Latchkey agent closed')));
  }

  static open(path: string, timeoutMs: number): Promise<OwnerSession> {
    return new Promise((resolve, reject) => {
      const session = new OwnerSession(connect(path), path, timeoutMs, reject);
      session.socket.once('connect', () => resolve(session));
    });
  }

  /** Sends every call in one write; resolves with their results, or rejects with the first failure in call order. */
  callAll(calls: Array<[method: string, params: object]>): Promise<unknown[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#method = calls.at(-1)![0];
    const replies = calls.map(
      (_, i) => new Promise<unknown>((resolve, reject) => this.#waiting.push({ id: i + 1, resolve, reject })),
    );
    // Settle every promise before reporting, so none is left rejected and unobserved.
    const all = Promise.allSettled(replies).then((outcomes) => {
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
      return outcomes.map((o) => (o as PromiseFulfilledResult<unknown>).value);
    });
    this.socket.write(calls.map(([method, params], i) => `${JSON.stringify({ jsonrpc: '2.0', id: i + 1, method, params })}\n`).join(''));
    return all;
  }

  close(): void {
    clearTimeout(this.#deadline);
    this.#failure ??= new LatchkeyError('agent_unavailable', 'The connection to the Latchkey agent was closed by the client');
    this.socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    if (this.#buffer.length > MAX_REPLY_BYTES) return this.#fail(new LatchkeyError('protocol_error', 'The agent sent an oversized message'));
    for (let end = this.#buffer.indexOf('\n'); end >= 0; end = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, end).trim();
      this.#buffer = this.#buffer.slice(end + 1);
      if (line) this.#onMessage(line);
    }
  }

  #onMessage(line: string): void {
    let message: { jsonrpc?: unknown; id?: unknown; result?: unknown; error?: { message?: unknown; data?: { code?: unknown; providerError?: unknown } } };
    try {
      message = JSON.parse(line);
    } catch {
      return this.#fail(new LatchkeyError('protocol_error', 'The agent sent a message that is not JSON'));
    }
    // Notifications (no id) are for interactive calls, which never come through here.
    if (typeof message !== 'object' || message === null || message.jsonrpc !== '2.0' || message.id === undefined) return;
    const index = this.#waiting.findIndex((w) => w.id === message.id);
    if (index < 0) return this.#fail(new LatchkeyError('protocol_error', 'The agent answered a call that was not made'));
    const waiting = this.#waiting.splice(index, 1)[0]!;
    if ('result' in message && typeof message.result === 'object' && message.result !== null) return waiting.resolve(message.result);
    const error = message.error;
    if (typeof error !== 'object' || error === null || typeof error.message !== 'string') {
      return waiting.reject(new LatchkeyError('protocol_error', 'The agent sent a reply that is neither a result nor an error'));
    }
    const code = error.data?.code;
    const providerError = error.data?.providerError;
    waiting.reject(fromWireError({ code: isErrorCode(code) ? code : 'internal', message: error.message, ...(typeof providerError === 'string' ? { providerError } : {}) }));
  }

  #fail(error: LatchkeyError): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
    this.socket.destroy();
  }
}
