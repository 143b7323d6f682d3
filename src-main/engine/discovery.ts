/**
 * OpenID Provider discovery with a cache. Discovery documents change rarely,
 * and every token request needs one, so the agent keeps each provider's
 * `Configuration` for `ttlMs` and only asks again after that (or after a
 * failure). Plain `http:` issuers are refused except on loopback, where the
 * demo provider and tests live (RFC 8252 §8.3 treats loopback as local).
 *
 * Every discovery, first or repeated, is checked against what the provider's
 * flows need (provider-metadata.ts), and every response body from the
 * provider on the resulting configuration is size-capped (provider-fetch.ts).
 */
import type * as oidc from 'openid-client';
import { openidClient } from './openid-client.js';
import { LatchkeyError } from '../errors.js';
import type { ProviderRecord } from '../store/vault-document.js';
import { configurationFromMetadata, readTokenErrorsAsErrors } from './oauth2-configuration.js';
import { providerFailure } from './provider-errors.js';
import { limitResponseSize, MAX_PROVIDER_RESPONSE_BYTES } from './provider-fetch.js';
import { validateProviderMetadata, type MetadataNeeds } from './provider-metadata.js';

export interface DiscoveryOptions {
  /** How long a discovered configuration is reused. Default 1 hour. */
  ttlMs?: number;
  /** Per-request timeout in seconds for every call to the provider. Default 30. */
  timeoutSeconds?: number;
  fetch?: oidc.CustomFetch;
  /** Cap on any one response body from a provider. Default {@link MAX_PROVIDER_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  now?: () => number;
}

/** What a provider record's flows need from its metadata: sign-in and refresh for people, client credentials for services. */
export function metadataNeedsOf(provider: Pick<ProviderRecord, 'kind' | 'oauth2'>): MetadataNeeds {
  if (provider.kind === 'service') return { flows: ['client_credentials'], openid: false };
  // Endpoints given by hand have no response_types_supported to check; their URLs are still checked.
  if (provider.oauth2?.metadata) return { flows: [], openid: false };
  return { flows: ['authorization_code', 'refresh_token'], openid: !provider.oauth2 };
}

export function isLoopbackUrl(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
}

/** Validates an issuer URL as typed by a person; returns it normalised. */
export function parseIssuerUrl(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new LatchkeyError('usage', `"${issuer}" is not a URL. Give the provider's issuer, e.g. https://accounts.example.com`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
    throw new LatchkeyError('usage', `Issuer ${url.href} must use https (plain http is only allowed on 127.0.0.1 or localhost).`);
  }
  if (url.search || url.hash) throw new LatchkeyError('usage', `Issuer ${url.href} must not have a query or fragment.`);
  return url;
}

/** The global fetch with openid-client's options (whose body type some @types/node versions do not accept as RequestInit). */
const globalFetch: oidc.CustomFetch = (url, options) => fetch(url, options as RequestInit);

export class DiscoveryCache {
  private readonly entries = new Map<string, { config: Promise<oidc.Configuration>; at: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DiscoveryOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** The openid-client configuration for a provider, discovered at most once per TTL. */
  get(provider: ProviderRecord): Promise<oidc.Configuration> {
    const key = `${provider.issuer}\n${provider.clientId}\n${provider.clientSecret ?? ''}\n${provider.oauth2 ? JSON.stringify(provider.oauth2.metadata ?? 'rfc8414') : 'oidc'}`;
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.config;
    const config = this.discover(provider);
    this.entries.set(key, { config, at: this.now() });
    // A failed discovery must not be cached: the next caller tries again.
    config.catch(() => {
      if (this.entries.get(key)?.config === config) this.entries.delete(key);
    });
    return config;
  }

  forget(provider: ProviderRecord): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${provider.issuer}\n`)) this.entries.delete(key);
  }

  private async discover(provider: ProviderRecord): Promise<oidc.Configuration> {
    const issuer = parseIssuerUrl(provider.issuer);
    const openid = await openidClient();
    const metadata: Partial<oidc.ClientMetadata> = {};
    if (provider.clientSecret) metadata.client_secret = provider.clientSecret;
    const clientAuth = provider.clientSecret ? clientSecretAuth(provider.clientSecret) : openid.None();
    const options: oidc.DiscoveryRequestOptions = {
      timeout: this.options.timeoutSeconds ?? 30,
      // openid-client skips ID token signature checks on token endpoint responses by default
      // (OIDC Core §3.1.3.7 lets TLS stand in); Latchkey verifies them against the JWKS anyway.
      execute: issuer.protocol === 'http:' ? [openid.allowInsecureRequests, openid.enableNonRepudiationChecks] : [openid.enableNonRepudiationChecks],
    };
    // Inherited by every later request on this configuration (JWKS, token, userinfo, device).
    const limitedFetch = limitResponseSize(this.options.fetch ?? globalFetch, this.options.maxResponseBytes ?? MAX_PROVIDER_RESPONSE_BYTES);
    options[openid.customFetch] = limitedFetch;
    let config: oidc.Configuration;
    try {
      const plain = provider.oauth2;
      // Plain OAuth 2.0: endpoints given by hand, else RFC 8414 metadata (`/.well-known/oauth-authorization-server`).
      config = plain?.metadata
        ? configurationFromMetadata(openid, provider.issuer, plain.metadata, provider.clientId, metadata, clientAuth)
        : await openid.discovery(issuer, provider.clientId, metadata, clientAuth, plain ? { ...options, algorithm: 'oauth2' } : options);
      config.timeout = this.options.timeoutSeconds ?? 30;
      if (plain) config[openid.customFetch] = readTokenErrorsAsErrors(config.serverMetadata().token_endpoint ?? '', limitedFetch);
    } catch (err) {
      throw providerFailure(err, provider.oauth2 ? `discovery of its RFC 8414 metadata (/.well-known/oauth-authorization-server) at ${issuer.href}` : `discovery at ${issuer.href}`, provider.name);
    }
    validateProviderMetadata(config.serverMetadata(), metadataNeedsOf(provider), provider.name);
    return config;
  }
}

/**
 * application/x-www-form-urlencoded as WHATWG URL defines it, which RFC 6749
 * §2.3.1 asks for in Basic credentials. openid-client's own Basic also encodes
 * unreserved "-", "." and "_" (%2D…), which providers that do not decode the
 * credentials (Glewlwyd) then refuse; this leaves them as they are.
 */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * Client secret authentication: HTTP Basic, which RFC 6749 §2.3.1 requires
 * every provider to accept (openid-client's default, the POST body, is refused
 * by providers that enforce the registered method, e.g. Glewlwyd); the POST
 * body only where the provider lists it and not Basic.
 */
export function clientSecretAuth(secret: string): oidc.ClientAuth {
  const basic: oidc.ClientAuth = (_as, client, _body, headers) => {
    headers.set('authorization', `Basic ${Buffer.from(`${formEncode(client.client_id)}:${formEncode(secret)}`).toString('base64')}`);
  };
  return async (as, client, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported;
    const usePost = methods !== undefined && !methods.includes('client_secret_basic') && methods.includes('client_secret_post');
    // Called only on a request, by which time openid-client is loaded.
    return (usePost ? (await openidClient()).ClientSecretPost(secret) : basic)(as, client, body, headers);
  };
}
