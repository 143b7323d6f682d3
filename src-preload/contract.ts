/**
 * The one IPC contract between the desktop app's main process and its
 * renderer, defined once here and imported as types everywhere.
 *
 * What it enforces:
 * - every call is `invoke(channel, params)` on a channel named `domain:verb`;
 *   the preload forwards only channels listed in {@link CHANNELS};
 * - params cross into main through one zod schema per channel (PARAMS in
 *   contract-params.ts, kept apart so the renderer and preload bundles do
 *   not carry zod); anything else is a `usage` error, never a crash;
 * - this file has no runtime dependencies: the sandboxed preload and the
 *   renderer both bundle it;
 * - results never carry a secret (refresh tokens, client secrets, the master
 *   key): only summaries the UI shows;
 * - errors cross as `{ code, message }` values ({@link Outcome}), because an
 *   Error thrown through contextBridge loses everything but its message.
 */
import type { WireError } from '../src-main/errors.js';
import type { AccountSummary } from '../src-main/engine/accounts.js';
import type { ProviderSummary } from '../src-main/engine/provider-registry.js';
import type { SignInWarning } from '../src-main/engine/offline-access.js';
import type { AuditEntry } from '../src-main/store/vault-document.js';
import type { ConsentWarning } from '../src-main/broker/impostor-check.js';

/** The identity of a local app as the consent view shows it: claimed name, verified key and program. */
export interface ConsentAppView {
  id: string;
  name: string;
  version?: string;
  fingerprint: string;
  exePath?: string;
}

export interface PendingConsent {
  id: string;
  app: ConsentAppView;
  provider: string;
  accounts: AccountSummary[];
  scope: string;
  /** `scope` in plain words (describeScopes). */
  scopeWords: string[];
  resource?: string;
  /** Epoch ms when the prompt counts as "deny". */
  deadline: number;
  /** The broker's impostor warning (same id with another key or program, or a borrowed name), when there is one. */
  warning?: ConsentWarning;
}

export interface GrantView {
  id: string;
  appId: string;
  appName: string;
  keyFingerprint: string;
  exePath?: string;
  account: string;
  /** The account as the prompt names it (email, name); absent when it is gone. */
  accountSummary?: AccountSummary;
  scope: string;
  scopeWords: string[];
  resource?: string;
  createdAt: number;
  lastUsedAt?: number;
}

export interface KeySourceHealth {
  kind: string;
  description: string;
  /** False when the key is not really protected (e.g. Linux safeStorage `basic_text`). */
  encrypted: boolean;
  /** What the person should know or do, when anything. */
  warning?: string;
}

export interface AppState {
  version: string;
  keySource: KeySourceHealth;
  demo?: { issuer: string };
  providers: ProviderSummary[];
  /** Sign-ins in progress, by flow id. */
  signIns: SignInProgress[];
  pendingConsents: number;
}

export interface SignInProgress {
  flowId: string;
  provider: string;
  stage: 'starting' | 'browser' | 'done' | 'failed' | 'cancelled';
  error?: WireError;
  /** With `done`: what the person should know, e.g. that the provider issued no refresh token. */
  warnings?: SignInWarning[];
}

export interface DiscoveryCheck {
  issuer: string;
  authorizationEndpoint?: string;
  scopesSupported: string[];
}

/**
 * Whether the vault is open. `locked`: the app found no key source it may use
 * on its own (no real OS encryption and no passphrase file, or a passphrase
 * vault), so it waits for the person: `create-passphrase` for a new vault,
 * `unlock` for an existing one. Every other channel answers `vault_locked`
 * until then.
 */
/** A new passphrase's minimum length: long enough to resist guessing against a stolen vault file, where scrypt is the only brake. */
export const MIN_NEW_PASSPHRASE = 12;

export type VaultState = { state: 'open' } | { state: 'locked'; needs: 'create-passphrase' | 'unlock'; reason: string };

export interface DesktopSettings {
  startAtLogin: boolean;
}

/** What main pushes to the renderer; each tells the view which data to read again. */
export type DesktopEvent =
  | { type: 'consent.changed'; pending: PendingConsent[] }
  | { type: 'signin.progress'; progress: SignInProgress }
  | { type: 'accounts.changed' }
  | { type: 'grants.changed' }
  | { type: 'providers.changed' }
  | { type: 'vault.changed' };

export const ACTIVITY_EVENTS = ['token_issued', 'consent_granted', 'consent_denied', 'denied', 'grant_revoked', 'token_revoked', 'key_changed', 'executable_changed', 'name_clash'] as const;
export type ActivityEvent = (typeof ACTIVITY_EVENTS)[number];

export const CHANNELS = [
  'vault:state',
  'vault:unlock',
  'vault:create',
  'app:state',
  'accounts:list',
  'accounts:sign-in',
  'accounts:cancel-sign-in',
  'accounts:sign-out',
  'providers:list',
  'providers:check',
  'providers:add',
  'providers:remove',
  'apps:list',
  'apps:revoke',
  'activity:list',
  'settings:get',
  'settings:set',
  'demo:start',
  'consent:list',
  'consent:respond',
] as const;
export type Channel = (typeof CHANNELS)[number];

/** Channels that take nothing accept no argument or `{}`. */
export type NoParams = Record<string, never> | void;

export interface ParamsOf {
  'vault:state': NoParams;
  // The passphrase goes one way, renderer to main, and is never sent back or stored.
  'vault:unlock': { passphrase: string };
  'vault:create': { passphrase: string; confirm: string };
  'app:state': NoParams;
  'accounts:list': NoParams;
  'accounts:sign-in': { flowId: string; provider?: string };
  'accounts:cancel-sign-in': { flowId: string };
  'accounts:sign-out': { account: string };
  'providers:list': NoParams;
  'providers:check': { issuer: string };
  'providers:add': { name: string; issuer: string; clientId: string; scope?: string; redirect?: 'loopback' | 'scheme' };
  'providers:remove': { name: string; force?: boolean };
  'apps:list': NoParams;
  'apps:revoke': { appId: string; account?: string };
  'activity:list': { appId?: string; account?: string; event?: ActivityEvent; since?: number; limit?: number } | void;
  'settings:get': NoParams;
  'settings:set': Partial<DesktopSettings>;
  'demo:start': NoParams;
  'consent:list': NoParams;
  'consent:respond': { id: string; decision: 'once' | 'always' | 'deny'; account?: string };
}
export type Params<C extends Channel> = ParamsOf[C];

export interface Results {
  'vault:state': VaultState;
  'vault:unlock': VaultState;
  'vault:create': VaultState;
  'app:state': AppState;
  'accounts:list': AccountSummary[];
  'accounts:sign-in': { account: AccountSummary; warnings: SignInWarning[] };
  'accounts:cancel-sign-in': { cancelled: boolean };
  'accounts:sign-out': { account: AccountSummary; warnings: string[] };
  'providers:list': ProviderSummary[];
  'providers:check': DiscoveryCheck;
  'providers:add': ProviderSummary;
  'providers:remove': { removed: string; signedOut: string[] };
  'apps:list': GrantView[];
  'apps:revoke': { revoked: number };
  'activity:list': AuditEntry[];
  'settings:get': DesktopSettings;
  'settings:set': DesktopSettings;
  'demo:start': { issuer: string; provider: ProviderSummary };
  'consent:list': PendingConsent[];
  'consent:respond': { answered: boolean };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** The IPC channel every `invoke` travels on, and the one events come back on. */
export const INVOKE_CHANNEL = 'latchkey:invoke';
export const EVENT_CHANNEL = 'latchkey:event';

/** `window.latchkey`, as the preload exposes it. */
export interface LatchkeyApi {
  invoke<C extends Channel>(channel: C, ...params: void extends Params<C> ? [Params<C>?] : [Params<C>]): Promise<Outcome<Results[C]>>;
  /** Subscribes to main's events; returns the unsubscribe function. */
  onEvent(listener: (event: DesktopEvent) => void): () => void;
}

/** The channels that work while the vault is locked. */
export type VaultChannel = Extract<Channel, `vault:${string}`>;

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}
