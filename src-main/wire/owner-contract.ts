/**
 * The owner's methods on the agent socket (used by the `latchkey` CLI): names,
 * parameter schemas and result types, defined once and used by both the
 * server handlers and the typed client. Wire fields are snake_case.
 *
 * Apps use the separate, consent-gated app methods; these `admin.*` methods
 * are the person's own controls.
 */
import { z } from 'zod';
import type { AccountSummary } from '../engine/accounts.js';
import type { ProviderSummary } from '../engine/provider-registry.js';
import { seconds, tokenRequestFields, type WireToken } from './wire-token.js';
import type { SignInWarning } from '../engine/offline-access.js';
import { PRESET_NAMES } from '../engine/provider-presets.js';
import type { AuditEntry } from '../store/vault-document.js';

const scope = z.string().trim().min(1).max(2048);
const name = z.string().min(1).max(64);
const none = z.object({}).strict().optional();
const url = z.string().min(1).max(2048);

export const ADMIN_PARAMS = {
  /** Proves the connection belongs to the person (see owner-key.ts); every other admin method needs it. */
  'admin.hello': z.object({ owner_key: z.string().min(1).max(128) }).strict(),
  'admin.status': none,
  'admin.stop': none,
  'admin.providers.list': none,
  'admin.providers.add': z
    .object({
      name,
      /** Required unless `preset` builds it, or a plain OAuth 2.0 provider's endpoints are given by hand. */
      issuer: z.string().min(1).max(2048).optional(),
      client_id: z.string().min(1).max(512),
      client_secret: z.string().min(1).max(4096).optional(),
      scope: z.string().max(2048).optional(),
      redirect: z.enum(['loopback', 'scheme']).optional(),
      loopback_port: z.number().int().min(1).max(65535).optional(),
      service: z.boolean().optional(),
      refresh_without_consent: z.boolean().optional(),
      preset: z.enum([...PRESET_NAMES, 'github']).optional(),
      preset_options: z
        .object({
          tenant: z.string().min(1).max(256).optional(),
          domain: z.string().min(1).max(256).optional(),
          authorization_server: z.string().min(1).max(256).optional(),
          audience: z.string().min(1).max(2048).optional(),
          realm: z.string().min(1).max(256).optional(),
          base_url: z.string().min(1).max(2048).optional(),
        })
        .strict()
        .optional(),
      /** Present: a plain OAuth 2.0 provider (RFC 8414 metadata from `issuer`, or these endpoints). */
      oauth2: z
        .object({
          authorization_endpoint: url.optional(),
          token_endpoint: url.optional(),
          device_authorization_endpoint: url.optional(),
          revocation_endpoint: url.optional(),
          userinfo_endpoint: url.optional(),
          account_claim: z.string().min(1).max(64).optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  'admin.providers.remove': z.object({ name, force: z.boolean().optional() }).strict(),
  'admin.accounts.list': none,
  'admin.login': z
    .object({
      provider: name.optional(),
      scope: scope.optional(),
      max_age: seconds.optional(),
      prompt: z.enum(['none', 'login', 'consent', 'select_account']).optional(),
      login_hint: z.string().min(1).max(256).optional(),
      resource: z.string().url().max(2048).optional(),
      device: z.boolean().optional(),
      /** Names the account at a plain OAuth 2.0 provider without a userinfo endpoint. */
      account_name: z.string().min(1).max(128).optional(),
    })
    .strict(),
  'admin.token': z
    .object({
      ...tokenRequestFields,
      /** The owner's resource is checked as a URL, as `admin.login`'s is (apps get the stricter RFC 8707 check). */
      resource: z.string().url().max(2048).optional(),
      /** Which of the person's tools hands the token on (e.g. "git"), and for what (a host, cluster, registry or role): recorded in the activity log. */
      client: z.string().min(1).max(64).optional(),
      target: z.string().min(1).max(2048).optional(),
    })
    .strict(),
  /** A tool reports the token was rejected (git `erase`): the cached copy is dropped, so the next request refreshes. */
  'admin.token.drop': z.object({ access_token: z.string().min(1).max(16_384) }).strict(),
  /** STS credentials for the AWS `credential_process` helper (see aws-credentials.ts). */
  'admin.aws.credentials': z
    .object({
      provider: name.optional(),
      account: z.string().min(1).max(256).optional(),
      scope: scope.optional(),
      role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/),
      session_name: z.string().regex(/^[\w+=,.@-]{2,64}$/).optional(),
      duration_seconds: z.number().int().min(900).max(43_200).optional(),
      use_access_token: z.boolean().optional(),
      region: z.string().regex(/^[a-z0-9-]{1,32}$/),
      endpoint: z.string().url().max(2048).optional(),
    })
    .strict(),
  'admin.logout': z.object({ account: z.string().min(1).max(256).optional(), provider: name.optional() }).strict(),
  'admin.callback': z.object({ url: z.string().min(1).max(8192) }).strict(),
  'admin.demo': none,
  'admin.apps.list': none,
  'admin.apps.revoke': z.object({ app: z.string().min(1).max(128), account: z.string().min(1).max(256).optional() }).strict(),
  'admin.activity': z
    .object({ app: z.string().min(1).max(128).optional(), account: z.string().min(1).max(256).optional(), limit: z.number().int().min(1).max(5000).optional() })
    .strict(),
} as const;

export type AdminMethod = keyof typeof ADMIN_PARAMS;
/** Defined with the token request in wire-token.ts; named here too because the owner's tools read it from this contract. */
export type { WireToken };
export type AdminParams<M extends AdminMethod> = z.input<(typeof ADMIN_PARAMS)[M]>;

/** `admin.status`: the agent as the person sees it. Field names are the wire's (camelCase here, as they always were). */
export interface AgentStatus {
  pid: number;
  version: string;
  /** Epoch milliseconds. */
  startedAt: number;
  keySource: { kind: string; description: string };
  vault: string;
  socket: string;
  providers: ProviderSummary[];
  accounts: number;
  demo?: { issuer: string };
}

/** What `latchkey status` says about the policy file. */
export type PolicyStatus = { path: string; state: 'absent' } | { path: string; state: 'active'; rules: number } | { path: string; state: 'ignored'; error: string };

/** The AWS CLI `credential_process` output, as `admin.aws.credentials` returns it (field names are AWS's). */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  /** ISO 8601. */
  Expiration: string;
}

export interface AdminResults {
  'admin.hello': { owner: true };
  /** `policy`: whether policy.json is in force or ignored (and why). */
  'admin.status': AgentStatus & { policy: PolicyStatus };
  'admin.stop': { stopping: true };
  'admin.providers.list': { providers: ProviderSummary[] };
  'admin.providers.add': { provider: ProviderSummary };
  'admin.providers.remove': { removed: string; signed_out: string[] };
  'admin.accounts.list': { accounts: AccountSummary[] };
  'admin.login': { account: AccountSummary; warnings: SignInWarning[] };
  /** `warning`: for the person, e.g. a still-valid token that could not be refreshed (never sent to apps). */
  'admin.token': WireToken & { warning?: string };
  'admin.token.drop': { dropped: boolean };
  'admin.aws.credentials': ProcessCredentials;
  'admin.logout': { account: AccountSummary; revoked: string[]; end_session_url?: string; warnings: string[] };
  'admin.callback': { accepted: true };
  'admin.demo': { issuer: string; provider: ProviderSummary };
  'admin.apps.list': { grants: GrantSummary[] };
  'admin.apps.revoke': { revoked: Array<{ app: string; account: string }> };
  /** `intact: false` when the audit log file was changed outside Latchkey (`broken_at_line` says where). */
  'admin.activity': { entries: AuditEntry[]; intact: boolean; broken_at_line?: number };
}

/** A remembered app grant as shown to the person. */
export interface GrantSummary {
  app: string;
  /** As the app claimed it when the grant was made. */
  name: string;
  key_fingerprint: string;
  exe_path?: string;
  account: string;
  scope: string;
  resource?: string;
  created_at: number;
  last_used_at?: number;
}

/**
 * A background agent that cannot start writes this marker and a WireError as
 * JSON on one stderr line (its log); the CLI that started it shows that error.
 */
export const STARTUP_FAILURE_MARKER = 'latchkey-agent-startup-failed ';

/** Notifications the agent sends during `admin.login`. */
export const LOGIN_NOTIFICATIONS = {
  authorizationUrl: 'login.authorization_url',
  deviceCode: 'login.device_code',
} as const;

export interface AuthorizationUrlNotification {
  url: string;
}

export interface DeviceCodeNotification {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
}
