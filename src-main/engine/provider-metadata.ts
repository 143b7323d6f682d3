/**
 * Checks a provider's metadata (its discovery document) before Latchkey relies
 * on it, at `provider add` and at every re-discovery. openid-client checks the
 * `issuer`; this checks what the flows in use need.
 *
 * Enforces:
 * - every endpoint in the document (each `*_endpoint` field and `jwks_uri`) is
 *   an absolute https URL, or http on loopback (RFC 8252 §8.3): a `file:` or
 *   `javascript:` authorization endpoint would otherwise reach the browser, and
 *   a plain-http token endpoint would carry refresh tokens in clear;
 * - each flow's required fields are present, and the error names the first
 *   one missing:
 *   - every flow: `token_endpoint`;
 *   - authorization code: `authorization_endpoint`, and `response_types_supported`
 *     listing `code` (REQUIRED by RFC 8414 §2 and OIDC Discovery §3);
 *   - device code: `device_authorization_endpoint` (RFC 8628 §4);
 *   - OpenID Connect (ID tokens): `jwks_uri` (OIDC Discovery §3), without
 *     which no ID token signature can be checked.
 *
 * Takes the flows as input so plain OAuth 2.0 providers (RFC 8414, no ID
 * tokens) are checked by the same function.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
 */
import { LatchkeyError } from '../errors.js';
import { isLoopbackUrl } from './discovery.js';

/** The OAuth grants Latchkey may use with a provider. */
export type ProviderFlow = 'authorization_code' | 'refresh_token' | 'device_code' | 'client_credentials';

export interface MetadataNeeds {
  flows: readonly ProviderFlow[];
  /** The provider issues ID tokens that Latchkey verifies (OpenID Connect). */
  openid: boolean;
}

const FLOW_NAMES: Record<ProviderFlow, string> = {
  authorization_code: 'sign-in (authorization code flow)',
  refresh_token: 'token refresh',
  device_code: 'device sign-in (RFC 8628)',
  client_credentials: 'the client credentials grant',
};

/**
 * Throws `invalid_response` naming the field when `metadata` lacks what
 * `needs` requires or has an endpoint Latchkey must not use.
 */
export function validateProviderMetadata(metadata: Readonly<Record<string, unknown>>, needs: MetadataNeeds, provider: string): void {
  for (const [field, value] of Object.entries(metadata)) {
    if (field.endsWith('_endpoint') || field === 'jwks_uri') checkEndpoint(provider, field, value);
  }
  const { flows } = needs;
  for (const flow of flows) {
    requireField(metadata, provider, 'token_endpoint', FLOW_NAMES[flow]);
    if (flow === 'device_code') requireField(metadata, provider, 'device_authorization_endpoint', FLOW_NAMES[flow]);
    if (flow === 'authorization_code') {
      requireField(metadata, provider, 'authorization_endpoint', FLOW_NAMES[flow]);
      const types = requireField(metadata, provider, 'response_types_supported', FLOW_NAMES[flow]);
      if (!Array.isArray(types) || !types.includes('code')) {
        throw invalid(provider, `its response_types_supported does not list "code", which ${FLOW_NAMES[flow]} needs`);
      }
    }
  }
  if (needs.openid) requireField(metadata, provider, 'jwks_uri', 'checking ID token signatures');
}

function requireField(metadata: Readonly<Record<string, unknown>>, provider: string, field: string, purpose: string): unknown {
  const value = metadata[field];
  if (value === undefined || value === null || value === '') throw invalid(provider, `it has no ${field}, which ${purpose} needs`);
  return value;
}

function checkEndpoint(provider: string, field: string, value: unknown): void {
  const url = typeof value === 'string' ? URL.parse(value) : null;
  if (!url) throw invalid(provider, `its ${field} is not an absolute URL`);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackUrl(url))) return;
  throw invalid(provider, `its ${field} uses ${url.protocol.replace(/:$/, '')}: (${truncate(url.href)}); endpoints must use https, or http on 127.0.0.1, [::1] or localhost`);
}

function invalid(provider: string, why: string): LatchkeyError {
  return new LatchkeyError('invalid_response', `Provider "${provider}" has unusable metadata (discovery document): ${why}.`);
}

/** Keeps a hostile value from flooding the message. */
function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
