/**
 * Tokens for local apps, with the person's consent. The rules:
 * - an app gets tokens only under a grant made by the person (or a policy),
 *   bound to the app's proven key and, on Linux, to its executable's hash;
 * - `tryGet` never asks; `get` may ask once (concurrent asks from one app
 *   share one prompt), and a denial holds for a cool-down;
 * - a prompt that is not answered in time is a denial;
 * - each app gets its own token, minted for its granted scope/resource and
 *   cached apart, so revoking one app never disturbs another;
 * - never a refresh token;
 * - every decision and every token handed out is written to the audit log.
 *
 * This class is the policy; the parts it decides with live apart: the grants
 * and which one covers a request (grant-store.ts, with the one account lookup
 * of engine/accounts.ts), asking the person (consent-gate.ts), and what the
 * audit log records (audit-recorder.ts).
 */
import { EventEmitter } from 'node:events';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { findAccount, findNamedAccount, summariseAccount, type AccountSummary } from '../engine/accounts.js';
import type { BrowserLauncher } from '../engine/browser-launcher.js';
import type { OidcEngine, TokenRequest, TokenResult } from '../engine/oidc-engine.js';
import { normaliseScope } from '../engine/scope.js';
import type { AccountRecord, AuditEntry, DocumentStore, GrantRecord, VaultDocument } from '../store/vault-document.js';
import type { AuditLogState } from '../store/audit-log.js';
import type { ConsentPrompter } from './consent-prompter.js';
import { keyFingerprint } from './app-key.js';
import { AuditRecorder, type HandOut, type HandOutVia } from './audit-recorder.js';
import { ConsentGate, type Allowed, type ConsentAsk } from './consent-gate.js';
import { GrantStore, type CoveringGrant } from './grant-store.js';

/** An app whose key has been proven on this connection. */
export interface BrokerApp {
  appId: string;
  name: string;
  version?: string;
  publicKey: string;
  fingerprint: string;
  /** Linux: the process on the other end of the socket (see peer-process.ts). */
  process?: { exePath: string; exeSha256: string; argv?: string[]; pid?: number };
}

/** The engine's token request, without the owner tag: the broker sets that itself, from the proven app. */
export type AppTokenRequest = Omit<TokenRequest, 'tokenOwner'>;

export interface BrokerOptions {
  store: DocumentStore<VaultDocument>;
  engine: OidcEngine;
  prompter: ConsentPrompter;
  browser: BrowserLauncher;
  logger: Logger;
  now?: () => number;
  /** After a denial, the same app is not asked again for this long. Default 60 s. */
  denyCooldownMs?: number;
  /** An unanswered prompt becomes a denial after this long. Default 60 s. */
  promptTimeoutMs?: number;
  /** Audit entries kept in the vault. Default 5,000. */
  maxAuditEntries?: number;
  /** How long bookkeeping (last-used times, audit entries) may wait before it is written. Default 2 s. */
  flushDelayMs?: number;
}

export type BrokerEvent =
  | { type: 'grant.revoked'; appId: string; publicKey: string; account: string }
  /** `holders`: the apps (id and key) that held grants for the account, which the sign-out removed. */
  | { type: 'account.signed_out'; account: string; holders: Array<{ appId: string; publicKey: string }> };

/** An answer of {@link TokenBroker.tryGetReusable} that may be given again while {@link TokenBroker.reuse} says so. */
export interface ReusableAnswer {
  readonly doc: VaultDocument;
  /** Broker clock, ms. */
  readonly until: number;
  /** The grant it was given under (its last use is recorded at each reuse). */
  readonly grant: string;
}

/**
 * Whose cached token this is: the app id *and* key, so a program that merely
 * reuses an app's id (and was allowed once) never shares that app's tokens.
 */
function tokenOwner(appId: string, fingerprint: string): string {
  return `${appId} ${fingerprint}`;
}

export class TokenBroker {
  readonly events = new EventEmitter<{ event: [BrokerEvent] }>();
  private readonly now: () => number;
  private readonly grants: GrantStore;
  private readonly audit: AuditRecorder;
  private readonly consent: ConsentGate;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BrokerOptions) {
    this.now = options.now ?? Date.now;
    this.grants = new GrantStore(options.store);
    this.audit = new AuditRecorder({ store: options.store, logger: options.logger, now: this.now, maxEntries: options.maxAuditEntries ?? 5000, onRecord: () => this.flushSoon() });
    this.consent = new ConsentGate({
      prompter: options.prompter,
      audit: this.audit,
      now: this.now,
      grants: () => options.store.read().grants,
      denyCooldownMs: options.denyCooldownMs ?? 60_000,
      promptTimeoutMs: options.promptTimeoutMs ?? 60_000,
    });
  }

  /** Accounts this app holds a grant for: all it may learn about. */
  accountsFor(app: BrokerApp): AccountSummary[] {
    const doc = this.options.store.read();
    const granted = new Set(this.grants.grantsFor(doc, app).map((g) => g.account));
    return doc.accounts.filter((a) => granted.has(a.id)).map(summariseAccount);
  }

  /** This app's grants (bound to its key, and executable where known). */
  grantsFor(app: BrokerApp): GrantRecord[] {
    return this.grants.grantsFor(this.options.store.read(), app);
  }

  /**
   * An account was signed out: its grants go with it (a later sign-in asks
   * again) and the apps that held them are told.
   */
  async forgetAccount(account: string): Promise<void> {
    const removed = await this.grants.remove((g) => g.account === account);
    for (const g of removed) this.audit.grantRevoked(g, 'the account was signed out');
    this.events.emit('event', { type: 'account.signed_out', account, holders: removed.map((g) => ({ appId: g.appId, publicKey: g.publicKey })) });
  }

  /** Non-interactive: a token if a grant covers the request, else `consent_required` / `login_required`. */
  async tryGet(app: BrokerApp, request: AppTokenRequest): Promise<TokenResult> {
    return (await this.tryGetReusable(app, request)).token;
  }

  /**
   * {@link tryGet}, plus when its answer may be given again without asking:
   * `reuse` holds while the vault document is the same object (no grant,
   * account or token changed), the token is not due for refresh, and no
   * audit entry is due. Check it with {@link reuse}.
   */
  async tryGetReusable(app: BrokerApp, request: AppTokenRequest): Promise<{ token: TokenResult; reuse?: ReusableAnswer }> {
    const doc = this.options.store.read();
    const covered = this.grants.find(doc, app, request);
    if (!covered) throw consentRequired(app);
    const token = await this.issue(app, covered.account, request, covered.grant.scope, 'grant');
    const now = this.now();
    this.grants.noteUse(covered.grant.id, now);
    const auditDue = this.audit.nextHandOutRecord(tokenOwner(app.appId, app.fingerprint), covered.account.id, token.scope, request.resource);
    const until = Math.min(this.options.engine.reuseUntil(token, request), auditDue);
    // A refresh during `issue` changed the document: the next call may reuse its answer.
    return until > now && this.options.store.read() === doc ? { token, reuse: { doc, until, grant: covered.grant.id } } : { token };
  }

  /** Whether an earlier answer still stands; if so, the use is recorded as {@link tryGet} would. */
  reuse(answer: ReusableAnswer): boolean {
    const now = this.now();
    if (this.options.store.read() !== answer.doc || now >= answer.until) return false;
    this.grants.noteUse(answer.grant, now);
    return true;
  }

  /**
   * Interactive: a token, asking for consent and a sign-in when needed;
   * `signal` cancels the wait. One decision: a grant covers the request
   * ({@link underGrant}) or none does ({@link withConsent}).
   */
  async get(app: BrokerApp, request: AppTokenRequest, signal?: AbortSignal): Promise<TokenResult> {
    const covered = this.grants.find(this.options.store.read(), app, request);
    return covered ? this.underGrant(app, covered, request, signal) : this.withConsent(app, request, signal);
  }

  /** The app gives up its tokens for an account (or all): revoked at the provider where possible. */
  async revokeTokens(app: BrokerApp, account?: string): Promise<number> {
    const doc = this.options.store.read();
    // Every account, not only granted ones: tokens allowed "once" are the app's too.
    const accounts = account ? [this.accountIdOf(doc, account)] : doc.accounts.map((a) => a.id);
    let revoked = 0;
    for (const id of accounts) revoked += await this.options.engine.revokeAppTokens(id, tokenOwner(app.appId, app.fingerprint));
    this.audit.tokensRevoked(app, revoked, account);
    return revoked;
  }

  /** A token handed to the person's own tools; see {@link AuditRecorder.ownerTokenIssued}. */
  noteOwnerToken(token: HandOut, resource?: string, tool?: { client: string; target?: string | undefined }): void {
    this.audit.ownerTokenIssued(token, resource, tool);
  }

  /** The person revokes an app's grant(s) (CLI `latchkey apps revoke`, the desktop UI). */
  async revokeGrant(appId: string, account?: string): Promise<GrantRecord[]> {
    const accountId = account ? this.accountIdOf(this.options.store.read(), account) : undefined;
    const removed = await this.grants.remove((g) => g.appId === appId && (!accountId || g.account === accountId));
    for (const g of removed) {
      await this.options.engine.revokeAppTokens(g.account, tokenOwner(appId, keyFingerprint(g.publicKey))).catch((err) => this.options.logger.warn({ err, appId }, 'revoking app tokens failed'));
      this.audit.grantRevoked(g);
      this.events.emit('event', { type: 'grant.revoked', appId, publicKey: g.publicKey, account: g.account });
    }
    if (!removed.length) throw new LatchkeyError('not_found', `No grant for app "${appId}"${account ? ` and account ${account}` : ''}. See \`latchkey apps\`.`);
    return removed;
  }

  listGrants(): GrantRecord[] {
    this.flushSoon();
    return this.grants.list();
  }

  /** Opens the audit log file; see {@link AuditRecorder.open}. */
  async openAuditLog(path: string): Promise<void> {
    await this.audit.open(path);
  }

  /** Newest last. */
  auditLog(): AuditEntry[] {
    return this.audit.entries();
  }

  /** Whether the audit log file is as Latchkey wrote it. */
  auditIntegrity(): AuditLogState {
    return this.audit.integrity();
  }

  /**
   * Writes pending bookkeeping: audit entries always; last-used times only
   * when one moved by a minute or more (they are for people, and each write
   * rewrites the vault), or with `all` (shutdown).
   */
  async flush(options: { all?: boolean } = {}): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.audit.flush();
    await this.grants.writeLastUses(options.all ?? false);
  }

  // ---- internals ---------------------------------------------------------

  /**
   * A grant covers the request: its token; or, when the account needs a fresh
   * sign-in, the sign-in and then the grant looked up again (it may have been
   * revoked meanwhile).
   */
  private async underGrant(app: BrokerApp, { grant, account }: CoveringGrant, request: AppTokenRequest, signal: AbortSignal | undefined): Promise<TokenResult> {
    const token = account.status === 'active' ? await this.issueUnlessSignInNeeded(app, account, request, grant.scope, 'grant') : undefined;
    if (token) {
      this.grants.noteUse(grant.id, this.now());
      return token;
    }
    await this.signIn(account.provider, grant.scope, request, signal);
    return this.tryGet(app, request);
  }

  /**
   * No grant covers the request: the person decides (within a deny
   * cool-down, refused unasked), then the chosen account's token. A sign-in
   * comes first when there is no usable account (whoever signs in is the
   * account), or after when the engine says the account needs one; at most one.
   */
  private async withConsent(app: BrokerApp, request: AppTokenRequest, signal: AbortSignal | undefined): Promise<TokenResult> {
    const ask = this.consentAsk(request);
    const decision = await this.consent.ask(app, ask, signal);
    const chosen = this.chosenAccount(app, ask, decision);
    const signedIn = chosen?.status === 'active' ? undefined : await this.signIn(ask.provider, ask.scope, request, signal);
    const account = signedIn ? this.accountById(signedIn.id) : chosen!;
    const grant = decision.decision === 'always' ? await this.grants.save(app, account.id, ask.scope, request.resource, this.now()) : undefined;
    let token = signedIn ? await this.issue(app, account, request, ask.scope, decision.decision) : await this.issueUnlessSignInNeeded(app, account, request, ask.scope, decision.decision);
    if (!token) {
      await this.signIn(account.provider, ask.scope, request, signal);
      token = await this.issue(app, this.accountById(account.id), request, ask.scope, decision.decision);
    }
    // The grant was used just now: `latchkey apps` should not say "never".
    if (grant) this.grants.noteUse(grant.id, this.now());
    return token;
  }

  /** The account the answer names, or the only one offered; `undefined` when a sign-in must name it. */
  private chosenAccount(app: BrokerApp, ask: ConsentAsk, decision: Allowed): AccountRecord | undefined {
    const chosen = decision.account ?? (ask.accounts.length === 1 ? ask.accounts[0]!.id : undefined);
    if (!chosen && ask.accounts.length > 1) {
      // Guessing would hand out the wrong account; a sign-in would leave the app waiting on a browser nobody opened.
      throw new LatchkeyError(
        'usage',
        `"${app.name}" was allowed, but ${ask.accounts.length} ${ask.provider} accounts are signed in and the answer named none. Ask again naming the account, or name it in the policy rule ("account").`,
      );
    }
    return chosen ? this.options.store.read().accounts.find((a) => a.id === chosen) : undefined;
  }

  /** The token, its hand-out recorded, and only what the app was granted: the ID token only with `openid`. */
  private async issue(app: BrokerApp, account: AccountRecord, request: AppTokenRequest, grantedScope: string, via: HandOutVia): Promise<TokenResult> {
    const owner = tokenOwner(app.appId, app.fingerprint);
    const token = await this.options.engine.getToken({
      account: account.id,
      scope: normaliseScope(request.scope ?? grantedScope),
      ...(request.resource ? { resource: request.resource } : {}),
      ...(request.minTtl !== undefined ? { minTtl: request.minTtl } : {}),
      ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
      tokenOwner: owner,
    });
    this.audit.tokenIssued(app, owner, account.id, token, request.resource, via);
    if (token.idToken && !token.scope.split(' ').includes('openid')) {
      const { idToken: _withheld, ...rest } = token;
      return rest;
    }
    return token;
  }

  /**
   * {@link issue}, or `undefined` when the engine says only a fresh sign-in
   * can give this token. Only the engine, and the provider behind it, can
   * tell every such reason (a rejected refresh token, a sign-in older than
   * `max_age`, a scope the account was not granted): its `login_required` is
   * that answer, whatever the reason.
   */
  private async issueUnlessSignInNeeded(app: BrokerApp, account: AccountRecord, request: AppTokenRequest, scope: string, via: HandOutVia): Promise<TokenResult | undefined> {
    try {
      return await this.issue(app, account, request, scope, via);
    } catch (err) {
      if (err instanceof LatchkeyError && err.code === 'login_required') return undefined;
      throw err;
    }
  }

  /** What the person is asked when no grant covers the request: the provider, the scope, and the accounts to choose from. */
  private consentAsk(request: AppTokenRequest): ConsentAsk {
    const doc = this.options.store.read();
    const named = request.account ? findNamedAccount(doc, { account: request.account, provider: request.provider }) : undefined;
    if (request.account && !named) throw new LatchkeyError('not_found', `No account "${request.account}".`);
    const provider = this.options.engine.provider(named ? named.provider : request.provider);
    const accounts = named ? [named] : doc.accounts.filter((a) => a.provider === provider.name);
    return { provider: provider.name, scope: normaliseScope(request.scope ?? provider.scope), resource: request.resource, accounts: accounts.map(summariseAccount) };
  }

  /** The account an id or name stands for (the one rule); a name that fits none stays as given, and matches nothing. */
  private accountIdOf(doc: VaultDocument, account: string): string {
    return findAccount(doc.accounts, account)?.id ?? account;
  }

  /** The account as stored now: after a sign-in, its record has changed. */
  private accountById(id: string): AccountRecord {
    const account = this.options.store.read().accounts.find((a) => a.id === id);
    if (!account) throw new LatchkeyError('login_required', `Account ${id} was signed out.`);
    return account;
  }

  private async signIn(provider: string, scope: string, request: AppTokenRequest, signal?: AbortSignal): Promise<AccountSummary> {
    const providerScope = this.options.engine.provider(provider).scope;
    return this.options.engine.authorize({
      provider,
      // Ask for what the provider profile needs plus what the app needs, so one sign-in serves both.
      scope: normaliseScope(`${providerScope} ${scope}`),
      ...(request.resource ? { resource: request.resource } : {}),
      ...(signal ? { signal } : {}),
      onAuthorizationUrl: (url) => this.options.browser.open(url),
    });
  }

  private flushSoon(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush().catch((err) => this.options.logger.error({ err }, 'could not write the audit log'));
    }, this.options.flushDelayMs ?? 2000);
    this.flushTimer.unref();
  }
}

function consentRequired(app: BrokerApp): LatchkeyError {
  return new LatchkeyError('consent_required', `App "${app.appId}" has no permission for this request yet; ask with tokens.get so the user can decide.`);
}
