/**
 * The OIDC engine: every conversation with an OpenID Provider goes through here,
 * on top of openid-client (which does all protocol validation). It enforces:
 * - sign-in through the flow that fits what the person asked (sign-in/:
 *   authorization code + PKCE S256 with `state` and `nonce` in the system
 *   browser via a loopback or private-use-scheme receiver, RFC 8252; or the
 *   device authorization grant, RFC 8628), every token response saved by one
 *   function (sign-in/token-records.ts);
 * - `max_age` both at the provider and against the stored `auth_time`;
 * - refresh before expiry, single-flight per account, and rotation persisted
 *   to the vault before any new access token is handed out;
 * - `invalid_grant` on refresh marks the account "sign-in needed" and keeps
 *   everything else;
 * - client credentials for service profiles, cached until shortly before expiry;
 * - sign-out with RFC 7009 revocation and the RP-initiated logout URL.
 */
import type * as oidc from 'openid-client';
import { openidClient } from './openid-client.js';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessTokenRecord, AccountRecord, DocumentStore, ProviderRecord, VaultDocument } from '../store/vault-document.js';
import { accountIdFor, selectAccount, summariseAccount, type AccountSelector, type AccountSummary } from './accounts.js';
import type { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import type { DiscoveryCache } from './discovery.js';
import { assertAccountNaming } from './oauth2-account.js';
import { isPlainOAuth2 } from './oauth2-configuration.js';
import { providerFailure } from './provider-errors.js';
import { isSubsetScope, normaliseScope } from './scope.js';
import { KeyedMutex, SingleFlight } from './single-flight.js';
import { cacheKey, findFittingToken, findTokenFor, remainingMs, type TokenRequestKey } from './token-cache.js';
import { refreshTokenWarning, type SignInOutcome, type SignInWarning } from './offline-access.js';
import { indexDocument } from '../store/document-index.js';
import { receiverOpener } from './sign-in/authorization-code-flow.js';
import { chooseSignInFlow } from './sign-in/choose-flow.js';
import { ClientCredentialsFlow } from './sign-in/client-credentials-flow.js';
import type { GrantResponse, SignInRequest } from './sign-in/sign-in-flow.js';
import { accessTokenRecordFrom, saveTokenResponse } from './sign-in/token-records.js';
import { identifySignedInAccount } from './sign-in/account-identity.js';

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

/** A browser sign-in (authorization code + PKCE). */
export type AuthorizeOptions = Omit<SignInRequest, 'device' | 'onUserCode' | 'onAuthorizationUrl'> & Required<Pick<SignInRequest, 'onAuthorizationUrl'>>;

/** A device sign-in (RFC 8628). */
export type DeviceAuthorizeOptions = Pick<SignInRequest, 'provider' | 'scope' | 'accountName' | 'signal' | 'onWarning'> & Required<Pick<SignInRequest, 'onUserCode'>>;

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
  /** Epoch milliseconds (the wire sends epoch seconds). */
  expiresAtMs?: number;
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

  /**
   * Signs the person in with the flow that fits what they asked (see
   * sign-in/choose-flow.ts), names the account and saves it; returns the
   * signed-in account.
   */
  async signIn(request: SignInRequest): Promise<AccountSummary> {
    const flow = chooseSignInFlow(request, { openReceiver: receiverOpener(this.options.schemeRouter), callbackTimeoutMs: this.options.callbackTimeoutMs });
    const provider = this.userProvider(request.provider);
    assertAccountNaming(provider, request.accountName);
    flow.assertFits?.(provider);
    const config = await this.options.discovery.get(provider);
    const scope = normaliseScope(request.scope ?? provider.scope);
    const grant = await flow.run({ provider, config, scope, signal: request.signal, log: this.log });
    const account = await this.saveSignIn(provider, config, grant.tokens, scope, request.resource, request.accountName);
    const outcome: SignInOutcome = {
      provider,
      scope,
      prompt: grant.prompt,
      promptChosen: grant.promptChosen,
      device: flow.grant === 'device_code',
      refreshTokenIssued: Boolean(grant.tokens.refresh_token),
      expiresIn: grant.tokens.expires_in,
    };
    this.warnIfNotRefreshable(outcome, request.onWarning);
    return account;
  }

  /** Authorization code + PKCE in the system browser: {@link signIn} without `device`. */
  authorize(opts: AuthorizeOptions): Promise<AccountSummary> {
    return this.signIn(opts);
  }

  /** Device authorization grant (RFC 8628) for sessions without a local browser: {@link signIn} with `device`. */
  deviceAuthorize(opts: DeviceAuthorizeOptions): Promise<AccountSummary> {
    return this.signIn({ ...opts, device: true });
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
    tokens: GrantResponse,
    requestedScope: string,
    resource: string | undefined,
    accountName: string | undefined,
  ): Promise<AccountSummary> {
    // Named before anything is stored: a userinfo answer that names no one leaves the vault as it was.
    const who = await identifySignedInAccount(provider, config, tokens, accountName, this.log);
    const nowMs = this.now();
    // The account's scope is the token's: what later requests narrow from.
    const token = accessTokenRecordFrom(tokens, provider, { scope: requestedScope, resource }, nowMs);
    const id = accountIdFor(provider.name, provider.issuer, who.subject);
    const signedIn = { id, provider: provider.name, subject: who.subject, claims: who.claims, scope: token.scope, authTime: who.authTime ?? Math.floor(nowMs / 1000) };
    const account = await saveTokenResponse(this.store, id, tokens, token, nowMs, signedIn);
    this.log.info({ provider: provider.name, account: id, scope: token.scope, refreshable: Boolean(tokens.refresh_token) }, 'signed in');
    return summariseAccount(account);
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
    if (token.expiresAtMs === undefined || request.maxAge !== undefined) return 0;
    return token.expiresAtMs - this.minTtl(request).ms;
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
    let tokens: GrantResponse;
    try {
      tokens = await (await openidClient()).refreshTokenGrant(config, account.refreshToken, params);
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
    const nowMs = this.now();
    const token = accessTokenRecordFrom(tokens, provider, key, nowMs);
    // Stored under the requested key so the next identical request is a cache hit,
    // even if the provider reports the scope differently; saved (rotation too) before it is handed out.
    const saved = await saveTokenResponse(this.store, accountId, tokens, { ...token, scope: key.scope }, nowMs);
    this.log.info({ provider: provider.name, account: accountId, scope: key.scope, rotated: Boolean(tokens.refresh_token) }, 'token refreshed');
    return this.toResult(saved, token);
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

  /** What a token request returns for a stored token: the account's (none for a service profile) and its ID token where `openid` was granted. */
  private toResult(account: AccountRecord | undefined, t: AccessTokenRecord): TokenResult {
    const result: TokenResult = { accessToken: t.accessToken, tokenType: t.tokenType, scope: t.scope };
    if (account) result.account = account.id;
    if (t.expiresAt !== undefined) result.expiresAtMs = t.expiresAt;
    if (t.resource) result.resource = t.resource;
    if (account?.idToken && t.scope.split(' ').includes('openid')) result.idToken = account.idToken;
    return result;
  }

  // ---- client credentials ------------------------------------------------

  private clientCredentialsToken(provider: ProviderRecord, request: TokenRequest): Promise<TokenResult> {
    const scope = normaliseScope(request.scope ?? provider.scope);
    const key = JSON.stringify([provider.name, scope, request.resource ?? null]);
    const skewMs = (this.options.clientCredentialsSkewSeconds ?? 30) * 1000;
    const fits = (t: TokenResult | undefined) =>
      t !== undefined && (t.expiresAtMs ?? 0) - skewMs - this.now() >= (request.minTtl ?? 0) * 1000;
    const cached = this.serviceTokens.get(key);
    if (fits(cached)) return Promise.resolve(cached!);
    return this.serviceFlights.run(key, async () => {
      const config = await this.options.discovery.get(provider);
      const { tokens } = await new ClientCredentialsFlow(request.resource).run({ provider, config, scope, log: this.log });
      const result = this.toResult(undefined, accessTokenRecordFrom(tokens, provider, { scope, resource: request.resource }, this.now()));
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
            result.endSessionUrl = (await openidClient()).buildEndSessionUrl(config, params).href;
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
    const openid = await openidClient();
    const revoke = async (token: string, hint: string, label: string) => {
      try {
        await openid.tokenRevocation(config, token, { token_type_hint: hint });
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
        const openid = await openidClient();
        for (const t of mine) await openid.tokenRevocation(config, t.accessToken, { token_type_hint: 'access_token' }).catch(() => undefined);
      }
    }
    await this.store.update((d) => {
      const a = d.accounts.find((x) => x.id === accountId);
      if (a) a.tokens = a.tokens.filter((t) => t.appId !== tokenOwner);
    });
    return mine.length;
  }
}
