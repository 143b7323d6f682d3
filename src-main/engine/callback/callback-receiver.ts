/**
 * Where the browser sends the authorization response. Two implementations sit
 * behind this interface, picked by the provider's redirect mode:
 * - {@link LoopbackReceiver}: `http://127.0.0.1:<port>/callback` (RFC 8252 §7.3);
 * - {@link SchemeCallbackRouter}: a private-use URI scheme (RFC 8252 §7.1) that
 *   the OS hands to `latchkey handle-url`, which forwards it to the agent.
 *
 * Either way a response is matched to its sign-in by `state` and consumed once:
 * a second delivery of the same URL finds nothing and is rejected.
 */
import { LatchkeyError } from '../../errors.js';

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up after this long; default 5 minutes. */
  timeoutMs?: number;
}

export interface CallbackReceiver {
  /** The redirect_uri to put in the authorization request. */
  readonly redirectUri: string;
  /** Resolves with the full authorization response URL carrying this `state`. */
  waitForCallback(state: string, options?: WaitOptions): Promise<URL>;
  /** Releases what the receiver holds (a listening port); idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_CALLBACK_TIMEOUT_MS = 5 * 60 * 1000;

/** Longest callback URL we accept; real ones are a few hundred bytes. */
export const MAX_CALLBACK_URL_LENGTH = 8 * 1024;

/**
 * Registry of sign-ins waiting for their response, keyed by `state`. Shared by
 * both receivers so the rules (single use, timeout, cancellation) live once.
 */
export class PendingCallbacks {
  private readonly pending = new Map<string, { resolve: (url: URL) => void; reject: (err: Error) => void }>();

  wait(state: string, options: WaitOptions = {}): Promise<URL> {
    if (this.pending.has(state)) throw new LatchkeyError('internal', 'A sign-in with this state is already waiting.');
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS;
    return new Promise<URL>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(state);
      };
      const onAbort = () => {
        done();
        reject(new LatchkeyError('cancelled', 'The sign-in was cancelled.'));
      };
      const timer = setTimeout(() => {
        done();
        const minutes = Math.round(timeoutMs / 60000);
        reject(
          new LatchkeyError(
            'timeout',
            `No sign-in response arrived from the browser within ${minutes >= 1 ? `${minutes} min` : `${Math.round(timeoutMs / 1000)} s`}. Run the sign-in again.`,
          ),
        );
      }, timeoutMs);
      timer.unref?.();
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(state, {
        resolve: (url) => {
          done();
          resolve(url);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
    });
  }

  /** Hands `url` to the sign-in waiting for its `state`; false if none is. */
  deliver(state: string, url: URL): boolean {
    const entry = this.pending.get(state);
    if (!entry) return false;
    entry.resolve(url);
    return true;
  }

  /** Ends one waiting sign-in with `err`; false if it was not waiting. */
  reject(state: string, err: Error): boolean {
    const entry = this.pending.get(state);
    if (!entry) return false;
    entry.reject(err);
    return true;
  }

  rejectAll(err: Error): void {
    for (const entry of [...this.pending.values()]) entry.reject(err);
  }

  get size(): number {
    return this.pending.size;
  }
}

/**
 * Parses a callback URL and checks it is aimed at `redirectUri` (same scheme,
 * host, port and path). Returns the URL and its `state`. A URL that is not
 * aimed at us is `usage` (someone passed the wrong thing); one that is, but
 * carries no single `state`, is `callback_rejected`.
 */
export function parseCallbackUrl(raw: string, redirectUri: string): { url: URL; state: string } {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    throw new LatchkeyError('usage', `The callback URL is too long: at most ${MAX_CALLBACK_URL_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LatchkeyError('usage', 'The callback is not a valid URL.');
  }
  const expected = new URL(redirectUri);
  if (url.protocol !== expected.protocol || url.host !== expected.host || url.pathname !== expected.pathname) {
    throw new LatchkeyError('usage', `The URL is not a Latchkey sign-in callback (expected ${redirectUri}).`);
  }
  const states = url.searchParams.getAll('state');
  if (states.length !== 1 || !states[0]) {
    throw new LatchkeyError('callback_rejected', 'The callback has no single `state` parameter; it was not sent by a Latchkey sign-in.');
  }
  return { url, state: states[0] };
}

export const UNKNOWN_STATE_MESSAGE =
  'No sign-in is waiting for this response: it is unknown, already used, or expired. Nothing was changed.';
