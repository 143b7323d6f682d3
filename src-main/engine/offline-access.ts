/**
 * Asking for a refresh token at sign-in, the way spec-strict providers want it.
 *
 * What it enforces:
 * - a browser sign-in that asks for offline access carries `prompt=consent`
 *   (OIDC Core §11: "the OP MUST ignore the offline_access request unless the
 *   Client is using a response_type value that would result in an
 *   Authorization Code being returned, and the prompt parameter contains
 *   consent"), unless the person chose a prompt or the provider's settings say
 *   it issues refresh tokens without one (`refreshWithoutConsent`);
 * - a sign-in that asked for offline access and got no refresh token says so
 *   at once, with the likely reason and the fix, instead of failing later when
 *   the access token expires.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
 */
import type { ProviderRecord } from '../store/vault-document.js';
import { parseScope } from './scope.js';

export const OFFLINE_ACCESS = 'offline_access';

/** Something the person should know about a sign-in that succeeded. Travels as is across the socket and IPC. */
export interface SignInWarning {
  code: 'refresh_token_not_issued';
  message: string;
}

/**
 * Whether an authorization request asks for a refresh token: the standard
 * `offline_access` scope, or Google's `access_type=offline` parameter (Google
 * does not know the scope).
 */
export function asksForOfflineAccess(scope: string, params: Readonly<Record<string, string>> = {}): boolean {
  return parseScope(scope).includes(OFFLINE_ACCESS) || params.access_type === 'offline';
}

/**
 * The `prompt` to send with a browser sign-in: the person's own choice as is,
 * else `consent` when offline access is asked of a provider that needs it.
 */
export function signInPrompt(provider: ProviderRecord, scope: string, chosen: string | undefined): string | undefined {
  if (chosen) return chosen;
  if (provider.refreshWithoutConsent || !asksForOfflineAccess(scope, provider.authorizationParams)) return undefined;
  return 'consent';
}

export interface SignInOutcome {
  provider: ProviderRecord;
  /** The scope the sign-in asked for. */
  scope: string;
  /** `prompt` as sent; undefined for the device flow, which has none. */
  prompt: string | undefined;
  /** Whether the person chose that prompt (`--prompt`). */
  promptChosen: boolean;
  device: boolean;
  refreshTokenIssued: boolean;
  /** Seconds the access token lives, when the provider said. */
  expiresIn: number | undefined;
}

/** The warning for a sign-in that asked for offline access and got no refresh token; undefined when all is well. */
export function refreshTokenWarning(o: SignInOutcome): SignInWarning | undefined {
  if (o.refreshTokenIssued || !asksForOfflineAccess(o.scope, o.device ? {} : o.provider.authorizationParams)) return undefined;
  const name = o.provider.name;
  const lifetime = o.expiresIn !== undefined ? ` (in about ${Math.max(1, Math.round(o.expiresIn / 60))} min)` : '';
  const consequence = `Provider "${name}" issued no refresh token although offline access was asked for, so when this access token expires${lifetime} you will have to sign in again in the browser.`;
  let reason: string;
  if (o.promptChosen && o.prompt !== 'consent') {
    reason =
      `Likely reason: the provider issues refresh tokens only when the sign-in asks for consent (OpenID Connect Core §11), and --prompt ${o.prompt} replaced that. ` +
      `Fix: sign in again without --prompt (or with --prompt consent): latchkey login --provider ${name}`;
  } else if (!o.device && o.prompt !== 'consent') {
    reason =
      `Likely reason: the provider issues refresh tokens only with prompt=consent (OpenID Connect Core §11), but provider "${name}" is set up to skip it (refreshWithoutConsent). ` +
      `Fix: latchkey login --provider ${name} --prompt consent; to make that the default, add the provider again without --refresh-without-consent.`;
  } else {
    reason =
      `Likely reason: the client registered for Latchkey at the provider may not use refresh tokens (the refresh_token grant or the offline_access scope is not enabled for it). ` +
      `Fix: enable refresh tokens / offline access for the client at the provider, then run latchkey login --provider ${name}`;
  }
  return { code: 'refresh_token_not_issued', message: `${consequence} ${reason}` };
}
