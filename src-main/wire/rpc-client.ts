/**
 * The Node client for the agent protocol (docs/protocol.md), used by the CLI
 * and the SDK.
 *
 * Enforces:
 * - every call settles: with its result, its error rebuilt as a
 *   LatchkeyError, `timeout`, `cancelled`, or `agent_unavailable` when the
 *   connection goes away;
 * - a call that gives up (timeout or AbortSignal) tells the agent with
 *   `$/cancel`, so the agent stops working on it;
 * - a call too large for the agent's limit is refused locally instead of
 *   getting the whole connection closed;
 * - a malformed message from the agent closes the connection with
 *   `protocol_error` rather than being guessed at.
 */
import { connect, type Socket } from 'node:net';
import { LatchkeyError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { DeadlineTimer, expireDue } from './deadline-timer.js';
import { bytesEqual, decodeLine, DEFAULT_MAX_MESSAGE_BYTES, encodeMessage, ENVELOPE_HEAD, idDigits, LineDecoder, readEnvelopeId, writeIdDigits } from './framing.js';
import { CANCEL_NOTIFICATION, fromRpcError, notification, parseCommonResult, serverMessageSchema, type ServerMessage } from './json-rpc.js';

/** Default deadline for connecting and for each call; 0 disables a call's deadline. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

export type NotificationListener = (method: string, params: unknown) => void;

export interface RpcClientOptions {
  /** Deadline for connecting, and the default for calls (0 = none). */
  timeoutMs?: number;
  logger?: Logger;
  /** Must match the agent's limit; default 1 MiB. */
  maxMessageBytes?: number;
}

export interface CallOptions {
  /** Aborting sends `$/cancel` and rejects with `cancelled`. */
  signal?: AbortSignal;
  /** Overrides the client's default; 0 waits as long as the agent allows. */
  timeoutMs?: number;
  /** Notifications the agent sends about this call (they carry its `request_id`). */
  onNotification?: NotificationListener;
  /**
   * Turns the result into what the call resolves with. It must copy what it
   * keeps and change nothing: a reply whose result bytes repeat the last one
   * decoded here is given the same (frozen) parsed result, without parsing.
   */
  decode?: (result: unknown) => unknown;
}

export interface RpcClient {
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** Listens to every notification on the connection; returns an unsubscribe function. */
  onNotification(listener: NotificationListener): () => void;
  /** Closes the connection; pending calls reject with `agent_unavailable`. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/**
 * Connects to the agent at `path` (Unix socket or Windows named pipe).
 * Rejects with `agent_unavailable` when nothing is listening there.
 */
export async function connectRpc(path: string, options: RpcClientOptions = {}): Promise<RpcClient> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  const socket = await openSocket(path, timeoutMs);
  return new SocketRpcClient(socket, {
    timeoutMs,
    logger: options.logger ?? silentLogger(),
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  });
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            socket.destroy();
            reject(new LatchkeyError('agent_unavailable', `The Latchkey agent at ${path} did not accept a connection within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectError(path, err));
    });
  });
}

function connectError(path: string, err: NodeJS.ErrnoException): LatchkeyError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new LatchkeyError('agent_unavailable', `No Latchkey agent is running at ${path}`, { cause: err });
    case 'EAGAIN':
      // A Unix socket's listen backlog is full: the agent is flooded, not gone.
      return new LatchkeyError('busy', `The Latchkey agent at ${path} is not accepting connections right now; retry`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new LatchkeyError('agent_unavailable', `Permission denied connecting to the Latchkey agent at ${path}`, { cause: err });
    default:
      return new LatchkeyError('agent_unavailable', `Cannot connect to the Latchkey agent at ${path}: ${err.message}`, { cause: err });
  }
}

/** What a pending call needs of its client. */
interface CallOwner {
  /** Drops the call; false if it had already ended (ids are never reused on a connection). */
  forget(id: number): boolean;
  /** Tells the agent to stop working on the call. */
  cancel(id: number): void;
}

/**
 * One call awaiting its reply. A class rather than closures: a cached token
 * read makes one per call, and each closure is an allocation on that path.
 */
class PendingCall {
  /** `performance.now()` time past which the call times out; Infinity for none. */
  readonly deadline: number;
  readonly #owner: CallOwner;
  readonly #id: number;
  readonly #method: string;
  readonly #timeoutMs: number;
  readonly #options: CallOptions;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  /** Only when the call has a signal. */
  readonly #onAbort: (() => void) | undefined;

  constructor(owner: CallOwner, id: number, method: string, timeoutMs: number, options: CallOptions, resolve: (value: unknown) => void, reject: (error: unknown) => void) {
    this.#owner = owner;
    this.#id = id;
    this.#method = method;
    this.#timeoutMs = timeoutMs;
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    const { signal } = options;
    if (signal) {
      this.#onAbort = () => this.#giveUp(new LatchkeyError('cancelled', `${method} was cancelled`, { cause: signal.reason }));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get onNotification(): NotificationListener | undefined {
    return this.#options.onNotification;
  }

  get decode(): ((result: unknown) => unknown) | undefined {
    return this.#options.decode;
  }

  timeOut(): void {
    this.#giveUp(new LatchkeyError('timeout', `${this.#method} did not finish within ${this.#timeoutMs} ms`));
  }

  /** Ends the call before its reply: the agent is told to stop. */
  #giveUp(error: LatchkeyError): void {
    if (!this.#owner.forget(this.#id)) return;
    this.#owner.cancel(this.#id);
    this.#end(error);
  }

  /** The agent's result arrived. */
  succeed(result: unknown): void {
    if (this.#owner.forget(this.#id)) this.#resolveWith(result);
  }

  /** The agent's error arrived, or the connection went away. */
  fail(error: LatchkeyError): void {
    if (this.#owner.forget(this.#id)) this.#end(error);
  }

  #resolveWith(result: unknown): void {
    if (this.#onAbort) this.#options.signal!.removeEventListener('abort', this.#onAbort);
    const { decode } = this.#options;
    if (!decode) {
      this.#resolve(result);
      return;
    }
    try {
      this.#resolve(decode(result));
    } catch (err) {
      this.#reject(err instanceof LatchkeyError ? err : new LatchkeyError('protocol_error', `The agent's answer to ${this.#method} is not what it should be`, { cause: err }));
    }
  }

  #end(error: LatchkeyError): void {
    if (this.#onAbort) this.#options.signal!.removeEventListener('abort', this.#onAbort);
    this.#reject(error);
  }
}

/**
 * The bytes of a request after its id (`,"method":…,"params":…}` and the
 * newline), kept for the next call with the same method and params. Params
 * that are a flat object of strings, numbers and booleans (every token
 * request) are known again by their members, without JSON.stringify on each
 * call; others by their JSON.
 */
interface RequestTail {
  method: string;
  paramsJson: string | undefined;
  /** The params' members as they were (copied: the caller may change its object later), when flat. */
  flat: { keys: string[]; values: unknown[] } | undefined;
  bytes: Buffer;
}

function flatParams(params: unknown): RequestTail['flat'] {
  if (typeof params !== 'object' || params === null || Array.isArray(params) || Object.getPrototypeOf(params) !== Object.prototype) return undefined;
  const keys = Object.keys(params);
  const values: unknown[] = [];
  for (const key of keys) {
    const value = (params as Record<string, unknown>)[key];
    // Finite numbers only: JSON writes NaN and Infinity as null, and -0 as 0.
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0))) values.push(value);
    else return undefined;
  }
  return { keys, values };
}

/** Whether `params` has exactly these members, in this order, with these values. */
function sameFlatParams(params: unknown, flat: RequestTail['flat']): boolean {
  if (!flat || typeof params !== 'object' || params === null || Object.getPrototypeOf(params) !== Object.prototype) return false;
  const { keys, values } = flat;
  let i = 0;
  for (const key in params) {
    if (i >= keys.length || key !== keys[i] || (params as Record<string, unknown>)[key] !== values[i] || !Object.hasOwn(params, key)) return false;
    i++;
  }
  return i === keys.length;
}

/** The bytes that follow the id in a plain result reply: `,"result":`. */
const RESULT_MEMBER = Buffer.from(',"result":', 'latin1');
const CLOSE_BRACE = 0x7d;

/**
 * Where the result of a line shaped `{"jsonrpc":"2.0","id":<digits>,"result":…}`
 * starts and ends (before the final brace), or undefined for any other line.
 * Only a hint: the result bytes are trusted only once parsed (see #onLine).
 */
function resultSpan(line: Buffer): { id: number; start: number; end: number } | undefined {
  const head = readEnvelopeId(line);
  if (!head) return undefined;
  const start = head.end + RESULT_MEMBER.length;
  if (line.length <= start || line[line.length - 1] !== CLOSE_BRACE) return undefined;
  if (!bytesEqual(line, head.end, RESULT_MEMBER, 0, RESULT_MEMBER.length)) return undefined;
  return { id: head.id, start, end: line.length - 1 };
}

class SocketRpcClient implements RpcClient {
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #decoder: LineDecoder;
  readonly #pending = new Map<number, PendingCall>();
  readonly #listeners = new Set<NotificationListener>();
  readonly #closedPromise: Promise<void>;
  /** Call deadlines: one timer for the connection, not one per call. */
  readonly #deadlines = new DeadlineTimer((now) => expireDue(this.#pending.values(), now));
  #nextId = 1;
  #closed = false;
  /** What every pending call of this client reports back to (one object, not closures per call). */
  readonly #callOwner: CallOwner = {
    forget: (id) => this.#pending.delete(id),
    cancel: (id) => this.#send(notification(CANCEL_NOTIFICATION, { id })),
  };
  /** The last request's bytes after its id, by method and params (see {@link RequestTail}). */
  #lastTail: RequestTail | undefined;
  /** The last result given to a `decode`: its bytes and its parsed value, for a reply that repeats it. */
  #lastResult: { bytes: Buffer; value: unknown } | undefined;
  /** Why the connection is going away, when the agent or a bad message told us. */
  #failure: LatchkeyError | undefined;
  #closedByClient = false;

  constructor(socket: Socket, options: { timeoutMs: number; logger: Logger; maxMessageBytes: number }) {
    this.#socket = socket;
    this.#timeoutMs = options.timeoutMs;
    this.#logger = options.logger;
    this.#decoder = new LineDecoder(options.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#logger.debug({ err }, 'agent connection error'));
    this.#closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        this.#deadlines.stop();
        // Built only when a call is pending: most connections close with none, and an error's stack costs.
        if (this.#pending.size > 0) {
          this.#rejectAll(
            this.#failure ??
              new LatchkeyError('agent_unavailable', this.#closedByClient ? 'The connection to the Latchkey agent was closed by the client' : 'The connection to the Latchkey agent closed'),
          );
        }
        resolve();
      }),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  call<T = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<T> {
    if (this.#closed || this.#socket.writableEnded) {
      return Promise.reject(new LatchkeyError('agent_unavailable', 'The connection to the Latchkey agent is closed'));
    }
    if (options.signal?.aborted) {
      return Promise.reject(new LatchkeyError('cancelled', `${method} was cancelled`, { cause: options.signal.reason }));
    }
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = this.#requestFrame(id, method, params);
    } catch (err) {
      return Promise.reject(new LatchkeyError('usage', `Params of ${method} are not JSON-serialisable`, { cause: err }));
    }
    if (frame.length - 1 > this.#decoder.maxMessageBytes) {
      return Promise.reject(new LatchkeyError('message_too_large', `${method} request exceeds ${this.#decoder.maxMessageBytes} bytes`));
    }
    return new Promise<T>((resolve, reject) => {
      const pending = new PendingCall(this.#callOwner, id, method, options.timeoutMs ?? this.#timeoutMs, options, resolve as (value: unknown) => void, reject);
      this.#pending.set(id, pending);
      if (pending.deadline < Infinity) this.#deadlines.ensure(pending.deadline);
      this.#socket.write(frame);
    });
  }

  /**
   * The bytes encodeMessage({ jsonrpc, id, method, params }) writes, with the
   * part after the id kept from the last call when method and params are the
   * same again (an app asking for its cached token in a loop).
   */
  #requestFrame(id: number, method: string, params: unknown): Buffer {
    let tail = this.#lastTail;
    if (!tail || tail.method !== method || !sameFlatParams(params, tail.flat)) {
      const paramsJson = params === undefined ? undefined : (JSON.stringify(params) as string | undefined);
      // Same method and JSON as last time (how params that are not flat are known again): the bytes are kept.
      const bytes =
        tail?.method === method && tail.paramsJson === paramsJson
          ? tail.bytes
          : Buffer.from(`,"method":${JSON.stringify(method)}${paramsJson === undefined ? '' : `,"params":${paramsJson}`}}\n`, 'utf8');
      tail = { method, paramsJson, flat: flatParams(params), bytes };
      this.#lastTail = tail;
    }
    const head = ENVELOPE_HEAD.length;
    const frame = Buffer.allocUnsafe(head + idDigits(id) + tail.bytes.length);
    frame.set(ENVELOPE_HEAD, 0);
    frame.set(tail.bytes, writeIdDigits(frame, head, id));
    return frame;
  }

  onNotification(listener: NotificationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closedByClient = true;
      this.#socket.destroy();
    }
    return this.#closedPromise;
  }

  #send(message: unknown): void {
    if (!this.#socket.writableEnded && !this.#socket.destroyed) this.#socket.write(encodeMessage(message));
  }

  #onData(chunk: Buffer): void {
    if (this.#decoder.pushBytes(chunk, this.#onLine)) this.#fail('The agent sent an oversized message');
  }

  /** One complete line from the agent (bound once: it is called for every message). */
  readonly #onLine = (line: Buffer): void => {
    if (this.#socket.destroyed) return;
    // A cached token asked for again comes back byte for byte the same: no decoding, no parse.
    const span = resultSpan(line);
    const pending = span && this.#pending.get(span.id);
    const last = this.#lastResult;
    if (pending?.decode && last && span!.end - span!.start === last.bytes.length && bytesEqual(line, span!.start, last.bytes, 0, last.bytes.length)) {
      pending.succeed(last.value);
      return;
    }
    const decoded = decodeLine(line);
    if (!decoded) return;
    if (decoded.kind !== 'message') {
      this.#fail('The agent sent a non-UTF-8 message');
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(decoded.text);
    } catch {
      this.#fail('The agent sent a message that is not JSON');
      return;
    }
    // Most messages are plain results: checked by hand, as the schema costs microseconds.
    const common = parseCommonResult(value);
    if (common) {
      if (pending?.decode && span && span.id === common.id) this.#rememberResult(line, span, decoded.text, common.result);
      this.#pendingFor(common.id)?.succeed(common.result);
      return;
    }
    const parsed = serverMessageSchema.safeParse(value);
    if (!parsed.success) {
      this.#fail('The agent sent a message that is not valid JSON-RPC 2.0');
      return;
    }
    this.#dispatch(parsed.data);
  };

  /**
   * Keeps a decoded result for replies that repeat it, but only when its bytes
   * are exactly the result as parsed (JSON.stringify writes it back the same),
   * so a line with, say, a duplicate "result" member is never taken at its span.
   */
  #rememberResult(line: Buffer, span: { start: number; end: number }, text: string, result: unknown): void {
    // ASCII only: then the text's indices are the line's byte offsets.
    if (text.length !== line.length || typeof result !== 'object' || result === null) return;
    if (JSON.stringify(result) !== text.slice(span.start, span.end)) return;
    this.#lastResult = { bytes: Buffer.from(line.subarray(span.start, span.end)), value: Object.freeze(result) };
  }

  #dispatch(message: ServerMessage): void {
    if ('method' in message) {
      this.#deliver(message.method, message.params);
    } else if ('error' in message) {
      const error = fromRpcError(message.error);
      // id null: the agent could not tie the error to a call (busy, oversized
      // message); it closes the connection next, and every pending call gets this.
      if (message.id === null) this.#failure = error;
      else this.#pendingFor(message.id)?.fail(error);
    } else {
      this.#pendingFor(message.id)?.succeed(message.result);
    }
  }

  #pendingFor(id: string | number): PendingCall | undefined {
    return typeof id === 'number' ? this.#pending.get(id) : undefined;
  }

  #deliver(method: string, params: unknown): void {
    const requestId = typeof params === 'object' && params !== null ? (params as { request_id?: unknown }).request_id : undefined;
    const callListener = typeof requestId === 'number' ? this.#pending.get(requestId)?.onNotification : undefined;
    for (const listener of callListener ? [callListener, ...this.#listeners] : this.#listeners) {
      try {
        listener(method, params);
      } catch (err) {
        this.#logger.error({ err, method }, 'agent notification listener failed');
      }
    }
  }

  #fail(why: string): void {
    this.#failure = new LatchkeyError('protocol_error', why);
    this.#socket.destroy();
  }

  /** Ends every pending call with `error` (the connection is gone). */
  #rejectAll(error: LatchkeyError): void {
    for (const pending of [...this.#pending.values()]) pending.fail(error);
  }
}
