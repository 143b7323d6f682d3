/**
 * A token request and a token as they cross the socket: the one wire shape of
 * each, shared by the app methods (`tokens.get`, `tokens.tryGet`) and the
 * owner's `admin.token`, and the one converter between each and the engine's
 * types. Wire fields are snake_case; times are epoch seconds (`expires_at`)
 * and durations seconds (`min_ttl`, `max_age`), as docs/protocol.md says.
 * The SDK converts between these and its public camelCase types in
 * sdk/latchkey-client.ts.
 *
 * Never a refresh token: {@link WireToken} has no field for one.
 */
import { z } from 'zod';
import type { TokenRequest, TokenResult } from '../engine/oidc-engine.js';

/** Durations in seconds, up to ten years. */
export const seconds = z.number().int().min(0).max(10 * 365 * 86_400);

/** RFC 8707: an absolute URI without a fragment. */
const resource = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return !u.hash && !s.includes('#');
    } catch {
      return false;
    }
  }, 'must be an absolute URI without a fragment (RFC 8707)');

/** The fields of a token request; the owner's `admin.token` adds its own (see owner-contract.ts). */
export const tokenRequestFields = {
  provider: z.string().min(1).max(64).optional(),
  /** An account id, or the account's email address. */
  account: z.string().min(1).max(256).optional(),
  scope: z.string().trim().min(1).max(2048).optional(),
  resource: resource.optional(),
  /** Seconds the returned access token must still be valid. */
  min_ttl: seconds.optional(),
  /** Re-authenticate if the person's sign-in is older than this (OIDC `max_age`, seconds). */
  max_age: seconds.optional(),
};

/** `tokens.get` / `tokens.tryGet` params. */
export const tokenRequestSchema = z.object(tokenRequestFields).strict();

/** A token request as sent (what a client builds). */
export type WireTokenRequest = z.input<typeof tokenRequestSchema>;

/** What the agent reads from a validated token request, whichever method carried it. */
type ParsedTokenRequest = Pick<z.output<typeof tokenRequestSchema>, keyof typeof tokenRequestFields>;

/** What `tokens.get`, `tokens.tryGet` and `admin.token` return: like a token endpoint response, minus the refresh token. */
export interface WireToken {
  access_token: string;
  token_type: string;
  /** Epoch seconds (the engine's `expiresAtMs` is milliseconds). */
  expires_at?: number;
  scope: string;
  resource?: string;
  id_token?: string;
  account?: string;
}

/** Wire → engine: the one reading of a token request, for app and owner methods alike. Never sets the app owner tag: the broker does, from the proven app. */
export function fromWireTokenRequest(p: ParsedTokenRequest): Omit<TokenRequest, 'tokenOwner'> {
  const r: Omit<TokenRequest, 'tokenOwner'> = {};
  if (p.provider) r.provider = p.provider;
  if (p.account) r.account = p.account;
  if (p.scope) r.scope = p.scope;
  if (p.resource) r.resource = p.resource;
  if (p.min_ttl !== undefined) r.minTtl = p.min_ttl;
  if (p.max_age !== undefined) r.maxAge = p.max_age;
  return r;
}

/** Client → wire: the one writing of a token request (the SDK's request has these fields under the same names), the inverse of {@link fromWireTokenRequest}. */
export function toWireTokenRequest(r: Omit<TokenRequest, 'tokenOwner'>): WireTokenRequest {
  const p: WireTokenRequest = {};
  if (r.provider) p.provider = r.provider;
  if (r.account) p.account = r.account;
  if (r.scope) p.scope = r.scope;
  if (r.resource) p.resource = r.resource;
  if (r.minTtl !== undefined) p.min_ttl = r.minTtl;
  if (r.maxAge !== undefined) p.max_age = r.maxAge;
  return p;
}

/** Engine → wire: the one writing of a token, for app and owner methods alike. */
export function toWireToken(t: TokenResult): WireToken {
  const wire: WireToken = { access_token: t.accessToken, token_type: t.tokenType, scope: t.scope };
  if (t.expiresAtMs !== undefined) wire.expires_at = Math.floor(t.expiresAtMs / 1000);
  if (t.resource) wire.resource = t.resource;
  if (t.idToken) wire.id_token = t.idToken;
  if (t.account) wire.account = t.account;
  return wire;
}
