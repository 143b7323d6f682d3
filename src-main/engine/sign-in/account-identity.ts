/**
 * Who a sign-in signed in, from its token response, before anything is
 * stored. It enforces:
 * - at an OpenID Connect provider the ID token (already validated by
 *   openid-client) names the account; a response without one is an
 *   `invalid_response`; userinfo only fills in the profile, and its failure
 *   costs the profile extras, not the sign-in;
 * - an `auth_time` of 0 (Glewlwyd, from its token endpoint) counts as missing;
 * - at a plain OAuth 2.0 provider the account is named as oauth2-account.ts says.
 */
import type * as oidc from 'openid-client';
import { openidClient } from '../openid-client.js';
import { LatchkeyError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { ProviderRecord } from '../../store/vault-document.js';
import { identifyOAuth2Account, type AccountIdentity } from '../oauth2-account.js';
import { isPlainOAuth2 } from '../oauth2-configuration.js';
import type { GrantResponse } from './sign-in-flow.js';

/** Names the account a sign-in's `tokens` belong to; `accountName` only where oauth2-account.ts asks for one. */
export function identifySignedInAccount(
  provider: ProviderRecord,
  config: oidc.Configuration,
  tokens: GrantResponse,
  accountName: string | undefined,
  log: Logger,
): Promise<AccountIdentity> {
  return isPlainOAuth2(provider) ? identifyOAuth2Account(provider, config, tokens.access_token, accountName) : identifyOidcAccount(provider, config, tokens, log);
}

/** The ID token names the account; userinfo (when offered) fills in the profile. */
async function identifyOidcAccount(provider: ProviderRecord, config: oidc.Configuration, tokens: GrantResponse, log: Logger): Promise<AccountIdentity> {
  const claims = tokens.claims();
  if (!claims) throw new LatchkeyError('invalid_response', `Provider "${provider.name}" returned no ID token; Latchkey needs OpenID Connect (or add the provider with --oauth2).`);
  const userinfo = await fetchUserInfo(provider, config, tokens.access_token, claims.sub, log);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const who: AccountIdentity = { subject: claims.sub, claims: {} };
  for (const [field, claim] of [['name', 'name'], ['email', 'email'], ['preferredUsername', 'preferred_username'], ['picture', 'picture']] as const) {
    const value = str(userinfo?.[claim]) ?? str(claims[claim]);
    if (value) who.claims[field] = value;
  }
  if (typeof claims.auth_time === 'number' && claims.auth_time > 0) who.authTime = claims.auth_time;
  return who;
}

async function fetchUserInfo(provider: ProviderRecord, config: oidc.Configuration, accessToken: string, sub: string, log: Logger): Promise<Record<string, unknown> | undefined> {
  if (!config.serverMetadata().userinfo_endpoint) return undefined;
  try {
    return await (await openidClient()).fetchUserInfo(config, accessToken, sub);
  } catch (err) {
    // The ID token already identifies the person; profile extras are optional.
    log.warn({ provider: provider.name, err }, 'userinfo request failed; using ID token claims only');
    return undefined;
  }
}
