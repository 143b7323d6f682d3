/**
 * Plain OAuth 2.0 providers (no OpenID Connect): their openid-client
 * configuration and the checks on endpoints a person types in. It enforces:
 * - endpoint URLs are absolute `https:` (plain `http:` only on loopback, as
 *   for issuers) without a fragment (RFC 6749 §3.1, §3.2);
 * - authorization and token endpoints come together; the device authorization
 *   and revocation endpoints only with them;
 * - a token endpoint answering an error with HTTP 200 (GitHub does) is read
 *   as the error it is (RFC 6749 §5.2), so device polling keeps waiting.
 */
import type * as oidc from 'openid-client';
import { LatchkeyError } from '../errors.js';
import type { OAuth2Settings, ProviderRecord } from '../store/vault-document.js';
import { isLoopbackUrl } from './discovery.js';

export type OAuth2Metadata = NonNullable<OAuth2Settings['metadata']>;

/** What a person gives for a plain OAuth 2.0 provider, with the option names they typed. */
export interface OAuth2EndpointsInput {
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  deviceAuthorizationEndpoint?: string;
  revocationEndpoint?: string;
}

export function isPlainOAuth2(provider: ProviderRecord): boolean {
  return provider.oauth2 !== undefined;
}

/** Validates an endpoint URL as typed; `option` names the flag in the message. */
export function parseEndpointUrl(value: string, option: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new LatchkeyError('usage', `${option}: "${value}" is not an absolute URL.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
    throw new LatchkeyError('usage', `${option}: ${url.href} must use https (plain http is only allowed on 127.0.0.1 or localhost).`);
  }
  if (url.hash || value.includes('#')) throw new LatchkeyError('usage', `${option}: ${url.href} must not have a fragment.`);
  if (url.username || url.password) throw new LatchkeyError('usage', `${option}: ${url.href} must not carry a user name or password.`);
  return url.href;
}

/**
 * The hand-given endpoints as RFC 8414 metadata, or undefined when none were
 * given (the provider is then discovered from its issuer).
 */
export function oauth2MetadataFrom(input: OAuth2EndpointsInput): OAuth2Metadata | undefined {
  const { authorizationEndpoint, tokenEndpoint, deviceAuthorizationEndpoint, revocationEndpoint } = input;
  if (!authorizationEndpoint && !tokenEndpoint) {
    if (deviceAuthorizationEndpoint || revocationEndpoint) {
      throw new LatchkeyError('usage', '--device-authorization-endpoint and --revocation-endpoint need --authorization-endpoint and --token-endpoint.');
    }
    return undefined;
  }
  if (!authorizationEndpoint || !tokenEndpoint) {
    throw new LatchkeyError('usage', 'Give both --authorization-endpoint and --token-endpoint (or neither, to read the RFC 8414 metadata from --issuer).');
  }
  const metadata: OAuth2Metadata = {
    authorization_endpoint: parseEndpointUrl(authorizationEndpoint, '--authorization-endpoint'),
    token_endpoint: parseEndpointUrl(tokenEndpoint, '--token-endpoint'),
  };
  if (deviceAuthorizationEndpoint) metadata.device_authorization_endpoint = parseEndpointUrl(deviceAuthorizationEndpoint, '--device-authorization-endpoint');
  if (revocationEndpoint) metadata.revocation_endpoint = parseEndpointUrl(revocationEndpoint, '--revocation-endpoint');
  return metadata;
}

/** The issuer that names a hand-configured server when none was given: the authorization endpoint's origin. */
export function issuerFromMetadata(metadata: OAuth2Metadata): string {
  return new URL(metadata.authorization_endpoint).origin;
}

/**
 * The openid-client configuration for endpoints given by hand (no discovery
 * request). `issuer` is what `iss` in an authorization response must equal
 * when the server sends one (RFC 9207). `openid` is openid-client as
 * openid-client.ts loaded it.
 */
export function configurationFromMetadata(
  openid: typeof oidc,
  issuer: string,
  metadata: OAuth2Metadata,
  clientId: string,
  clientMetadata: Partial<oidc.ClientMetadata>,
  clientAuth: oidc.ClientAuth | undefined,
): oidc.Configuration {
  const config = new openid.Configuration({ issuer, ...metadata }, clientId, clientMetadata, clientAuth);
  // Validated at `provider add`: http only ever points at loopback here.
  if ([issuer, ...Object.values(metadata)].some((u) => new URL(u).protocol === 'http:')) openid.allowInsecureRequests(config);
  return config;
}

/**
 * Wraps `fetch` so that a 200 answer from the token endpoint that carries an
 * OAuth `error` and no `access_token` becomes the 400 RFC 6749 §5.2 asks for.
 * GitHub answers `authorization_pending` this way while a device sign-in
 * waits; read as a success, it would end the sign-in with "no access_token".
 */
export function readTokenErrorsAsErrors(tokenEndpoint: string, fetchImpl: oidc.CustomFetch): oidc.CustomFetch {
  return async (url, init) => {
    const response = await fetchImpl(url, init);
    if (response.status !== 200 || url.split('?')[0] !== tokenEndpoint.split('?')[0]) return response;
    const body: unknown = await response
      .clone()
      .json()
      .catch(() => undefined);
    if (!body || typeof body !== 'object' || typeof (body as { error?: unknown }).error !== 'string' || 'access_token' in body) return response;
    return new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/json' } });
  };
}

/** What `provider add --oauth2` takes besides the common fields. */
export interface OAuth2ProviderInput extends OAuth2EndpointsInput {
  userinfoEndpoint?: string;
  accountClaim?: string;
  /** See `assumedTokenLifetimeSeconds` and `scopeDelimiter` in store/vault-document.ts; set by presets. */
  assumedTokenLifetimeSeconds?: number;
  scopeDelimiter?: ',';
}

/**
 * The stored settings and the issuer for a plain OAuth 2.0 provider: the
 * issuer as given, else (endpoints by hand only) the authorization endpoint's origin.
 */
export function oauth2SettingsFrom(input: OAuth2ProviderInput, issuer: string | undefined): { settings: OAuth2Settings; issuer: string } {
  const metadata = oauth2MetadataFrom(input);
  if (!metadata && !issuer) {
    throw new LatchkeyError('usage', 'A plain OAuth 2.0 provider needs --issuer (to read its RFC 8414 metadata) or --authorization-endpoint and --token-endpoint.');
  }
  const settings: OAuth2Settings = {};
  if (metadata) settings.metadata = metadata;
  if (input.userinfoEndpoint) settings.userinfoEndpoint = parseEndpointUrl(input.userinfoEndpoint, '--userinfo-endpoint');
  if (input.accountClaim !== undefined) {
    if (!input.userinfoEndpoint) throw new LatchkeyError('usage', '--account-claim names a member of the userinfo answer; it needs --userinfo-endpoint.');
    if (!/^[\w.:-]{1,64}$/.test(input.accountClaim)) throw new LatchkeyError('usage', `--account-claim "${input.accountClaim}" is not a JSON member name like "login" or "id".`);
    settings.accountClaim = input.accountClaim;
  }
  if (input.assumedTokenLifetimeSeconds !== undefined) settings.assumedTokenLifetimeSeconds = input.assumedTokenLifetimeSeconds;
  if (input.scopeDelimiter) settings.scopeDelimiter = input.scopeDelimiter;
  return { settings, issuer: issuer ?? issuerFromMetadata(metadata!) };
}

/** The `scope` of a token response as RFC 6749 §3.3 spells it (space-separated), for providers that use commas. */
export function grantedScopeOf(provider: ProviderRecord, scope: string | undefined): string | undefined {
  return scope && provider.oauth2?.scopeDelimiter === ',' ? scope.replaceAll(',', ' ') : scope;
}

/** Default scope for a plain OAuth 2.0 provider: `offline_access` where offered (for a refresh token), else none. */
export function defaultOAuth2Scope(metadata: oidc.ServerMetadata): string {
  return metadata.scopes_supported?.includes('offline_access') ? 'offline_access' : '';
}
