/**
 * Private-use URI scheme redirects (RFC 8252 §7.1), e.g.
 * `dev.latchkey.app:/callback`. The OS starts `latchkey handle-url <url>` (or
 * the desktop app's second instance); that forwards the URL here with
 * {@link SchemeCallbackRouter.deliver}. Anyone on the machine can open such a
 * URL, so a delivery is only accepted for a `state` we are waiting for, once.
 */
import { LatchkeyError } from '../../errors.js';
import {
  PendingCallbacks,
  parseCallbackUrl,
  UNKNOWN_STATE_MESSAGE,
  type CallbackReceiver,
  type WaitOptions,
} from './callback-receiver.js';

export const DEFAULT_SCHEME_REDIRECT_URI = 'dev.latchkey.app:/callback';

export class SchemeCallbackRouter {
  private readonly pending = new PendingCallbacks();

  constructor(readonly redirectUri: string = DEFAULT_SCHEME_REDIRECT_URI) {
    const url = new URL(redirectUri);
    // RFC 8252 §7.1: a reverse domain name the app controls, so other apps don't claim it.
    if (!/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol) || url.protocol === 'http:' || url.protocol === 'https:') {
      throw new LatchkeyError('config_invalid', `"${redirectUri}" is not a private-use scheme URI like dev.latchkey.app:/callback.`);
    }
  }

  /** A receiver view for one sign-in; closing it does not affect other sign-ins. */
  receiver(): CallbackReceiver {
    const states = new Set<string>();
    return {
      redirectUri: this.redirectUri,
      waitForCallback: (state: string, options?: WaitOptions) => {
        states.add(state);
        return this.pending.wait(state, options).finally(() => states.delete(state));
      },
      close: async () => {
        for (const state of states) this.pending.reject(state, new LatchkeyError('cancelled', 'The sign-in was cancelled.'));
      },
    };
  }

  /**
   * Accepts a URL from `latchkey handle-url`. Throws `callback_rejected` (and
   * changes nothing) when it is malformed, not ours, or its `state` is unknown
   * or already used.
   */
  deliver(rawUrl: string): void {
    const { url, state } = parseCallbackUrl(rawUrl, this.redirectUri);
    if (!this.pending.deliver(state, url)) throw new LatchkeyError('callback_rejected', UNKNOWN_STATE_MESSAGE);
  }

  get waiting(): number {
    return this.pending.size;
  }
}
