/**
 * OpenID Provider discovery with a cache. Discovery documents change rarely,
 * and every token request needs one, so the agent keeps each provider's
 * `Configuration` for `ttlMs` and only asks again after that (or after a
 * failure). Plain `http:` issuers are refused except on loopback, where the
 * demo provider and tests live (RFC 8252 §8.3 treats loopback as local).
 */
import * as oidc from 'openid-client';
import { LatchkeyError } from '../errors.js';
import type { ProviderRecord } from '../store/vault-document.js';
import { providerFailure } from './provider-errors.js';

export interface DiscoveryOptions {
  /** How long a discovered configuration is reused. Default 1 hour. */
  ttlMs?: number;
  /** Per-request timeout in seconds for every call to the provider. Default 30. */
  timeoutSeconds?: number;
  fetch?: oidc.CustomFetch;
  now?: () => number;
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
    const key = `${provider.issuer}\n${provider.clientId}\n${provider.clientSecret ?? ''}`;
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
    const metadata: Partial<oidc.ClientMetadata> = {};
    if (provider.clientSecret) metadata.client_secret = provider.clientSecret;
    const clientAuth = provider.clientSecret ? undefined : oidc.None();
    const options: oidc.DiscoveryRequestOptions = {
      timeout: this.options.timeoutSeconds ?? 30,
      // openid-client skips ID token signature checks on token endpoint responses by default
      // (OIDC Core §3.1.3.7 lets TLS stand in); Latchkey verifies them against the JWKS anyway.
      execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] : [oidc.enableNonRepudiationChecks],
    };
    if (this.options.fetch) options[oidc.customFetch] = this.options.fetch;
    try {
      const config = await oidc.discovery(issuer, provider.clientId, metadata, clientAuth, options);
      config.timeout = this.options.timeoutSeconds ?? 30;
      return config;
    } catch (err) {
      throw providerFailure(err, `discovery at ${issuer.href}`, provider.name);
    }
  }
}
