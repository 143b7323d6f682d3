/**
 * Adding, listing and removing OpenID providers. A provider is checked with a
 * live discovery request before it is saved, so a typo in the issuer fails now
 * rather than at the first sign-in. Client secrets go into the vault and are
 * never returned by {@link listProviders}.
 */
import { isDeepStrictEqual } from 'node:util';
import { LatchkeyError } from '../errors.js';
import { PROVIDER_NAME, type DocumentStore, type ProviderRecord, type VaultDocument } from '../store/vault-document.js';
import { parseIssuerUrl, type DiscoveryCache } from './discovery.js';
import { defaultOAuth2Scope, oauth2SettingsFrom, type OAuth2ProviderInput } from './oauth2-configuration.js';
import { OidcEngine } from './oidc-engine.js';
import { isValidScope, normaliseScope } from './scope.js';

export interface AddProviderInput {
  name: string;
  /** Optional only for a plain OAuth 2.0 provider whose endpoints are given by hand. */
  issuer?: string;
  clientId: string;
  clientSecret?: string;
  scope?: string;
  redirect?: 'loopback' | 'scheme';
  /** See ProviderRecord.loopbackPort. */
  loopbackPort?: number;
  service?: boolean;
  demo?: boolean;
  /** See ProviderRecord: the provider issues refresh tokens without prompt=consent. */
  refreshWithoutConsent?: boolean;
  /** Extra parameters on every browser authorization request. */
  authorizationParams?: Record<string, string>;
  /** The preset that filled this in. */
  preset?: string;
  /** Replace a provider of the same name instead of failing. */
  replace?: boolean;
  /** A plain OAuth 2.0 provider (no OpenID Connect, no ID token). */
  oauth2?: OAuth2ProviderInput;
}

/** A provider as shown to people: everything but the secret. */
export interface ProviderSummary {
  name: string;
  issuer: string;
  clientId: string;
  hasClientSecret: boolean;
  scope: string;
  redirect: 'loopback' | 'scheme';
  /** Set when the provider needs a fixed loopback port (it matches redirect URIs exactly). */
  loopbackPort?: number;
  kind: 'user' | 'service';
  /** `oauth2`: plain OAuth 2.0, accounts named by `userinfoEndpoint` or at sign-in. */
  protocol: 'oidc' | 'oauth2';
  userinfoEndpoint?: string;
  demo: boolean;
  /** Whether sign-ins that ask for offline access skip `prompt=consent` (see engine/offline-access.ts). */
  refreshWithoutConsent: boolean;
  authorizationParams: Record<string, string>;
  preset?: string;
  accounts: number;
}

export function summariseProvider(p: ProviderRecord, doc: VaultDocument): ProviderSummary {
  return {
    name: p.name,
    issuer: p.issuer,
    clientId: p.clientId,
    hasClientSecret: Boolean(p.clientSecret),
    scope: p.scope,
    redirect: p.redirect,
    ...(p.loopbackPort ? { loopbackPort: p.loopbackPort } : {}),
    kind: p.kind,
    protocol: p.oauth2 ? 'oauth2' : 'oidc',
    ...(p.oauth2?.userinfoEndpoint ? { userinfoEndpoint: p.oauth2.userinfoEndpoint } : {}),
    demo: Boolean(p.demo),
    refreshWithoutConsent: Boolean(p.refreshWithoutConsent),
    authorizationParams: { ...p.authorizationParams },
    ...(p.preset ? { preset: p.preset } : {}),
    accounts: doc.accounts.filter((a) => a.provider === p.name).length,
  };
}

export function listProviders(store: DocumentStore<VaultDocument>): ProviderSummary[] {
  const doc = store.read();
  return doc.providers.map((p) => summariseProvider(p, doc));
}

export async function addProvider(
  store: DocumentStore<VaultDocument>,
  discovery: DiscoveryCache,
  input: AddProviderInput,
  now: number = Date.now(),
): Promise<ProviderSummary> {
  if (!PROVIDER_NAME.test(input.name)) {
    throw new LatchkeyError('usage', `Provider name "${input.name}" must be 1-32 lowercase letters, digits, "-" or "_", starting with a letter or digit.`);
  }
  const oauth2 = input.oauth2 ? oauth2SettingsFrom(input.oauth2, input.issuer?.trim()) : undefined;
  // Kept as typed (after validation): the discovery document's `issuer` must match it exactly.
  const issuer = oauth2?.issuer ?? input.issuer?.trim() ?? '';
  if (!issuer) throw new LatchkeyError('usage', 'An issuer is required (--issuer).');
  parseIssuerUrl(issuer);
  if (!input.clientId.trim()) throw new LatchkeyError('usage', 'A client id is required (--client-id).');
  if (input.service && !input.clientSecret) {
    throw new LatchkeyError('usage', 'A service profile uses the client credentials grant and needs --client-secret.');
  }
  if (input.scope !== undefined && input.scope.trim() && !isValidScope(input.scope)) {
    throw new LatchkeyError('usage', `"${input.scope}" is not a valid scope list (space-separated scope tokens).`);
  }
  checkAuthorizationParams(input.authorizationParams);
  if (!input.replace && store.read().providers.some((p) => p.name === input.name)) {
    throw new LatchkeyError('already_exists', `A provider named "${input.name}" already exists. Remove it first, or pick another name.`);
  }
  const record: ProviderRecord = {
    name: input.name,
    issuer,
    clientId: input.clientId.trim(),
    scope: '',
    redirect: input.redirect ?? 'loopback',
    kind: input.service ? 'service' : 'user',
    createdAt: now,
  };
  if (input.clientSecret) record.clientSecret = input.clientSecret;
  if (input.loopbackPort !== undefined) {
    if (!Number.isInteger(input.loopbackPort) || input.loopbackPort < 1 || input.loopbackPort > 65535) {
      throw new LatchkeyError('usage', `Loopback port ${input.loopbackPort} is not a port number (1-65535).`);
    }
    record.loopbackPort = input.loopbackPort;
  }
  if (input.demo) record.demo = true;
  if (input.refreshWithoutConsent) record.refreshWithoutConsent = true;
  if (input.authorizationParams && Object.keys(input.authorizationParams).length) record.authorizationParams = { ...input.authorizationParams };
  if (input.preset) record.preset = input.preset;
  if (oauth2) record.oauth2 = oauth2.settings;
  // Live check (for endpoints given by hand there is nothing to ask before the first sign-in): the issuer must answer discovery and claim to be itself (openid-client checks `issuer`).
  discovery.forget(record);
  const config = await discovery.get(record);
  adoptDiscoveredIssuer(record, config.serverMetadata().issuer);
  const defaultScope = oauth2 ? defaultOAuth2Scope(config.serverMetadata()) : OidcEngine.defaultScope(config.serverMetadata());
  record.scope = input.scope !== undefined ? normaliseScope(input.scope) : record.kind === 'service' ? '' : defaultScope;
  if (oauth2 && record.scope.split(' ').includes('openid')) {
    throw new LatchkeyError('usage', 'A plain OAuth 2.0 provider is signed in to without OpenID Connect: drop "openid" from --scope, or add the provider without --oauth2.');
  }
  if (record.kind === 'user' && !oauth2 && !record.scope.split(' ').includes('openid')) {
    throw new LatchkeyError('usage', 'A sign-in provider needs the "openid" scope; add it to --scope.');
  }
  // Last of the checks: errors in the input itself say more than "it exists".
  refuseSecondCopy(record, store.read().providers);
  const doc = await store.update((d) => {
    d.providers = [...d.providers.filter((p) => p.name !== record.name), record];
  });
  return summariseProvider(record, doc);
}

/**
 * The parameters the engine sets itself (RFC 6749 §4.1.1, RFC 7636, OIDC Core
 * §3.1.2.1) cannot be fixed per provider: a fixed `state` or `nonce` would undo
 * their protection, and `prompt` is chosen per sign-in.
 */
const ENGINE_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'max_age', 'login_hint', 'resource', 'request', 'request_uri']);

function checkAuthorizationParams(params: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(params ?? {})) {
    if (ENGINE_PARAMS.has(name)) throw new LatchkeyError('usage', `The authorization parameter "${name}" is set by Latchkey for each sign-in and cannot be fixed for a provider.`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || !value || value.length > 2048) {
      throw new LatchkeyError('usage', `Invalid authorization parameter ${JSON.stringify(name).slice(0, 80)}.`);
    }
  }
}

/**
 * Stores the issuer as the discovery document spells it (OIDC Discovery §4.3
 * compares them as URLs, so `https://idp/` and `https://idp` are one issuer)
 * and refuses a discovery document's URL given as the issuer.
 */
function adoptDiscoveredIssuer(record: ProviderRecord, discovered: string): void {
  if (new URL(discovered).href !== new URL(record.issuer).href) {
    throw new LatchkeyError('usage', `${record.issuer} names the issuer "${discovered}"; add the provider with --issuer ${discovered}.`);
  }
  record.issuer = discovered;
}

/**
 * What makes sign-ins through two providers differ. The name, the preset that
 * filled the settings in, the demo mark and the secret do not: a provider
 * equal in all of these is a second copy of one already stored (e.g. the same
 * issuer typed with a trailing slash). Two providers for one client that ask
 * differently (another scope, `prompt=consent` or not, OIDC or plain OAuth 2.0,
 * other endpoints) are each useful and both kept.
 */
function signInSettings(p: ProviderRecord): unknown {
  return [p.issuer, p.clientId, p.kind, p.redirect, p.loopbackPort ?? null, p.scope, !!p.refreshWithoutConsent, p.authorizationParams ?? {}, p.oauth2 ?? null];
}

function refuseSecondCopy(record: ProviderRecord, existing: readonly ProviderRecord[]): void {
  const settings = signInSettings(record);
  const same = existing.find((p) => p.name !== record.name && isDeepStrictEqual(signInSettings(p), settings));
  if (same) {
    throw new LatchkeyError('already_exists', `Provider "${same.name}" is already ${record.issuer} with client id ${record.clientId}; use it, or remove it first.`);
  }
}

/** Removes a provider; refuses while accounts use it unless `force` (then the caller signs them out first). */
export async function removeProvider(store: DocumentStore<VaultDocument>, name: string): Promise<void> {
  const doc = store.read();
  if (!doc.providers.some((p) => p.name === name)) {
    throw new LatchkeyError('not_found', `No provider named "${name}". See \`latchkey provider list\`.`);
  }
  const accounts = doc.accounts.filter((a) => a.provider === name);
  if (accounts.length) {
    throw new LatchkeyError(
      'usage',
      `Provider "${name}" still has ${accounts.length} signed-in account(s): ${accounts.map((a) => a.id).join(', ')}. Sign them out first (latchkey logout --account ID), or use --force.`,
    );
  }
  await store.update((d) => {
    d.providers = d.providers.filter((p) => p.name !== name);
  });
}
