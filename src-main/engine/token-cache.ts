/** Which cached access token fits a request, and how the cache stays bounded. */
import type { AccessTokenRecord } from '../store/vault-document.js';

/** When a provider omits `expires_in` we assume a short life rather than forever. */
export const ASSUMED_LIFETIME_MS = 5 * 60 * 1000;
/** Cached access tokens kept per account; the oldest are dropped first. */
export const MAX_TOKENS_PER_ACCOUNT = 64;

export interface TokenRequestKey {
  scope: string;
  resource?: string | undefined;
  /** `<app id> <key fingerprint>`, stored in the record's `appId` (see TokenRequest.tokenOwner). */
  tokenOwner?: string | undefined;
}

export function sameKey(t: AccessTokenRecord, key: TokenRequestKey): boolean {
  return t.scope === key.scope && t.resource === key.resource && t.appId === key.tokenOwner;
}

export function cacheKey(accountId: string, key: TokenRequestKey): string {
  return JSON.stringify([accountId, key.scope, key.resource ?? null, key.tokenOwner ?? null]);
}

/** Buckets only narrow the search (sameKey still decides), so a separator that also occurs in a value is harmless. */
function bucketOf(key: TokenRequestKey): string {
  return `${key.scope}\n${key.resource ?? ''}\n${key.tokenOwner ?? ''}`;
}

/** The key a stored token answers: the record keeps its token owner under its stored name, `appId`. */
function keyOf(t: AccessTokenRecord): TokenRequestKey {
  return { scope: t.scope, resource: t.resource, tokenOwner: t.appId };
}

/**
 * Each account's frozen token list, bucketed by key: an app's cache hit looks
 * in its own bucket instead of scanning up to 64 tokens (`find` over frozen
 * arrays is slow on Node 20). The vault replaces the list on every change.
 */
const buckets = new WeakMap<readonly AccessTokenRecord[], Map<string, AccessTokenRecord[]>>();

function candidatesFor(tokens: readonly AccessTokenRecord[], key: TokenRequestKey): readonly AccessTokenRecord[] {
  if (!Object.isFrozen(tokens)) return tokens;
  let byKey = buckets.get(tokens);
  if (!byKey) {
    byKey = new Map();
    for (const t of tokens) {
      const bucket = bucketOf(keyOf(t));
      const list = byKey.get(bucket);
      if (list) list.push(t);
      else byKey.set(bucket, [t]);
    }
    buckets.set(tokens, byKey);
  }
  return byKey.get(bucketOf(key)) ?? [];
}

function expiryOf(t: AccessTokenRecord): number {
  return t.expiresAt ?? t.obtainedAt + ASSUMED_LIFETIME_MS;
}

/**
 * A token fits if it was minted for exactly this scope/resource/app and lives
 * at least `minTtlMs` more. Unless `exact`, the minimum is at most half the
 * token's issued lifetime: a provider issuing 30-second tokens must not cause
 * a refresh on every call under the default 60 s. `exact` is for a minimum the
 * caller asked for explicitly (`--min-ttl`), which is honoured as given.
 */
export function findFittingToken(
  tokens: readonly AccessTokenRecord[],
  key: TokenRequestKey,
  now: number,
  minTtlMs: number,
  exact = false,
): AccessTokenRecord | undefined {
  return candidatesFor(tokens, key).find((t) => {
    if (!sameKey(t, key)) return false;
    const expiry = expiryOf(t);
    return expiry - now >= (exact ? minTtlMs : Math.min(minTtlMs, (expiry - t.obtainedAt) / 2));
  });
}

/** The token for exactly this key, valid or not. */
export function findTokenFor(tokens: readonly AccessTokenRecord[], key: TokenRequestKey): AccessTokenRecord | undefined {
  return candidatesFor(tokens, key).find((t) => sameKey(t, key));
}

/** Milliseconds a token has left (negative once expired). */
export function remainingMs(t: AccessTokenRecord, now: number): number {
  return expiryOf(t) - now;
}

/** Replaces the token for the same key and trims the list. */
export function upsertToken(tokens: readonly AccessTokenRecord[], token: AccessTokenRecord): AccessTokenRecord[] {
  const key = keyOf(token);
  const rest = tokens.filter((t) => !sameKey(t, key));
  return [token, ...rest].slice(0, MAX_TOKENS_PER_ACCOUNT);
}

export function expiresAtFrom(expiresIn: number | undefined, now: number): number {
  return expiresIn === undefined ? now + ASSUMED_LIFETIME_MS : now + expiresIn * 1000;
}
