/**
 * Authorization code + PKCE in the system browser (RFC 6749 §4.1, RFC 7636,
 * RFC 8252). It enforces:
 * - PKCE S256, a fresh `state` per sign-in and (OpenID Connect) a `nonce`,
 *   all checked by openid-client on the response;
 * - the response comes back through one {@link CallbackReceiver}: a loopback
 *   listener on 127.0.0.1 (on the provider's pinned port when it registered
 *   one, else a port the OS picks), or the private-use scheme, which reaches
 *   the agent through `latchkey handle-url` or the desktop app's deep-link
 *   hand-off; the receiver is closed whatever happens;
 * - waiting for the browser ends at the callback timeout or on cancellation;
 * - plain OAuth 2.0 gets no `nonce` and no `max_age` (there is no ID token).
 */
import type * as oidc from 'openid-client';
import { openidClient } from '../openid-client.js';
import { LatchkeyError } from '../../errors.js';
import type { ProviderRecord } from '../../store/vault-document.js';
import type { CallbackReceiver, WaitOptions } from '../callback/callback-receiver.js';
import { LoopbackReceiver } from '../callback/loopback-receiver.js';
import type { SchemeCallbackRouter } from '../callback/scheme-receiver.js';
import { isPlainOAuth2 } from '../oauth2-configuration.js';
import { signInPrompt } from '../offline-access.js';
import { providerFailure } from '../provider-errors.js';
import type { FlowContext, FlowGrant, SignInFlow } from './sign-in-flow.js';

/** Opens the receiver for one sign-in with `provider`. */
export type OpenReceiver = (provider: ProviderRecord) => Promise<CallbackReceiver>;

/** The receiver the provider's redirect mode asks for: its private-use scheme, else loopback (on its pinned port, if any). */
export function receiverOpener(schemeRouter: SchemeCallbackRouter): OpenReceiver {
  return async (provider) =>
    provider.redirect === 'scheme' ? schemeRouter.receiver() : LoopbackReceiver.start(provider.loopbackPort ? { port: provider.loopbackPort } : {});
}

export interface AuthorizationCodeOptions {
  maxAge?: number | undefined;
  prompt?: string | undefined;
  loginHint?: string | undefined;
  resource?: string | undefined;
  openReceiver: OpenReceiver;
  /** Called with the authorization URL; the caller opens the browser or prints it. */
  onAuthorizationUrl: (url: string) => void | Promise<void>;
  /** How long the browser may take; the receiver's default (5 min) when undefined. */
  callbackTimeoutMs?: number | undefined;
}

export class AuthorizationCodeFlow implements SignInFlow {
  readonly grant = 'authorization_code';

  constructor(private readonly options: AuthorizationCodeOptions) {}

  assertFits(provider: ProviderRecord): void {
    // oidc-provider refuses max_age without `openid`, and there is no auth_time to check it against.
    if (isPlainOAuth2(provider) && this.options.maxAge !== undefined) {
      throw new LatchkeyError('usage', `--max-age needs OpenID Connect; provider "${provider.name}" is plain OAuth 2.0.`);
    }
  }

  async run({ provider, config, scope, signal, log }: FlowContext): Promise<FlowGrant> {
    const { maxAge, loginHint, resource } = this.options;
    const receiver = await this.options.openReceiver(provider);
    try {
      const openid = await openidClient();
      const codeVerifier = openid.randomPKCECodeVerifier();
      const state = openid.randomState();
      const nonce = isPlainOAuth2(provider) ? undefined : openid.randomNonce();
      const prompt = signInPrompt(provider, scope, this.options.prompt);
      const params: Record<string, string> = {
        ...provider.authorizationParams,
        redirect_uri: receiver.redirectUri,
        ...(scope ? { scope } : {}),
        code_challenge: await openid.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        ...(nonce ? { nonce } : {}),
      };
      if (maxAge !== undefined) params.max_age = String(maxAge);
      if (prompt) params.prompt = prompt;
      if (loginHint) params.login_hint = loginHint;
      if (resource) params.resource = resource;
      const url = openid.buildAuthorizationUrl(config, params);
      const waitOptions: WaitOptions = {};
      if (signal) waitOptions.signal = signal;
      if (this.options.callbackTimeoutMs) waitOptions.timeoutMs = this.options.callbackTimeoutMs;
      const callback = receiver.waitForCallback(state, waitOptions);
      // Awaited below; if opening the browser fails first, its timeout or cancellation must not go unhandled.
      callback.catch(() => undefined);
      log.info({ provider: provider.name, redirect: provider.redirect, scope }, 'authorization request started');
      await this.options.onAuthorizationUrl(url.href);
      const callbackUrl = await callback;
      const checks: oidc.AuthorizationCodeGrantChecks = { pkceCodeVerifier: codeVerifier, expectedState: state, ...(nonce ? { expectedNonce: nonce } : {}) };
      if (maxAge !== undefined) checks.maxAge = maxAge;
      try {
        const tokens = await openid.authorizationCodeGrant(config, callbackUrl, checks, { redirect_uri: receiver.redirectUri });
        return { tokens, prompt, promptChosen: Boolean(this.options.prompt) };
      } catch (err) {
        throw providerFailure(err, 'sign-in', provider.name);
      }
    } finally {
      await receiver.close();
    }
  }
}
