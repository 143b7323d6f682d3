/** Tokens as they cross the socket: snake_case, epoch seconds, never a refresh token. */
import type { TokenResult } from '../engine/oidc-engine.js';
import type { WireToken } from './admin-contract.js';

export function toWireToken(t: TokenResult): WireToken {
  const wire: WireToken = { access_token: t.accessToken, token_type: t.tokenType, scope: t.scope };
  if (t.expiresAtMs !== undefined) wire.expires_at = Math.floor(t.expiresAtMs / 1000);
  if (t.resource) wire.resource = t.resource;
  if (t.idToken) wire.id_token = t.idToken;
  if (t.account) wire.account = t.account;
  return wire;
}
