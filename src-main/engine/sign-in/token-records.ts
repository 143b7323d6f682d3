/**
 * The one place a token response becomes stored token records, after a
 * sign-in, a refresh or a client credentials grant. It enforces:
 * - the access token's scope is what the provider granted, as RFC 6749 §3.3
 *   spells it; a response without `scope` granted what was asked (§5.1);
 * - a response without `expires_in` lives the provider's assumed lifetime,
 *   else a short default (token-cache.ts), never forever;
 * - the access token, a rotated refresh token and a new ID token reach the
 *   vault in one write, before any of them is handed out: a crash after
 *   handing out a new access token must not leave a spent refresh token stored.
 */
import type * as oidc from 'openid-client';
import { LatchkeyError } from '../../errors.js';
import type { AccessTokenRecord, AccountRecord, DocumentStore, ProviderRecord, VaultDocument } from '../../store/vault-document.js';
import { grantedScopeOf } from '../oauth2-configuration.js';
import { normaliseScope } from '../scope.js';
import { expiresAtFrom, upsertToken, type TokenRequestKey } from '../token-cache.js';

/** The access token a response grants, for the request `asked` (its scope normalised) at `nowMs`. */
export function accessTokenRecordFrom(tokens: oidc.TokenEndpointResponse, provider: ProviderRecord, asked: TokenRequestKey, nowMs: number): AccessTokenRecord {
  return {
    accessToken: tokens.access_token,
    tokenType: tokens.token_type ?? 'Bearer',
    expiresAt: expiresAtFrom(tokens.expires_in ?? provider.oauth2?.assumedTokenLifetimeSeconds, nowMs),
    scope: tokens.scope ? normaliseScope(grantedScopeOf(provider, tokens.scope)) : asked.scope,
    ...(asked.resource ? { resource: asked.resource } : {}),
    ...(asked.tokenOwner ? { appId: asked.tokenOwner } : {}),
    obtainedAt: nowMs,
  };
}

/** Who a sign-in named: the account record's fields that do not come from the token response. */
export type SignedInAccount = Pick<AccountRecord, 'id' | 'provider' | 'subject' | 'claims' | 'scope' | 'authTime'>;

/**
 * Saves what a token response grants an account in one vault write: `token`
 * in the account's cache, and the response's refresh token and ID token when
 * it has them. With `signedIn` (a sign-in) the account record starts afresh
 * and replaces any with its id; without it (a refresh) the account must still
 * be there, and keeps what the response does not replace.
 */
export async function saveTokenResponse(
  store: DocumentStore<VaultDocument>,
  accountId: string,
  tokens: oidc.TokenEndpointResponse,
  token: AccessTokenRecord,
  nowMs: number,
  signedIn?: SignedInAccount,
): Promise<AccountRecord> {
  const doc = await store.update((d) => {
    const previous = d.accounts.find((a) => a.id === accountId);
    let account: AccountRecord;
    if (signedIn) {
      account = { ...signedIn, status: 'active', tokens: [], createdAt: previous?.createdAt ?? nowMs, updatedAt: nowMs };
      d.accounts = [...d.accounts.filter((a) => a.id !== accountId), account];
    } else {
      if (!previous) throw new LatchkeyError('login_required', `Account ${accountId} was signed out during refresh.`);
      account = previous;
      delete account.lastError;
    }
    if (tokens.refresh_token) account.refreshToken = tokens.refresh_token;
    if (tokens.id_token) account.idToken = tokens.id_token;
    account.tokens = upsertToken(account.tokens, token);
    account.updatedAt = nowMs;
  });
  return doc.accounts.find((a) => a.id === accountId)!;
}
