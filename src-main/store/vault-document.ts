/**
 * The document the vault encrypts: providers, accounts with their tokens, and
 * (for the broker) app grants and the audit log. Parsed with zod every time it
 * is decrypted, so a vault written by a newer or broken build fails loudly
 * instead of being half-understood.
 */
import { z } from 'zod';

export const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/**
 * A plain OAuth 2.0 provider's settings (no OpenID Connect, so no ID token).
 * The record's `issuer` then names the authorization server: its RFC 8414
 * metadata is discovered from it, unless `metadata` gives the endpoints by hand.
 */
export const OAuth2SettingsSchema = z.object({
  /** Endpoints given by hand, under their RFC 8414 §2 metadata names. */
  metadata: z
    .object({
      authorization_endpoint: z.string().url(),
      token_endpoint: z.string().url(),
      device_authorization_endpoint: z.string().url().optional(),
      revocation_endpoint: z.string().url().optional(),
    })
    .optional(),
  /** A URL answering the signed-in user as JSON (GitHub's `/user` style); it names the account. */
  userinfoEndpoint: z.string().url().optional(),
  /** Which member of that JSON names the account; default the first present of `sub`, `id`, `login`, `email`. */
  accountClaim: z.string().min(1).optional(),
  /**
   * Seconds an access token is taken to live when the token response has no
   * `expires_in` (RFC 6749 §5.1 only recommends it). GitHub OAuth-app tokens
   * have none and do not expire; without this, 5 minutes are assumed.
   */
  assumedTokenLifetimeSeconds: z.number().int().positive().optional(),
  /** GitHub lists granted scopes comma-separated in token responses (RFC 6749 §3.3 says space). */
  scopeDelimiter: z.literal(',').optional(),
});
export type OAuth2Settings = z.infer<typeof OAuth2SettingsSchema>;

export const ProviderRecordSchema = z.object({
  name: z.string().regex(PROVIDER_NAME),
  issuer: z.string().url(),
  clientId: z.string().min(1),
  /** Only for confidential clients; never leaves the agent. */
  clientSecret: z.string().min(1).optional(),
  /** Default scope; may be empty for a service profile. */
  scope: z.string(),
  redirect: z.enum(['loopback', 'scheme']),
  /**
   * A fixed loopback port, for providers that match redirect URIs exactly and
   * so cannot allow any port as RFC 8252 §7.3 asks (e.g. Glewlwyd). Unset: a
   * port chosen by the OS for each sign-in.
   */
  loopbackPort: z.number().int().min(1).max(65535).optional(),
  /** `service` profiles use the client credentials grant instead of a user sign-in. */
  kind: z.enum(['user', 'service']),
  /** Set for the built-in demo provider, which the agent starts itself. */
  demo: z.boolean().optional(),
  /**
   * The provider issues refresh tokens for `offline_access` without
   * `prompt=consent` (OIDC Core §11 lets it require one), so sign-ins need not
   * show its consent page every time. See engine/offline-access.ts.
   */
  refreshWithoutConsent: z.boolean().optional(),
  /** Extra parameters on every browser authorization request, e.g. Google's `access_type=offline`, Auth0's `audience`. */
  authorizationParams: z.record(z.string(), z.string()).optional(),
  /** The preset that filled this provider in (engine/provider-presets.ts), for display. */
  preset: z.string().optional(),
  /** Present for plain OAuth 2.0 providers; absent for OpenID Connect ones. */
  oauth2: OAuth2SettingsSchema.optional(),
  createdAt: z.number(),
});
export type ProviderRecord = z.infer<typeof ProviderRecordSchema>;

export const AccessTokenRecordSchema = z.object({
  accessToken: z.string().min(1),
  tokenType: z.string(),
  /** Epoch milliseconds; undefined when the provider did not say. */
  expiresAt: z.number().optional(),
  /** The scope the provider granted for this token (space-separated, sorted). */
  scope: z.string(),
  resource: z.string().optional(),
  /**
   * Which app this token was minted for, as `<app id> <key fingerprint>` (the
   * broker's token owner, not the bare app id; the stored name stays for
   * existing vaults); undefined for the user's own (CLI) tokens.
   */
  appId: z.string().optional(),
  obtainedAt: z.number(),
});
export type AccessTokenRecord = z.infer<typeof AccessTokenRecordSchema>;

export const AccountRecordSchema = z.object({
  id: z.string().min(1),
  provider: z.string(),
  subject: z.string().min(1),
  claims: z.object({
    name: z.string().optional(),
    email: z.string().optional(),
    preferredUsername: z.string().optional(),
    picture: z.string().optional(),
  }),
  status: z.enum(['active', 'sign_in_needed']),
  /** The scope granted at sign-in; narrower tokens are minted from it. */
  scope: z.string(),
  /** OIDC `auth_time` in epoch seconds, for `max_age` checks. */
  authTime: z.number().optional(),
  refreshToken: z.string().optional(),
  idToken: z.string().optional(),
  tokens: z.array(AccessTokenRecordSchema),
  createdAt: z.number(),
  updatedAt: z.number(),
  lastError: z.string().optional(),
});
export type AccountRecord = z.infer<typeof AccountRecordSchema>;

/**
 * A local app's remembered permission: this app (proven by its key, and on
 * Linux by its executable) may get tokens for this account with at most these
 * scopes, for this resource. Only "always" grants are stored.
 */
export const GrantRecordSchema = z.object({
  id: z.string().min(1),
  appId: z.string().min(1),
  /** The name the app claimed when the grant was made; shown as claimed, never trusted. */
  appName: z.string(),
  /** Ed25519 public key (base64url) the app proved possession of. */
  publicKey: z.string().min(1),
  /** Linux: the executable (and its SHA-256) of the process that was granted; a changed binary is asked again. */
  exePath: z.string().optional(),
  exeSha256: z.string().optional(),
  account: z.string().min(1),
  scope: z.string(),
  resource: z.string().optional(),
  mode: z.literal('always'),
  createdAt: z.number(),
  lastUsedAt: z.number().optional(),
});
export type GrantRecord = z.infer<typeof GrantRecordSchema>;

export const AuditEntrySchema = z.object({
  at: z.number(),
  appId: z.string(),
  appName: z.string().optional(),
  /** The key the app proved (short SSH-style fingerprint): who it really was, whatever name it claimed. */
  keyFingerprint: z.string().optional(),
  account: z.string().optional(),
  scope: z.string().optional(),
  resource: z.string().optional(),
  /**
   * What happened: a token was given (from cache, refresh or a fresh sign-in), or access was denied or
   * revoked; or an app asked that looks like an impostor of one allowed before (broker/impostor-check.ts).
   */
  event: z.enum(['token_issued', 'consent_granted', 'consent_denied', 'denied', 'grant_revoked', 'token_revoked', 'key_changed', 'executable_changed', 'name_clash']),
  detail: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** Temporary AWS credentials from STS AssumeRoleWithWebIdentity, handed out again while they last (agent/aws-credentials.ts). */
export const StsSessionRecordSchema = z.object({
  /** Account, role, session name, token kind and endpoint: what makes two requests the same. */
  key: z.string(),
  account: z.string(),
  roleArn: z.string(),
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1),
  /** Epoch milliseconds. */
  expiresAt: z.number(),
});
export type StsSessionRecord = z.infer<typeof StsSessionRecordSchema>;

export const VaultDocumentSchema = z.object({
  schema: z.literal(1),
  providers: z.array(ProviderRecordSchema),
  accounts: z.array(AccountRecordSchema),
  grants: z.array(GrantRecordSchema).default([]),
  /** Key of the audit log file (store/audit-log.ts), so the log is as private as the vault. */
  auditKey: z.string().optional(),
  /** Only in vaults of earlier versions; moved to the audit log file on open. */
  audit: z.array(AuditEntrySchema).default([]),
  stsSessions: z.array(StsSessionRecordSchema).default([]),
});
export type VaultDocument = z.infer<typeof VaultDocumentSchema>;

/**
 * Names the rules of {@link VaultDocumentSchema} for the vault's `rulesId`:
 * the vault reads a document it wrote under the same rules without parsing it
 * again. Change it with any change to the schema (vault-document.test.ts pins
 * the schema to it and fails until you do), or a document written under the
 * old rules would be trusted as meeting the new ones.
 */
export const VAULT_DOCUMENT_RULES = 'latchkey-vault-document/1';

export function emptyVaultDocument(): VaultDocument {
  return { schema: 1, providers: [], accounts: [], grants: [], audit: [], stsSessions: [] };
}

export function parseVaultDocument(raw: unknown): VaultDocument {
  return VaultDocumentSchema.parse(raw);
}

const RECORD_SCHEMAS: Partial<Record<string, z.ZodType>> = {
  providers: ProviderRecordSchema,
  accounts: AccountRecordSchema,
  grants: GrantRecordSchema,
  audit: AuditEntrySchema,
};

/**
 * For the vault's `checkChanged`: validates what an update changed, as
 * {@link parseVaultDocument} would, without parsing the other 999 accounts.
 * A change inside one record (`accounts/3/tokens`) checks that record; any
 * other change checks the whole top-level field it is in.
 */
export function checkVaultDocumentChanges(doc: VaultDocument, changed: ReadonlyArray<ReadonlyArray<string | number>>): void {
  const checked = new Set<string>();
  const fields = doc as unknown as Record<string, unknown>;
  for (const [field, index] of changed) {
    if (typeof field !== 'string') throw new Error('a vault document is an object');
    const record = RECORD_SCHEMAS[field];
    if (record && typeof index === 'number') {
      if (checked.has(field) || checked.has(`${field}/${index}`)) continue;
      checked.add(`${field}/${index}`);
      const value = (fields[field] as unknown[] | undefined)?.[index];
      // A removed element leaves nothing to check (the array itself stays an array).
      if (value !== undefined) record.parse(value);
      continue;
    }
    if (checked.has(field)) continue;
    checked.add(field);
    const schema = (VaultDocumentSchema.shape as Record<string, z.ZodType>)[field];
    if (!schema) throw new Error(`the vault document has no field "${field}"`);
    schema.parse(fields[field]);
  }
}

/** What the vault needs to keep a {@link VaultDocument} (its `Vault.open` options). */
export const VAULT_DOCUMENT_OPTIONS = {
  initial: emptyVaultDocument,
  parse: parseVaultDocument,
  checkChanged: checkVaultDocumentChanges,
  rulesId: VAULT_DOCUMENT_RULES,
} as const;

/** What the engine needs from the vault: a snapshot and serialised, durable updates. */
export interface DocumentStore<T> {
  read(): T;
  update(mutator: (draft: T) => T | void | Promise<T | void>): Promise<T>;
}
