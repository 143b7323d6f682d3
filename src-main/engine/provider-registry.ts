/**
 * Adding, listing and removing OpenID providers. A provider is checked with a
 * live discovery request before it is saved, so a typo in the issuer fails now
 * rather than at the first sign-in. Client secrets go into the vault and are
 * never returned by {@link listProviders}.
 */
import { LatchkeyError } from '../errors.js';
import { PROVIDER_NAME, type DocumentStore, type ProviderRecord, type VaultDocument } from '../store/vault-document.js';
import { parseIssuerUrl, type DiscoveryCache } from './discovery.js';
import { OidcEngine } from './oidc-engine.js';
import { isValidScope, normaliseScope } from './scope.js';

export interface AddProviderInput {
  name: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scope?: string;
  redirect?: 'loopback' | 'scheme';
  service?: boolean;
  demo?: boolean;
  /** Replace a provider of the same name instead of failing. */
  replace?: boolean;
}

/** A provider as shown to people: everything but the secret. */
export interface ProviderSummary {
  name: string;
  issuer: string;
  clientId: string;
  hasClientSecret: boolean;
  scope: string;
  redirect: 'loopback' | 'scheme';
  kind: 'user' | 'service';
  demo: boolean;
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
    kind: p.kind,
    demo: Boolean(p.demo),
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
  // Kept as typed (after validation): the discovery document's `issuer` must match it exactly.
  const issuer = input.issuer.trim();
  parseIssuerUrl(issuer);
  if (!input.clientId.trim()) throw new LatchkeyError('usage', 'A client id is required (--client-id).');
  if (input.service && !input.clientSecret) {
    throw new LatchkeyError('usage', 'A service profile uses the client credentials grant and needs --client-secret.');
  }
  if (input.scope !== undefined && input.scope.trim() && !isValidScope(input.scope)) {
    throw new LatchkeyError('usage', `"${input.scope}" is not a valid scope list (space-separated scope tokens).`);
  }
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
  if (input.demo) record.demo = true;
  // Live check: the issuer must answer discovery and claim to be itself (openid-client checks `issuer`).
  discovery.forget(record);
  const config = await discovery.get(record);
  adoptDiscoveredIssuer(record, config.serverMetadata().issuer, store.read().providers);
  record.scope = input.scope !== undefined ? normaliseScope(input.scope) : record.kind === 'service' ? '' : OidcEngine.defaultScope(config.serverMetadata());
  if (record.kind === 'user' && !record.scope.split(' ').includes('openid')) {
    throw new LatchkeyError('usage', 'A sign-in provider needs the "openid" scope; add it to --scope.');
  }
  const doc = await store.update((d) => {
    d.providers = [...d.providers.filter((p) => p.name !== record.name), record];
  });
  return summariseProvider(record, doc);
}

/**
 * Stores the issuer as the discovery document spells it (OIDC Discovery §4.3
 * compares them as URLs, so `https://idp/` and `https://idp` are one issuer),
 * refuses a discovery document's URL given as the issuer, and refuses a
 * second provider that would be the same as an existing one under another name.
 */
function adoptDiscoveredIssuer(record: ProviderRecord, discovered: string, existing: readonly ProviderRecord[]): void {
  if (new URL(discovered).href !== new URL(record.issuer).href) {
    throw new LatchkeyError('usage', `${record.issuer} names the issuer "${discovered}"; add the provider with --issuer ${discovered}.`);
  }
  record.issuer = discovered;
  const same = existing.find((p) => p.name !== record.name && p.issuer === discovered && p.clientId === record.clientId && p.kind === record.kind && p.redirect === record.redirect);
  if (same) {
    throw new LatchkeyError('already_exists', `Provider "${same.name}" is already ${discovered} with client id ${record.clientId}; use it, or remove it first.`);
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
