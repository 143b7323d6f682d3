/**
 * One client connection to the agent: reads frames, dispatches requests to
 * handlers concurrently, writes responses, and enforces the per-connection
 * limits.
 *
 * Enforces:
 * - a line over `maxMessageBytes` gets one `message_too_large` error and the
 *   connection is closed; nothing more is buffered;
 * - malformed input gets an error response (id null when none is usable) and
 *   never throws out of this module;
 * - at most `maxInFlightPerConnection` requests run at once (`busy` beyond);
 * - every request has a deadline; on timeout, `$/cancel` or disconnect the
 *   handler's signal aborts and the client gets `timeout`/`cancelled`;
 * - a connection with no complete message and nothing in flight for
 *   `idleTimeoutMs` is closed;
 * - a client that stops reading is dropped once `maxOutboundBytes` are queued
 *   for it, so it can neither grow our memory nor stall anyone else;
 * - unexpected handler failures reach the client as a generic `internal`
 *   error; the detail goes only to the (redacting) log;
 * - end of input ends the session: a peer that shut down its sending side
 *   looks exactly like one that vanished, and work for a vanished peer must
 *   stop, so in-flight requests are cancelled either way.
 */
import type { Socket } from 'node:net';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { PeerProcess } from '../platform/peer-lookup.js';
import { DeadlineTimer, expireDue } from '../wire/deadline-timer.js';
import { bytesEqual, decodeLine, encodeMessage, ENVELOPE_HEAD, idDigits, LineDecoder, readEnvelopeId, writeIdDigits } from '../wire/framing.js';
import {
  CANCEL_NOTIFICATION,
  cancelParamsSchema,
  errorResponse,
  exceedsJsonDepth,
  incomingMessageSchema,
  notification,
  parseCommonRequest,
  resultResponse,
  RPC_ERROR,
  salvageId,
  toRpcError,
  type IncomingMessage,
  type RpcId,
} from '../wire/json-rpc.js';

/** Limits the agent enforces on its clients; see DEFAULT_RPC_LIMITS in rpc-server.ts. */
export interface RpcLimits {
  /** Slots for connections (the owner's not counted); see connection-slots.ts for who gets one when they run short. */
  maxConnections: number;
  /** How long a connection may stay unproven (no owner key, no app key) where proof is required. */
  handshakeTimeoutMs: number;
  /** Proven app connections one peer process may hold. */
  maxConnectionsPerPeer: number;
  /** Cap on one message in either direction, in bytes, excluding `\n`. */
  maxMessageBytes: number;
  /** Cap on object/array nesting in one message. */
  maxJsonDepth: number;
  /** Close a connection after this long with no complete message and nothing in flight. */
  idleTimeoutMs: number;
  /** Concurrent requests per connection; more get `busy`. */
  maxInFlightPerConnection: number;
  /** Bytes queued for a client that is not reading before it is dropped. */
  maxOutboundBytes: number;
  /** Default deadline of a request. */
  requestTimeoutMs: number;
  /** Default deadline of a request to an `interactive` method (a browser sign-in). */
  interactiveTimeoutMs: number;
}

/** What handlers see of the connection a request arrived on. */
export interface Connection {
  readonly id: number;
  /** Per-connection facts owned by the handlers (e.g. the app identity once proven). */
  readonly state: Record<PropertyKey, unknown>;
  /**
   * The process on the other end, looked up on first use and remembered;
   * `undefined` where the platform cannot tell (see docs/protocol.md, "Peer identity").
   */
  identifyPeer(): Promise<PeerProcess | undefined>;
  readonly closed: boolean;
  /** Runs `cb` once when the connection closes (immediately if it already has). */
  onClose(cb: () => void): void;
  /**
   * Sends a notification. A no-op once the connection is closed; throws
   * `message_too_large` if the encoded message exceeds the cap.
   */
  notify(method: string, params?: unknown): void;
  /** Closes the connection; in-flight requests are aborted. */
  close(): void;
}

export interface CallContext {
  readonly connection: Connection;
  /** Aborts on timeout, `$/cancel` or disconnect; the reason is a LatchkeyError. */
  readonly signal: AbortSignal;
  readonly requestId: RpcId;
  /**
   * Sends a notification about this request: `params` plus `request_id`, so a
   * client with several calls in flight can route it.
   */
  notify(method: string, params?: Record<string, unknown>): void;
}

export type RpcHandler = (params: unknown, ctx: CallContext) => Promise<unknown>;

export interface RpcMethodOptions {
  /** Overrides the default deadline for this method. */
  timeoutMs?: number;
  /** Waits on a human (browser, consent dialog): uses `interactiveTimeoutMs`. */
  interactive?: boolean;
}

export interface RpcMethodEntry extends RpcMethodOptions {
  handler: RpcHandler;
  /**
   * The answer, when one is at hand without waiting: the result as UTF-8 JSON
   * bytes (sent as is, never changed afterwards), or `undefined` to run
   * `handler`. It runs synchronously with no deadline, signal or promise, so
   * it must be cheap and never throw (cached `tokens.tryGet`: the socket floor
   * is the budget). `params` must only be read: a repeated request gets the
   * same object again (see {@link RpcConnection}'s repeat memo).
   */
  answerAtHand?(params: unknown, connection: Connection): Buffer | undefined;
}

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly limits: Readonly<RpcLimits>;
  readonly logger: Logger;
  lookup(method: string): RpcMethodEntry | undefined;
  identifyPeer?(socket: Socket): Promise<PeerProcess | undefined>;
}

/** What follows the id in a result: `,"result":`. */
const RESULT_MEMBER = Buffer.from(',"result":', 'latin1');

/**
 * The request last answered at hand on a connection, kept by its bytes after
 * the id: the same bytes again (another id) are the same request, so they are
 * answered without decoding, parsing or validating the line again.
 */
interface RepeatedRequest {
  /** The line's bytes from the comma after the id to its end (a copy). */
  tail: Buffer;
  method: string;
  entry: RpcMethodEntry;
  /** What the line parsed to the first time; only read, never changed. */
  params: unknown;
}

/** How long a closing connection may take to flush its last line. */
const CLOSE_GRACE_MS = 1000;

/** What is kept of an error message that would not fit in `maxMessageBytes`. */
const MAX_OVERSIZE_ERROR_CHARS = 1000;

interface InFlight {
  /** `performance.now()` time past which the request times out. */
  deadline: number;
  /** Ends the request with `timeout`. */
  timeOut(): void;
  /** Ends the request early with this error; the handler's own outcome is then ignored. */
  abort(reason: LatchkeyError): void;
}

export class RpcConnection implements Connection {
  readonly id: number;
  readonly state: Record<PropertyKey, unknown> = {};
  #peer: Promise<PeerProcess | undefined> | undefined;
  /** The last request answered at hand, to know it again by its bytes. */
  #repeat: RepeatedRequest | undefined;
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder: LineDecoder;
  readonly #inFlight = new Map<RpcId, InFlight>();
  readonly #closeCallbacks: Array<() => void> = [];
  /** Request deadlines: one timer for the connection, not one per request. */
  readonly #deadlines = new DeadlineTimer((now) => expireDue(this.#inFlight.values(), now));
  /** The idle limit, checked lazily: activity only moves `#lastActivity`. */
  readonly #idleTimer = new DeadlineTimer((now) => this.#checkIdle(now));
  #lastActivity = performance.now();
  #closing = false;
  #closed = false;

  constructor(id: number, socket: Socket, host: ConnectionHost) {
    this.id = id;
    this.#socket = socket;
    this.#host = host;
    this.#decoder = new LineDecoder(host.limits.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // EPIPE/ECONNRESET from a vanished client are routine; 'close' follows.
    socket.on('error', (err) => this.#host.logger.debug({ err, connection: id }, 'agent connection error'));
    socket.on('end', () => this.#end());
    socket.on('close', () => this.#onClosed());
    this.#touch();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** `performance.now()` of the last complete message or finished request (connection-slots.ts evicts by it). */
  get lastActivityAt(): number {
    return this.#lastActivity;
  }

  identifyPeer(): Promise<PeerProcess | undefined> {
    this.#peer ??= this.#host.identifyPeer ? this.#host.identifyPeer(this.#socket).catch(() => undefined) : Promise.resolve(undefined);
    return this.#peer;
  }

  onClose(cb: () => void): void {
    if (this.#closed) queueMicrotask(cb);
    else this.#closeCallbacks.push(cb);
  }

  notify(method: string, params?: unknown): void {
    if (this.#closing) return;
    const frame = encodeMessage(notification(method, params));
    if (frame.length - 1 > this.#host.limits.maxMessageBytes) {
      throw new LatchkeyError('message_too_large', `Notification ${method} exceeds ${this.#host.limits.maxMessageBytes} bytes`);
    }
    this.#write(frame);
  }

  close(): void {
    this.#end();
  }

  /** Tears the connection down at once (server shutdown); handlers see the abort before this returns. */
  destroy(): void {
    this.#closing = true;
    this.#abortAll('The agent is shutting down');
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#decoder.pushBytes(chunk, this.#onLine) && !this.#closing) {
      this.#sendError(null, new LatchkeyError('message_too_large', `Message exceeds ${this.#decoder.maxMessageBytes} bytes; closing connection`));
      this.#end();
    }
  }

  /** One complete line (bound once: it is called for every message). */
  readonly #onLine = (line: Buffer): void => {
    if (this.#closing) return;
    if (this.#repeat && this.#answerRepeat(line, this.#repeat)) return;
    const decoded = decodeLine(line);
    if (!decoded) return;
    this.#touch();
    if (decoded.kind === 'invalid_utf8') {
      this.#sendError(null, new LatchkeyError('protocol_error', 'Parse error: message is not valid UTF-8'), RPC_ERROR.parseError);
      return;
    }
    this.#onMessage(decoded.text, line);
  };

  /**
   * Answers `line` if it is the remembered request again under another
   * numeric id, with the same checks {@link #onRequest} makes; false sends it
   * down the full path (which then sees it as any other line).
   */
  #answerRepeat(line: Buffer, repeat: RepeatedRequest): boolean {
    const head = readEnvelopeId(line);
    if (!head || line.length - head.end !== repeat.tail.length || !bytesEqual(line, head.end, repeat.tail, 0, repeat.tail.length)) return false;
    const { id } = head;
    if (this.#inFlight.has(id) || this.#inFlight.size >= this.#host.limits.maxInFlightPerConnection) return false;
    if (this.#host.lookup(repeat.method) !== repeat.entry) return false;
    if (this.#answerAtHand(id, repeat.method, repeat.params, repeat.entry, undefined)) return true;
    // No answer at hand any more (the token, grant or vault changed): the line takes the full path.
    this.#repeat = undefined;
    return false;
  }

  #onMessage(text: string, line: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.#sendError(null, new LatchkeyError('protocol_error', 'Parse error: message is not valid JSON'), RPC_ERROR.parseError);
      return;
    }
    // The common request shape is checked by hand (zod costs microseconds per message); anything else takes the full path.
    const common = parseCommonRequest(value, this.#host.limits.maxJsonDepth);
    if (common) {
      this.#onRequest(common.id, common, line);
      return;
    }
    const invalid = this.#checkShape(value);
    if (invalid) {
      this.#sendError(salvageId(value), new LatchkeyError('protocol_error', `Invalid request: ${invalid}`), RPC_ERROR.invalidRequest);
      return;
    }
    const parsed = incomingMessageSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'message';
      this.#sendError(salvageId(value), new LatchkeyError('protocol_error', `Invalid request: bad ${field}`), RPC_ERROR.invalidRequest);
      return;
    }
    const message = parsed.data;
    if (message.id === undefined) this.#onNotification(message);
    else this.#onRequest(message.id, message);
  }

  /** Checks the schema cannot express: batches and nesting depth. */
  #checkShape(value: unknown): string | undefined {
    if (Array.isArray(value)) return 'batch requests are not supported';
    if (exceedsJsonDepth(value, this.#host.limits.maxJsonDepth)) {
      return `nesting deeper than ${this.#host.limits.maxJsonDepth} levels`;
    }
    return undefined;
  }

  // JSON-RPC 2.0 §4.1: notifications are never answered, not even with errors.
  #onNotification(message: IncomingMessage): void {
    if (message.method !== CANCEL_NOTIFICATION) {
      this.#host.logger.debug({ connection: this.id, method: message.method }, 'ignoring unknown notification');
      return;
    }
    const parsed = cancelParamsSchema.safeParse(message.params);
    if (!parsed.success) return;
    this.#inFlight.get(parsed.data.id)?.abort(new LatchkeyError('cancelled', 'Request was cancelled by the client'));
  }

  #onRequest(id: RpcId, message: IncomingMessage, line?: Buffer): void {
    const { limits } = this.#host;
    if (this.#inFlight.has(id)) {
      this.#sendError(id, new LatchkeyError('protocol_error', 'Invalid request: id is already in flight'), RPC_ERROR.invalidRequest);
      return;
    }
    if (this.#inFlight.size >= limits.maxInFlightPerConnection) {
      this.#sendError(id, new LatchkeyError('busy', `Too many requests in flight (max ${limits.maxInFlightPerConnection}); retry later`));
      return;
    }
    const entry = this.#host.lookup(message.method);
    if (!entry) {
      this.#sendError(id, new LatchkeyError('protocol_error', `Method not found: ${message.method}`), RPC_ERROR.methodNotFound);
      return;
    }
    if (entry.answerAtHand && this.#answerAtHand(id, message.method, message.params, entry, line)) return;
    this.#run(id, message, entry);
  }

  /**
   * Sends a ready answer; false when there is none (or it would break the size
   * cap), so the handler runs. Given the request's `line`, remembers it for
   * {@link #answerRepeat}.
   */
  #answerAtHand(id: RpcId, method: string, params: unknown, entry: RpcMethodEntry, line: Buffer | undefined): boolean {
    let result: Buffer | undefined;
    try {
      result = entry.answerAtHand!(params, this);
    } catch (err) {
      this.#host.logger.error({ err, method, connection: this.id }, 'agent fast path failed; using the handler');
      return false;
    }
    if (result === undefined) return false;
    // The same bytes encodeMessage(resultResponse(id, result)) writes, without parsing the result back:
    // `{"jsonrpc":"2.0","id":` id `,"result":` result `}\n`.
    // A repeated request's id is a number (readEnvelopeId); its digits are written without a string.
    const numeric = typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
    const idText = numeric ? undefined : JSON.stringify(id);
    const idBytes = idText === undefined ? idDigits(id as number) : Buffer.byteLength(idText);
    const at = ENVELOPE_HEAD.length + idBytes + RESULT_MEMBER.length;
    const frame = Buffer.allocUnsafe(at + result.length + 2);
    frame.set(ENVELOPE_HEAD, 0);
    if (idText === undefined) writeIdDigits(frame, ENVELOPE_HEAD.length, id as number);
    else frame.write(idText, ENVELOPE_HEAD.length, idBytes, 'utf8');
    frame.set(RESULT_MEMBER, at - RESULT_MEMBER.length);
    frame.set(result, at);
    frame[frame.length - 2] = 0x7d; // }
    frame[frame.length - 1] = 0x0a; // \n
    if (frame.length - 1 > this.#host.limits.maxMessageBytes) return false;
    this.#write(frame);
    this.#touch();
    if (line && typeof id === 'number') this.#remember(line, id, method, params, entry);
    return true;
  }

  /**
   * Remembers an answered request by its bytes after the id, but only when
   * they are exactly what JSON.stringify writes for its method and params: a
   * line with more members (a second "id", say) would read differently by
   * bytes than JSON.parse reads it, so it is never taken by its bytes.
   */
  #remember(line: Buffer, id: number, method: string, params: unknown, entry: RpcMethodEntry): void {
    const at = readEnvelopeId(line);
    if (!at || at.id !== id) return;
    const tail = `,"method":${JSON.stringify(method)}${params === undefined ? '' : `,"params":${JSON.stringify(params)}`}}`;
    if (line.length - at.end !== tail.length || line.toString('latin1', at.end) !== tail) return;
    this.#repeat = { tail: Buffer.from(line.subarray(at.end)), method, entry, params };
  }

  #run(id: RpcId, message: IncomingMessage, entry: RpcMethodEntry): void {
    const { limits, logger } = this.#host;
    // Created only when a handler reads `signal`: most (cached token reads) never do, and an
    // AbortController costs more than the rest of the dispatch.
    let controller: AbortController | undefined;
    let abortReason: LatchkeyError | undefined;
    let settled = false;
    const settle = (send: () => void): void => {
      if (settled) return;
      settled = true;
      this.#inFlight.delete(id);
      send();
      this.#touch();
    };
    const abort = (reason: LatchkeyError): void => {
      if (settled) return;
      abortReason = reason;
      controller?.abort(reason);
      settle(() => this.#sendError(id, reason));
    };
    const timeoutMs = entry.timeoutMs ?? (entry.interactive ? limits.interactiveTimeoutMs : limits.requestTimeoutMs);
    const deadline = performance.now() + timeoutMs;
    const timeOut = (): void => abort(new LatchkeyError('timeout', `${message.method} did not finish within ${timeoutMs} ms`));
    this.#inFlight.set(id, { deadline, timeOut, abort });
    this.#deadlines.ensure(deadline);

    const ctx: CallContext = {
      connection: this,
      get signal(): AbortSignal {
        if (!controller) {
          controller = new AbortController();
          if (abortReason) controller.abort(abortReason);
        }
        return controller.signal;
      },
      requestId: id,
      notify: (method, params) => {
        if (params && Object.hasOwn(params, 'request_id')) throw new LatchkeyError('usage', 'request_id is set by the agent');
        this.notify(method, { ...params, request_id: id });
      },
    };
    // The extra .then() turns a synchronous throw into a rejection.
    Promise.resolve()
      .then(() => entry.handler(message.params, ctx))
      .then(
        (result) => settle(() => this.#sendResult(id, message.method, result)),
        (err: unknown) => {
          if (!(err instanceof LatchkeyError)) {
            logger.error({ err, method: message.method, connection: this.id }, 'agent method failed unexpectedly');
          }
          settle(() => this.#sendError(id, err instanceof LatchkeyError ? err : new LatchkeyError('internal', 'Internal error')));
        },
      );
  }

  /** Times out the requests past their deadline; returns the next deadline. */
  #sendResult(id: RpcId, method: string, result: unknown): void {
    let frame: Buffer;
    try {
      frame = encodeMessage(resultResponse(id, result));
    } catch (err) {
      this.#host.logger.error({ err, method, connection: this.id }, 'agent method returned an unserialisable result');
      this.#sendError(id, new LatchkeyError('internal', 'Internal error'));
      return;
    }
    if (frame.length - 1 > this.#host.limits.maxMessageBytes) {
      this.#host.logger.error({ method, bytes: frame.length, connection: this.id }, 'agent method result too large');
      this.#sendError(id, new LatchkeyError('message_too_large', `Result of ${method} exceeds ${this.#host.limits.maxMessageBytes} bytes`), RPC_ERROR.application);
      return;
    }
    this.#write(frame);
  }

  #sendError(id: RpcId | null, err: LatchkeyError, rpcCode?: number): void {
    const error = toRpcError(err, rpcCode);
    let frame = encodeMessage(errorResponse(id, error));
    // A message may quote the request (zod names every unknown key), so the error
    // for a request within the cap can exceed it; shorten it rather than break the cap.
    if (frame.length - 1 > this.#host.limits.maxMessageBytes) {
      frame = encodeMessage(errorResponse(id, { ...error, message: `${error.message.slice(0, MAX_OVERSIZE_ERROR_CHARS)}…` }));
    }
    this.#write(frame);
  }

  #write(frame: Buffer): void {
    if (this.#closing || this.#socket.destroyed) return;
    if (this.#socket.writableLength + frame.length > this.#host.limits.maxOutboundBytes) {
      this.#host.logger.warn({ connection: this.id, queued: this.#socket.writableLength }, 'agent client is not reading; dropping it');
      this.#socket.destroy();
      return;
    }
    this.#socket.write(frame);
  }

  /** Half-closes after flushing; the grace timer covers a peer that never reads. */
  #end(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#idleTimer.stop();
    this.#abortAll('Connection closed');
    this.#deadlines.stop();
    this.#socket.end(() => this.#socket.destroy());
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#closed = true;
    this.#idleTimer.stop();
    this.#abortAll('Connection closed');
    this.#deadlines.stop();
    for (const cb of this.#closeCallbacks.splice(0)) {
      try {
        cb();
      } catch (err) {
        this.#host.logger.error({ err, connection: this.id }, 'agent connection close callback failed');
      }
    }
  }

  #abortAll(why: string): void {
    for (const request of [...this.#inFlight.values()]) request.abort(new LatchkeyError('cancelled', why));
  }

  /** Notes activity (a complete message, a finished request): the idle limit counts from the last one. */
  #touch(): void {
    this.#lastActivity = performance.now();
    if (!this.#closing) this.#idleTimer.ensure(this.#lastActivity + this.#host.limits.idleTimeoutMs);
  }

  /** Closes the connection once it has been idle long enough; returns when to look again. */
  #checkIdle(now: number): number {
    // Busy: the request that finishes last calls #touch, which re-arms the check.
    if (this.#closing || this.#inFlight.size > 0) return Infinity;
    const idleUntil = this.#lastActivity + this.#host.limits.idleTimeoutMs;
    if (now < idleUntil) return idleUntil;
    this.#host.logger.debug({ connection: this.id }, 'closing idle agent connection');
    this.#end();
    return Infinity;
  }
}
