/**
 * Who signed in, at a plain OAuth 2.0 provider: there is no ID token, so the
 * account is named by the provider's userinfo endpoint when one is configured
 * (a URL answering the signed-in user as JSON, GitHub's `/user` style), else
 * by a name the person gives at sign-in. It enforces:
 * - the userinfo answer is a JSON object whose account member (the configured
 *   one, else the first of {@link ACCOUNT_CLAIMS}) is a non-empty string or a
 *   number; anything else is an `invalid_response` and nothing is stored;
 * - a name given at sign-in only where no userinfo endpoint names the account,
 *   and one is required there.
 */
import type * as oidc from 'openid-client';
import { openidClient } from './openid-client.js';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { AccountRecord, ProviderRecord } from '../store/vault-document.js';
import { providerFailure } from './provider-errors.js';

/** The userinfo members tried, in order, when the provider does not say which one names the account. */
export const ACCOUNT_CLAIMS: readonly string[] = ['sub', 'id', 'login', 'email'];
/** A userinfo answer larger than this is not a user record. */
const MAX_USERINFO_BYTES = 256 * 1024;
const ACCOUNT_NAME = /^[^\s\p{Cc}][^\p{Cc}]{0,127}$/u;

/** Who signed in: the subject that makes the account id, the profile to show, and (OIDC only) `auth_time`. */
export interface AccountIdentity {
  subject: string;
  claims: AccountRecord['claims'];
  authTime?: number;
}

/**
 * Checks before a sign-in starts that the account can be named afterwards, so
 * a missing `--account-name` fails before the browser opens.
 */
export function assertAccountNaming(provider: ProviderRecord, accountName: string | undefined): void {
  const userinfo = provider.oauth2?.userinfoEndpoint;
  if (accountName !== undefined && (!provider.oauth2 || userinfo)) {
    const why = provider.oauth2 ? 'its userinfo endpoint names the account' : 'its ID token names the account';
    throw new LatchkeyError('usage', `--account-name is not used with provider "${provider.name}": ${why}.`);
  }
  if (!provider.oauth2 || userinfo) return;
  if (accountName === undefined) {
    throw new LatchkeyError(
      'usage',
      `Provider "${provider.name}" is plain OAuth 2.0 without a userinfo endpoint, so Latchkey cannot tell who signs in. ` +
        `Name the account: latchkey login --provider ${provider.name} --account-name NAME (or add the provider again with --userinfo-endpoint).`,
    );
  }
  if (!ACCOUNT_NAME.test(accountName)) {
    throw new LatchkeyError('usage', `Account name "${accountName}" must be 1-128 printable characters, not starting with a space.`);
  }
}

const UserInfoSchema = z.record(z.string(), z.unknown());

/** Names the account that `accessToken` belongs to; call {@link assertAccountNaming} first. */
export async function identifyOAuth2Account(
  provider: ProviderRecord,
  config: oidc.Configuration,
  accessToken: string,
  accountName: string | undefined,
): Promise<AccountIdentity> {
  const endpoint = provider.oauth2?.userinfoEndpoint;
  if (!endpoint) return { subject: accountName!, claims: { preferredUsername: accountName! } };
  const info = await fetchUserInfo(provider, config, accessToken, endpoint);
  const wanted = provider.oauth2?.accountClaim;
  const member = wanted ?? ACCOUNT_CLAIMS.find((k) => accountValue(info[k]) !== undefined);
  const subject = member === undefined ? undefined : accountValue(info[member]);
  if (subject === undefined) {
    const which = wanted ? `"${wanted}"` : `any of ${ACCOUNT_CLAIMS.map((k) => `"${k}"`).join(', ')}`;
    throw new LatchkeyError('invalid_response', `The userinfo endpoint of provider "${provider.name}" (${endpoint}) answered without ${which} to name the account; nothing was saved.`);
  }
  const text = (...keys: string[]) => keys.map((k) => info[k]).find((v): v is string => typeof v === 'string' && v.length > 0);
  const claims: AccountRecord['claims'] = {};
  const fields = { name: text('name'), email: text('email'), preferredUsername: text('preferred_username', 'login', 'username'), picture: text('picture', 'avatar_url') };
  for (const [field, value] of Object.entries(fields) as Array<[keyof AccountRecord['claims'], string | undefined]>) if (value) claims[field] = value;
  return { subject, claims };
}

function accountValue(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim()) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

async function fetchUserInfo(provider: ProviderRecord, config: oidc.Configuration, accessToken: string, endpoint: string): Promise<Record<string, unknown>> {
  const garbage = (why: string) =>
    new LatchkeyError('invalid_response', `The userinfo endpoint of provider "${provider.name}" (${endpoint}) did not answer the signed-in user as JSON (${why}); nothing was saved.`);
  let response: Response;
  try {
    response = await (await openidClient()).fetchProtectedResource(config, accessToken, new URL(endpoint), 'GET', undefined, new Headers({ accept: 'application/json' }));
  } catch (err) {
    throw providerFailure(err, 'userinfo request', provider.name);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new LatchkeyError('provider_error', `The userinfo endpoint of provider "${provider.name}" (${endpoint}) answered HTTP ${response.status}; nothing was saved.`);
  }
  const body = await response.text();
  if (body.length > MAX_USERINFO_BYTES) throw garbage('the answer is too large');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw garbage(`it answered ${response.headers.get('content-type') ?? 'something'} that is not JSON`);
  }
  const parsed = UserInfoSchema.safeParse(json);
  if (!parsed.success || Array.isArray(json)) throw garbage('the answer is not a JSON object');
  return parsed.data;
}
