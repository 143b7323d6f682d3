/**
 * The OIDC engine: every conversation with an OpenID Provider goes through here,
 * on top of openid-client (which does all protocol validation). It enforces:
 * - authorization code + PKCE S256 with `state` and `nonce`, in the system
 *   browser, via a loopback or private-use-scheme receiver (RFC 8252);
 * - `max_age` both at the provider and against the stored `auth_time`;
 * - refresh before expiry, single-flight per account, and rotation persisted
 *   to the vault before any new access token is handed out;
 * - `invalid_grant` on refresh marks the account "sign-in needed" and keeps
 *   everything else;
 * - client credentials for service profiles, cached until shortly before expiry;
 * - the device authorization grant (RFC 8628);
 * - sign-out with RFC 7009 revocation and the RP-initiated logout URL.
 */
import * as oidc from 'openid-client';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessTokenRecord, AccountRecord, DocumentStore, ProviderRecord, VaultDocument } from '../store/vault-document.js';
import { accountIdFor, selectAccount, summariseAccount, type AccountSelector, type AccountSummary } from './accounts.js';
import { LoopbackReceiver } from './callback/loopback-receiver.js';
import type { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import type { CallbackReceiver } from './callback/callback-receiver.js';
import type { DiscoveryCache } from './discovery.js';
import { validateProviderMetadata } from './provider-metadata.js';
import { assertAccountNaming, identifyOAuth2Account, type AccountIdentity } from './oauth2-account.js';
import { grantedScopeOf, isPlainOAuth2 } from './oauth2-configuration.js';
import { providerFailure } from './provider-errors.js';
import { isSubsetScope, normaliseScope } from './scope.js';
import { KeyedMutex, SingleFlight } from './single-flight.js';
import { cacheKey, expiresAtFrom, findFittingToken, findTokenFor, remainingMs, upsertToken, type TokenRequestKey } from './token-cache.js';
import { refreshTokenWarning, signInPrompt, type SignInOutcome, type SignInWarning } from './offline-access.js';
import { indexDocument } from '../store/document-index.js';

export interface EngineOptions {
  store: DocumentStore<VaultDocument>;
  discovery: DiscoveryCache;
  schemeRouter: SchemeCallbackRouter;
  logger: Logger;
  now?: () => number;
  /** A cached token is refreshed when less than this many seconds remain. Default 60. */
  minTtlSeconds?: number;
  /** How long a browser sign-in may take. Default 5 minutes. */
  callbackTimeoutMs?: number;
  /** Client credentials tokens are fetched again this many seconds before expiry. Default 30. */
  clientCredentialsSkewSeconds?: number;
  /** See `revokeAppTokensAtProvider` in platform/config.ts. Default false. */
  revokeAppTokensAtProvider?: boolean;
}

export interface AuthorizeOptions {
  provider?: string;
  scope?: string;
  /** OIDC `max_age`: re-authenticate if the provider session is older (seconds). */
  maxAge?: number;
  prompt?: string;
  loginHint?: string;
  resource?: string;
  /** Names the account at a plain OAuth 2.0 provider without a userinfo endpoint. */
  accountName?: string;
  signal?: AbortSignal;
  /** Called with the authorization URL; the caller opens the browser or prints it. */
  onAuthorizationUrl: (url: string) => void | Promise<void>;
  /** Called before the sign-in resolves with what the person should know, e.g. that no refresh token came back. */
  onWarning?: (warning: SignInWarning) => void;
}

export interface DeviceAuthorizeOptions {
  provider?: string;
  scope?: string;
  /** Names the account at a plain OAuth 2.0 provider without a userinfo endpoint. */
  accountName?: string;
  signal?: AbortSignal;
  onUserCode: (info: { userCode: string; verificationUri: string; verificationUriComplete?: string; expiresIn: number }) => void | Promise<void>;
  onWarning?: (warning: SignInWarning) => void;
}

export interface TokenRequest extends AccountSelector {
  scope?: string;
  resource?: string;
  /** Seconds the returned token must still be valid. */
  minTtl?: number;
  /** Seconds since the last authentication beyond which a new sign-in is required. */
  maxAge?: number;
  /**
   * Whose app token this is: `<app id> <key fingerprint>` (see `tokenOwner` in
   * broker/token-broker.ts), not the bare app id. Tokens minted for an app are
   * cached apart from the user's own and from other apps' (even one claiming
   * the same app id with another key). Absent for the person's own tokens.
   */
  tokenOwner?: string;
}

/** What a token request returns. Never a refresh token. */
export interface TokenResult {
  accessToken: string;
  tokenType: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
  scope: string;
  resource?: string;
  idToken?: string;
  account?: string;
  /** For the person (the CLI prints it on stderr): a still-valid token handed out although it could not be refreshed. */
  warning?: string;
}

export interface SignOutResult {
  account: AccountSummary;
  revoked: string[];
  endSessionUrl?: string;
  warnings: string[];
}

const DEFAULT_SCOPE_FALLBACK = 'openid profile email';

/** A token's required remaining lifetime, and whether the caller asked for it (see findFittingToken). */
interface MinTtl {
  ms: number;
  explicit: boolean;
}

export class OidcEngine {
  private readonly store: DocumentStore<VaultDocument>;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly accountLocks = new KeyedMutex();
  private readonly refreshes = new SingleFlight<TokenResult>();
  private readonly serviceTokens = new Map<string, TokenResult>();
  private readonly serviceFlights = new SingleFlight<TokenResult>();

  constructor(private readonly options: EngineOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.log = options.logger;
  }

  // ---- providers -------------------------------------------------------

  provider(name?: string): ProviderRecord {
    const providers = this.store.read().providers;
    if (!name) {
      const users = providers.filter((p) => p.kind === 'user');
      if (users.length === 1) return users[0]!;
      if (providers.length === 0) {
        throw new LatchkeyError('not_found', 'No provider is configured. Add one with `latchkey provider add`, or try `latchkey demo`.');
      }
      throw new LatchkeyError('usage', `Choose a provider with --provider: ${providers.map((p) => p.name).join(', ')}`);
    }
    const found = providers.find((p) => p.name === name);
    if (!found) throw new LatchkeyError('not_found', `No provider named "${name}". See \`latchkey provider list\`.`);
    return found;
  }

  /** The default scope for a provider: configured, else what discovery says it supports. */
  static defaultScope(metadata: oidc.ServerMetadata): string {
    const supported = new Set(metadata.scopes_supported ?? []);
    const scope = ['openid', 'profile', 'email'].filter((s) => supported.size === 0 || supported.has(s) || s === 'openid');
    if (supported.has('offline_access')) scope.push('offline_access');
    return scope.length ? scope.join(' ') : DEFAULT_SCOPE_FALLBACK;
  }

  // ---- interactive sign-in --------------------------------------------

  /** Authorization code + PKCE in the system browser; returns the signed-in account. */
  async authorize(opts: AuthorizeOptions): Promise<AccountSummary> {
    const provider = this.userProvider(opts.provider);
    // Plain OAuth 2.0 has no ID token: no nonce, no max_age (oidc-provider refuses both without `openid`).
    const plain = isPlainOAuth2(provider);
    assertAccountNaming(provider, opts.accountName);
    if (plain && opts.maxAge !== undefined) {
      throw new LatchkeyError('usage', `--max-age needs OpenID Connect; provider "${provider.name}" is plain OAuth 2.0.`);
    }
    const config = await this.options.discovery.get(provider);
    const receiver: CallbackReceiver =
      provider.redirect === 'scheme'
        ? this.options.schemeRouter.receiver()
        : await LoopbackReceiver.start(provider.loopbackPort ? { port: provider.loopbackPort } : {});
    try {
      const scope = normaliseScope(opts.scope ?? provider.scope);
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = plain ? undefined : oidc.randomNonce();
      const prompt = signInPrompt(provider, scope, opts.prompt);
      const params: Record<string, string> = {
        ...provider.authorizationParams,
        redirect_uri: receiver.redirectUri,
        ...(scope ? { scope } : {}),
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        ...(nonce ? { nonce } : {}),
      };
      if (opts.maxAge !== undefined) params.max_age = String(opts.maxAge);
      if (prompt) params.prompt = prompt;
      if (opts.loginHint) params.login_hint = opts.loginHint;
      if (opts.resource) params.resource = opts.resource;
      const url = oidc.buildAuthorizationUrl(config, params);
      const waitOptions: { signal?: AbortSignal; timeoutMs?: number } = {};
      if (opts.signal) waitOptions.signal = opts.signal;
      if (this.options.callbackTimeoutMs) waitOptions.timeoutMs = this.options.callbackTimeoutMs;
      const callback = receiver.waitForCallback(state, waitOptions);
      // Awaited below; if opening the browser fails first, its timeout or cancellation must not go unhandled.
      callback.catch(() => undefined);
      this.log.info({ provider: provider.name, redirect: provider.redirect, scope }, 'authorization request started');
      await opts.onAuthorizationUrl(url.href);
      const callbackUrl = await callback;
      const checks: oidc.AuthorizationCodeGrantChecks = { pkceCodeVerifier: codeVerifier, expectedState: state, ...(nonce ? { expectedNonce: nonce } : {}) };
      if (opts.maxAge !== undefined) checks.maxAge = opts.maxAge;
      let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callbackUrl, checks, { redirect_uri: receiver.redirectUri });
      } catch (err) {
        throw providerFailure(err, 'sign-in', provider.name);
      }
      const account = await this.saveSignIn(provider, config, tokens, scope, opts.resource, opts.accountName);
      this.warnIfNotRefreshable({ provider, scope, prompt, promptChosen: Boolean(opts.prompt), device: false, refreshTokenIssued: Boolean(tokens.refresh_token), expiresIn: tokens.expires_in }, opts.onWarning);
      return account;
    } finally {
      await receiver.close();
    }
  }

  /** Device authorization grant (RFC 8628) for sessions without a local browser. */
  async deviceAuthorize(opts: DeviceAuthorizeOptions): Promise<AccountSummary> {
    const provider = this.userProvider(opts.provider);
    assertAccountNaming(provider, opts.accountName);
    const config = await this.options.discovery.get(provider);
    validateProviderMetadata(config.serverMetadata(), { flows: ['device_code'], openid: !provider.oauth2 }, provider.name);
    const scope = normaliseScope(opts.scope ?? provider.scope);
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      const device = await oidc.initiateDeviceAuthorization(config, scope ? { scope } : {});
      const info: Parameters<DeviceAuthorizeOptions['onUserCode']>[0] = {
        userCode: device.user_code,
        verificationUri: device.verification_uri,
        expiresIn: device.expires_in,
      };
      if (device.verification_uri_complete) info.verificationUriComplete = device.verification_uri_complete;
      await opts.onUserCode(info);
      tokens = await oidc.pollDeviceAuthorizationGrant(config, device, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      throw providerFailure(err, 'device sign-in', provider.name);
    }
    const account = await this.saveSignIn(provider, config, tokens, scope, undefined, opts.accountName);
    this.warnIfNotRefreshable({ provider, scope, prompt: undefined, promptChosen: false, device: true, refreshTokenIssued: Boolean(tokens.refresh_token), expiresIn: tokens.expires_in }, opts.onWarning);
    return account;
  }

  private warnIfNotRefreshable(outcome: SignInOutcome, onWarning: ((warning: SignInWarning) => void) | undefined): void {
    const warning = refreshTokenWarning(outcome);
    if (!warning) return;
    this.log.warn({ provider: outcome.provider.name, code: warning.code, prompt: outcome.prompt }, 'sign-in asked for offline access but got no refresh token');
    onWarning?.(warning);
  }

  private userProvider(name: string | undefined): ProviderRecord {
    const provider = this.provider(name);
    if (provider.kind === 'service') {
      throw new LatchkeyError(
        'usage',
        `Provider "${provider.name}" is a service profile (client credentials); it has no sign-in. Use \`latchkey token --provider ${provider.name}\`.`,
      );
    }
    return provider;
  }

  private async saveSignIn(
    provider: ProviderRecord,
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
    requestedScope: string,
    resource: string | undefined,
    accountName: string | undefined,
  ): Promise<AccountSummary> {
    // Named before anything is stored: a userinfo answer that names no one leaves the vault as it was.
    const who = isPlainOAuth2(provider)
      ? await identifyOAuth2Account(provider, config, tokens.access_token, accountName)
      : await this.identifyOidcAccount(provider, config, tokens);
    const now = this.now();
    const grantedScope = normaliseScope(grantedScopeOf(provider, tokens.scope) ?? requestedScope);
    const id = accountIdFor(provider.name, provider.issuer, who.subject);
    const doc = await this.store.update((d) => {
      const previous = d.accounts.find((a) => a.id === id);
      const account: AccountRecord = {
        id,
        provider: provider.name,
        subject: who.subject,
        claims: who.claims,
        status: 'active',
        scope: grantedScope,
        tokens: upsertToken([], {
          accessToken: tokens.access_token,
          tokenType: tokens.token_type ?? 'Bearer',
          expiresAt: expiresAtFrom(tokens.expires_in ?? provider.oauth2?.assumedTokenLifetimeSeconds, now),
          scope: grantedScope,
          ...(resource ? { resource } : {}),
          obtainedAt: now,
        }),
        createdAt: previous?.createdAt ?? now,
        updatedAt: now,
      };
      account.authTime = who.authTime ?? Math.floor(now / 1000);
      if (tokens.refresh_token) account.refreshToken = tokens.refresh_token;
      if (tokens.id_token) account.idToken = tokens.id_token;
      d.accounts = [...d.accounts.filter((a) => a.id !== id), account];
    });
    this.log.info({ provider: provider.name, account: id, scope: grantedScope, refreshable: Boolean(tokens.refresh_token) }, 'signed in');
    return summariseAccount(doc.accounts.find((a) => a.id === id)!);
  }

  /** The ID token names the account; userinfo (when offered) fills in the profile. */
  private async identifyOidcAccount(
    provider: ProviderRecord,
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  ): Promise<AccountIdentity> {
    const claims = tokens.claims();
    if (!claims) throw new LatchkeyError('invalid_response', `Provider "${provider.name}" returned no ID token; Latchkey needs OpenID Connect (or add the provider with --oauth2).`);
    const userinfo = await this.fetchUserInfo(provider, config, tokens.access_token, claims.sub);
    const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    const who: AccountIdentity = { subject: claims.sub, claims: {} };
    for (const [field, claim] of [['name', 'name'], ['email', 'email'], ['preferredUsername', 'preferred_username'], ['picture', 'picture']] as const) {
      const value = str(userinfo?.[claim]) ?? str(claims[claim]);
      if (value) who.claims[field] = value;
    }
    // An auth_time of 0 (Glewlwyd, from its token endpoint) says nothing: count it like a missing one, as now.
    if (typeof claims.auth_time === 'number' && claims.auth_time > 0) who.authTime = claims.auth_time;
    return who;
  }

  private async fetchUserInfo(
    provider: ProviderRecord,
    config: oidc.Configuration,
    accessToken: string,
    sub: string,
  ): Promise<Record<string, unknown> | undefined> {
    if (!config.serverMetadata().userinfo_endpoint) return undefined;
    try {
      return await oidc.fetchUserInfo(config, accessToken, sub);
    } catch (err) {
      // The ID token already identifies the person; profile extras are optional.
      this.log.warn({ provider: provider.name, err }, 'userinfo request failed; using ID token claims only');
      return undefined;
    }
  }

  // ---- tokens ------------------------------------------------------------

  /**
   * An access token for an account: the cached one when it fits, otherwise a
   * refresh (narrowed to the requested scope/resource). Service profiles use
   * client credentials instead.
   */
  async getToken(request: TokenRequest): Promise<TokenResult> {
    if (request.provider && !request.account) {
      const provider = this.provider(request.provider);
      if (provider.kind === 'service') return this.clientCredentialsToken(provider, request);
    }
    const doc = this.store.read();
    // An exact account id (what the broker sends) is what selectAccount would find first; anything else takes it.
    const account = (request.account && !request.provider ? indexDocument(doc).accountsById.get(request.account) : undefined) ?? selectAccount(doc, request);
    this.assertUsable(account, request.maxAge);
    const key = this.tokenKey(account, request);
    const minTtl = this.minTtl(request);
    const cached = findFittingToken(account.tokens, key, this.now(), minTtl.ms, minTtl.explicit);
    if (cached) return this.toResult(account, cached);
    return this.refreshes.run(cacheKey(account.id, key), () =>
      this.accountLocks.lock(account.id, () => this.refresh(account.id, key, minTtl)),
    );
  }

  /**
   * Until when (ms, this engine's clock) {@link getToken}, asked the same
   * again with the vault document unchanged, would answer with this same
   * cached `token`; 0 when that cannot be promised (unknown expiry, `maxAge`).
   * The minimum TTL is taken without its cap at half the token's lifetime, so
   * reuse may end early (the next call takes the full path), never late.
   */
  reuseUntil(token: TokenResult, request: TokenRequest): number {
    if (token.expiresAt === undefined || request.maxAge !== undefined) return 0;
    return token.expiresAt - this.minTtl(request).ms;
  }

  private tokenKey(account: AccountRecord, request: TokenRequest): TokenRequestKey {
    const scope = normaliseScope(request.scope ?? account.scope);
    if (!isSubsetScope(scope, account.scope)) {
      throw new LatchkeyError(
        'login_required',
        `Account ${account.id} was not granted "${scope}" (it has "${account.scope}"). Sign in again asking for it: latchkey login --provider ${account.provider} --scope "${scope}"`,
      );
    }
    return { scope, resource: request.resource, tokenOwner: request.tokenOwner };
  }

  /** The caller's own minimum is honoured as given; the configured default is capped by token lifetime (token-cache.ts). */
  private minTtl(request: TokenRequest): MinTtl {
    return { ms: (request.minTtl ?? this.options.minTtlSeconds ?? 60) * 1000, explicit: request.minTtl !== undefined };
  }

  private assertUsable(account: AccountRecord, maxAge: number | undefined): void {
    if (account.status === 'sign_in_needed') {
      throw new LatchkeyError(
        'login_required',
        `Account ${account.id} needs you to sign in again (the provider no longer accepts its refresh token). Run \`latchkey login --provider ${account.provider}\`.`,
      );
    }
    if (maxAge !== undefined && account.authTime !== undefined && this.now() / 1000 - account.authTime > maxAge) {
      throw new LatchkeyError(
        'login_required',
        `Account ${account.id} last authenticated more than ${maxAge} s ago. Run \`latchkey login --provider ${account.provider} --max-age ${maxAge}\`.`,
      );
    }
  }

  private async refresh(accountId: string, key: TokenRequestKey, minTtl: MinTtl): Promise<TokenResult> {
    // Re-read under the account lock: an earlier refresh may have rotated the refresh token or filled the cache.
    const account = this.store.read().accounts.find((a) => a.id === accountId);
    if (!account) throw new LatchkeyError('login_required', `Account ${accountId} was signed out.`);
    this.assertUsable(account, undefined);
    const cached = findFittingToken(account.tokens, key, this.now(), minTtl.ms, minTtl.explicit);
    if (cached) return this.toResult(account, cached);
    if (!account.refreshToken) return this.withoutRefresh(account, key, minTtl, 'the provider gave no refresh token at sign-in');
    const provider = this.provider(account.provider);
    const config = await this.options.discovery.get(provider);
    const params: Record<string, string> = {};
    if (key.scope !== account.scope) params.scope = key.scope;
    if (key.resource) params.resource = key.resource;
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.refreshTokenGrant(config, account.refreshToken, params);
    } catch (err) {
      const failure = providerFailure(err, 'token refresh', provider.name);
      if (failure.providerError === 'invalid_grant') await this.markSignInNeeded(account.id, failure.message);
      this.log.warn({ provider: provider.name, account: account.id, code: failure.code, providerError: failure.providerError }, 'refresh failed');
      if (failure.providerError === 'invalid_grant') {
        throw new LatchkeyError(
          'login_required',
          `Provider "${provider.name}" no longer accepts the sign-in of ${account.id}. Run \`latchkey login --provider ${provider.name}\`.`,
          { cause: failure, providerError: 'invalid_grant' },
        );
      }
      // The provider is down or refused for another reason: a token that is still valid beats none.
      if (!minTtl.explicit && this.stillValid(account, key)) return this.withoutRefresh(account, key, minTtl, failure.message);
      throw failure;
    }
    const claims = tokens.claims();
    if (claims && claims.sub !== account.subject) {
      throw new LatchkeyError('invalid_response', `Provider "${provider.name}" returned an ID token for a different user on refresh.`);
    }
    const now = this.now();
    const token = {
      accessToken: tokens.access_token,
      tokenType: tokens.token_type ?? 'Bearer',
      expiresAt: expiresAtFrom(tokens.expires_in, now),
      // Some providers omit `scope` when it equals the request (RFC 6749 §5.1).
      scope: tokens.scope ? normaliseScope(grantedScopeOf(provider, tokens.scope)) : key.scope,
      ...(key.resource ? { resource: key.resource } : {}),
      ...(key.tokenOwner ? { appId: key.tokenOwner } : {}),
      obtainedAt: now,
    };
    // Store under the requested key so the next identical request is a cache hit,
    // even if the provider reports the scope differently.
    const stored = { ...token, scope: key.scope };
    // Rotation must be durable before the new access token leaves this function:
    // if we crashed after handing it out, the old refresh token would already be spent.
    const doc = await this.store.update((d) => {
      const a = d.accounts.find((x) => x.id === accountId);
      if (!a) throw new LatchkeyError('login_required', `Account ${accountId} was signed out during refresh.`);
      if (tokens.refresh_token) a.refreshToken = tokens.refresh_token;
      if (tokens.id_token) a.idToken = tokens.id_token;
      a.tokens = upsertToken(a.tokens, stored);
      a.updatedAt = now;
      delete a.lastError;
    });
    this.log.info({ provider: provider.name, account: accountId, scope: key.scope, rotated: Boolean(tokens.refresh_token) }, 'token refreshed');
    return this.toResult(doc.accounts.find((a) => a.id === accountId)!, { ...token, scope: token.scope });
  }

  private stillValid(account: AccountRecord, key: TokenRequestKey): AccessTokenRecord | undefined {
    const token = findTokenFor(account.tokens, key);
    return token && remainingMs(token, this.now()) > 0 ? token : undefined;
  }

  /**
   * A token request that no refresh can serve: a still-valid token is handed
   * out with a warning, unless the caller asked for a minimum lifetime
   * explicitly; the messages never call a valid token expired.
   */
  private withoutRefresh(account: AccountRecord, key: TokenRequestKey, minTtl: MinTtl, reason: string): TokenResult {
    const why = reason.replace(/\.$/, '');
    const again = `Run \`latchkey login --provider ${account.provider}\` to get a new one.`;
    const valid = this.stillValid(account, key);
    if (!valid) {
      const what = findTokenFor(account.tokens, key) ? `The access token for ${account.id} expired` : `${account.id} has no access token for "${key.scope}"`;
      throw new LatchkeyError('login_required', `${what} and none can be refreshed: ${why}. ${again}`);
    }
    const left = Math.floor(remainingMs(valid, this.now()) / 1000);
    if (minTtl.explicit) {
      throw new LatchkeyError(
        'login_required',
        `The access token for ${account.id} is valid for ${left} s more, less than the ${minTtl.ms / 1000} s asked for (--min-ttl), and cannot be refreshed: ${why}. ${again}`,
      );
    }
    this.log.warn({ account: account.id, secondsLeft: left }, 'handing out a token that could not be refreshed');
    return { ...this.toResult(account, valid), warning: `This access token is valid for only ${left} s more and could not be refreshed: ${why}. ${again}` };
  }

  private async markSignInNeeded(accountId: string, reason: string): Promise<void> {
    await this.store.update((d) => {
      const a = d.accounts.find((x) => x.id === accountId);
      if (a) {
        a.status = 'sign_in_needed';
        a.lastError = reason;
        a.updatedAt = this.now();
      }
    });
  }

  private toResult(account: AccountRecord, t: AccountRecord['tokens'][number]): TokenResult {
    const result: TokenResult = { accessToken: t.accessToken, tokenType: t.tokenType, scope: t.scope, account: account.id };
    if (t.expiresAt !== undefined) result.expiresAt = t.expiresAt;
    if (t.resource) result.resource = t.resource;
    if (account.idToken && t.scope.split(' ').includes('openid')) result.idToken = account.idToken;
    return result;
  }

  // ---- client credentials ------------------------------------------------

  private clientCredentialsToken(provider: ProviderRecord, request: TokenRequest): Promise<TokenResult> {
    const scope = normaliseScope(request.scope ?? provider.scope);
    const key = JSON.stringify([provider.name, scope, request.resource ?? null]);
    const skewMs = (this.options.clientCredentialsSkewSeconds ?? 30) * 1000;
    const fits = (t: TokenResult | undefined) =>
      t !== undefined && (t.expiresAt ?? 0) - skewMs - this.now() >= (request.minTtl ?? 0) * 1000;
    const cached = this.serviceTokens.get(key);
    if (fits(cached)) return Promise.resolve(cached!);
    return this.serviceFlights.run(key, async () => {
      const config = await this.options.discovery.get(provider);
      const params: Record<string, string> = {};
      if (scope) params.scope = scope;
      if (request.resource) params.resource = request.resource;
      let tokens: oidc.TokenEndpointResponse;
      try {
        tokens = await oidc.clientCredentialsGrant(config, params);
      } catch (err) {
        throw providerFailure(err, 'client credentials grant', provider.name);
      }
      const result: TokenResult = {
        accessToken: tokens.access_token,
        tokenType: tokens.token_type ?? 'Bearer',
        expiresAt: expiresAtFrom(tokens.expires_in, this.now()),
        scope: tokens.scope ? normaliseScope(tokens.scope) : scope,
      };
      if (request.resource) result.resource = request.resource;
      this.serviceTokens.set(key, result);
      this.log.info({ provider: provider.name, scope: result.scope }, 'client credentials token obtained');
      return result;
    });
  }

  // ---- sign-out ------------------------------------------------------------

  /**
   * Revokes the account's tokens at the provider (RFC 7009) where it can,
   * builds the RP-initiated logout URL where the provider has one, and deletes
   * the account locally even when the provider cannot be reached.
   */
  async signOut(selector: AccountSelector): Promise<SignOutResult> {
    const account = selectAccount(this.store.read(), selector);
    return this.accountLocks.lock(account.id, async () => {
      const result: SignOutResult = { account: summariseAccount(account), revoked: [], warnings: [] };
      const provider = this.store.read().providers.find((p) => p.name === account.provider);
      if (provider) {
        try {
          const config = await this.options.discovery.get(provider);
          await this.revokeAll(config, account, result, Boolean(provider.clientSecret));
          // RP-initiated logout is OpenID Connect; an RFC 8414 document may list it all the same.
          if (config.serverMetadata().end_session_endpoint && !isPlainOAuth2(provider)) {
            const params: Record<string, string> = { client_id: provider.clientId };
            if (account.idToken) params.id_token_hint = account.idToken;
            result.endSessionUrl = oidc.buildEndSessionUrl(config, params).href;
          }
        } catch (err) {
          result.warnings.push(`Could not contact provider "${provider.name}": ${(err as Error).message}`);
        }
      }
      await this.store.update((d) => {
        d.accounts = d.accounts.filter((a) => a.id !== account.id);
      });
      this.log.info({ account: account.id, revoked: result.revoked, warnings: result.warnings.length }, 'signed out');
      return result;
    });
  }

  private async revokeAll(config: oidc.Configuration, account: AccountRecord, result: SignOutResult, confidential: boolean): Promise<void> {
    const metadata = config.serverMetadata();
    if (!metadata.revocation_endpoint) {
      result.warnings.push('The provider does not support token revocation; tokens stay valid there until they expire.');
      return;
    }
    // RFC 8414 §2: a provider whose revocation endpoint lists no "none" wants client authentication (e.g. Glewlwyd), which a public client cannot give.
    const methods = metadata.revocation_endpoint_auth_methods_supported;
    if (!confidential && methods && !methods.includes('none')) {
      result.warnings.push('The provider accepts token revocation only from confidential clients; tokens stay valid there until they expire.');
      return;
    }
    const revoke = async (token: string, hint: string, label: string) => {
      try {
        await oidc.tokenRevocation(config, token, { token_type_hint: hint });
        result.revoked.push(label);
      } catch (err) {
        result.warnings.push(`Revoking the ${label} failed: ${providerFailure(err, 'revocation', account.provider).message}`);
      }
    };
    if (account.refreshToken) await revoke(account.refreshToken, 'refresh_token', 'refresh token');
    for (const t of account.tokens) await revoke(t.accessToken, 'access_token', 'access token');
  }

  /**
   * Forgets a cached access token that a resource server rejected (git's
   * `erase`, Docker's), so the next request refreshes instead of handing it
   * out again. Only an exact match is dropped; the refresh token stays.
   */
  async dropCachedToken(accessToken: string): Promise<boolean> {
    const holder = this.store.read().accounts.find((a) => a.tokens.some((t) => t.accessToken === accessToken));
    if (!holder) return false;
    await this.store.update((d) => {
      const a = d.accounts.find((x) => x.id === holder.id);
      if (a) a.tokens = a.tokens.filter((t) => t.accessToken !== accessToken);
    });
    return true;
  }

  // ---- queries ------------------------------------------------------------

  accounts(): AccountSummary[] {
    return this.store.read().accounts.map(summariseAccount);
  }

  /**
   * Drops an app's cached tokens for an account, so they are never handed out
   * again; revokes them at the provider too when configured (see
   * `revokeAppTokensAtProvider`: providers may revoke the whole grant).
   */
  async revokeAppTokens(accountId: string, tokenOwner: string): Promise<number> {
    const account = this.store.read().accounts.find((a) => a.id === accountId);
    if (!account) return 0;
    const mine = account.tokens.filter((t) => t.appId === tokenOwner);
    const provider = this.store.read().providers.find((p) => p.name === account.provider);
    if (provider && mine.length && this.options.revokeAppTokensAtProvider) {
      const config = await this.options.discovery.get(provider).catch(() => undefined);
      if (config?.serverMetadata().revocation_endpoint) {
        for (const t of mine) await oidc.tokenRevocation(config, t.accessToken, { token_type_hint: 'access_token' }).catch(() => undefined);
      }
    }
    await this.store.update((d) => {
      const a = d.accounts.find((x) => x.id === accountId);
      if (a) a.tokens = a.tokens.filter((t) => t.appId !== tokenOwner);
    });
    return mine.length;
  }
}
