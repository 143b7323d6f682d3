/**
 * Latchkey's one error type. Every failure that crosses a module boundary is a
 * `LatchkeyError` with a stable `code`; words for humans are chosen at the edge
 * (CLI, UI) but each error already carries a message that says what to do.
 *
 * Across the socket and IPC errors travel as plain `{ code, message }` values
 * (see {@link toWireError}); the `cause` never leaves the process because it
 * may hold provider responses.
 */

export const ERROR_CODES = [
  // The caller asked for something malformed or impossible.
  'usage',
  'config_invalid',
  'not_found',
  'already_exists',
  // The user has to act: sign in again, or approve an app.
  'login_required',
  'consent_required',
  'access_denied',
  // The OpenID provider failed or misbehaved.
  'provider_error',
  'provider_unreachable',
  'invalid_response',
  'callback_rejected',
  'timeout',
  'cancelled',
  // The vault and its key.
  'vault_corrupt',
  'vault_locked',
  'key_source_unavailable',
  'storage_error',
  // The agent and its socket.
  'agent_unavailable',
  'agent_running',
  'protocol_error',
  'message_too_large',
  'unauthorized',
  'busy',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface WireError {
  code: ErrorCode;
  message: string;
  /** The provider's own OAuth `error` value, when there was one (RFC 6749 §5.2). */
  providerError?: string;
}

/**
 * Marks every LatchkeyError, whichever copy of this module made it: the lean
 * CommonJS bundles (dist/lean/) carry their own copy and load the sign-in and
 * the agent client from the compiled modules (dist/src-main/), whose errors a
 * plain prototype check would not recognise (and so report as `internal`).
 * `Symbol.for` is one symbol per process, shared by all copies.
 */
const LATCHKEY_ERROR = Symbol.for('dev.latchkey.error');

export class LatchkeyError extends Error {
  /** `instanceof LatchkeyError` holds for any copy's error (see {@link LATCHKEY_ERROR}); a subclass keeps the ordinary check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== LatchkeyError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [LATCHKEY_ERROR]?: unknown })[LATCHKEY_ERROR] === true;
  }

  override readonly name = 'LatchkeyError';
  readonly code: ErrorCode;
  readonly providerError: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; providerError?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, LATCHKEY_ERROR, { value: true });
    this.code = code;
    this.providerError = options.providerError;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Wraps anything thrown into a LatchkeyError without losing the original as `cause`. */
export function asLatchkeyError(err: unknown, fallback: ErrorCode = 'internal'): LatchkeyError {
  if (err instanceof LatchkeyError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LatchkeyError(fallback, message, { cause: err });
}

export function toWireError(err: unknown): WireError {
  const e = asLatchkeyError(err);
  const wire: WireError = { code: e.code, message: e.message };
  if (e.providerError) wire.providerError = e.providerError;
  return wire;
}

export function fromWireError(wire: WireError): LatchkeyError {
  const code = isErrorCode(wire.code) ? wire.code : 'internal';
  return new LatchkeyError(code, wire.message, wire.providerError ? { providerError: wire.providerError } : {});
}

/**
 * Stable process exit codes for the CLI, documented in the README.
 * Scripts depend on these numbers; never renumber.
 */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  signInNeeded: 3,
  provider: 4,
  storage: 5,
  agent: 6,
  denied: 7,
  cancelled: 130,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'usage':
    case 'config_invalid':
    case 'not_found':
    case 'already_exists':
      return EXIT_CODES.usage;
    case 'login_required':
    case 'consent_required':
      return EXIT_CODES.signInNeeded;
    case 'provider_error':
    case 'provider_unreachable':
    case 'invalid_response':
    case 'callback_rejected':
    case 'timeout':
      return EXIT_CODES.provider;
    case 'vault_corrupt':
    case 'vault_locked':
    case 'key_source_unavailable':
    case 'storage_error':
      return EXIT_CODES.storage;
    case 'agent_unavailable':
    case 'agent_running':
    case 'protocol_error':
    case 'message_too_large':
    case 'busy':
      return EXIT_CODES.agent;
    case 'access_denied':
    case 'unauthorized':
      return EXIT_CODES.denied;
    case 'cancelled':
      return EXIT_CODES.cancelled;
    case 'internal':
      return EXIT_CODES.failure;
  }
}
