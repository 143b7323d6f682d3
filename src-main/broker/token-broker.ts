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
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { summariseAccount, type AccountSummary } from '../engine/accounts.js';
import type { BrowserLauncher } from '../engine/browser-launcher.js';
import type { OidcEngine, TokenResult } from '../engine/oidc-engine.js';
import { isSubsetScope, normaliseScope } from '../engine/scope.js';
import { SingleFlight } from '../engine/single-flight.js';
import type { AccountRecord, AuditEntry, DocumentStore, GrantRecord, VaultDocument } from '../store/vault-document.js';
import type { ConsentDecision, ConsentPrompter } from './consent-prompter.js';
import { keyFingerprint } from './app-key.js';
import { AuditLog, type AuditLogState } from '../store/audit-log.js';
import { grantBucket, indexDocument } from '../store/document-index.js';
import { impostorWarning } from './impostor-check.js';

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

export interface AppTokenRequest {
  provider?: string;
  account?: string;
  scope?: string;
  resource?: string;
  minTtl?: number;
  maxAge?: number;
}

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

const MAX_DENIALS = 1000;
const LAST_USED_PRECISION_MS = 60_000;
const REPEAT_AUDIT_MS = 60_000;
/** How the person's own tools (the CLI, through the owner methods) appear in the audit log; no app id can look like it. */
export const OWNER_AUDIT_NAME = 'latchkey CLI';

/** An answer of {@link TokenBroker.tryGetReusable} that may be given again while {@link TokenBroker.reuse} says so. */
export interface ReusableAnswer {
  readonly doc: VaultDocument;
  /** Broker clock, ms. */
  readonly until: number;
  /** The grant it was given under (its last use is recorded at each reuse). */
  readonly grant: string;
}

/** What the audit of a hand-out needs of it (`accessToken` only to tell a repeat from a new token; never logged). */
type HandOut = Pick<TokenResult, 'account' | 'scope' | 'accessToken'>;

/** Who got which token, for the once-a-minute audit of repeated hand-outs; `owner` is a {@link tokenOwner} or the CLI's name. */
function handOutKey(owner: string, account: string, scope: string, resource: string | undefined): string {
  return `${owner}\n${account}\n${scope}\n${resource ?? ''}`;
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
  private readonly prompts = new SingleFlight<ConsentDecision>();
  private readonly deniedUntil = new Map<string, number>();
  private pendingAudit: AuditEntry[] = [];
  private pendingLastUsed = new Map<string, number>();
  private auditStore: AuditLog | undefined;
  /** The last token handed to each app (per account, scope, resource), to log repeats once a minute at most. */
  private readonly recentHandOuts = new Map<string, { token: string; at: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BrokerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Accounts this app holds a grant for: all it may learn about. */
  accountsFor(app: BrokerApp): AccountSummary[] {
    const granted = new Set(this.grantsFor(app).map((g) => g.account));
    return this.options.store.read().accounts.filter((a) => granted.has(a.id)).map(summariseAccount);
  }

  /** This app's grants (bound to its key, and executable where known). */
  grantsFor(app: BrokerApp): GrantRecord[] {
    // The index only narrows to this app id and key; grantBelongsTo still decides.
    const bucket = indexDocument(this.options.store.read()).grantsByApp.get(grantBucket(app.appId, app.publicKey)) ?? [];
    return bucket.filter((g) => this.grantBelongsTo(g, app));
  }

  /**
   * An account was signed out: its grants go with it (a later sign-in asks
   * again) and the apps that held them are told.
   */
  async forgetAccount(account: string): Promise<void> {
    let removed: GrantRecord[] = [];
    await this.options.store.update((d) => {
      // Copied out: the draft's records are gone once the update finishes.
      removed = d.grants.filter((g) => g.account === account).map((g) => ({ ...g }));
      d.grants = d.grants.filter((g) => g.account !== account);
    });
    for (const g of removed) this.audit({ appId: g.appId, appName: g.appName, keyFingerprint: keyFingerprint(g.publicKey), account, scope: g.scope, event: 'grant_revoked', detail: 'the account was signed out' });
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
    const { grant, account } = this.findGrant(app, request);
    const token = await this.issue(app, account, request, grant.scope, 'grant');
    const now = this.now();
    this.pendingLastUsed.set(grant.id, now);
    const audited = this.recentHandOuts.get(handOutKey(tokenOwner(app.appId, app.fingerprint), account.id, token.scope, request.resource))?.at ?? 0;
    const until = Math.min(this.options.engine.reuseUntil(token, request), audited + REPEAT_AUDIT_MS);
    // A refresh during `issue` changed the document: the next call may reuse its answer.
    return until > now && this.options.store.read() === doc ? { token, reuse: { doc, until, grant: grant.id } } : { token };
  }

  /** Whether an earlier answer still stands; if so, the use is recorded as {@link tryGet} would. */
  reuse(answer: ReusableAnswer): boolean {
    const now = this.now();
    if (this.options.store.read() !== answer.doc || now >= answer.until) return false;
    this.pendingLastUsed.set(answer.grant, now);
    return true;
  }

  /** Interactive: asks for consent (and a sign-in) when needed; `signal` cancels the wait. */
  async get(app: BrokerApp, request: AppTokenRequest, signal?: AbortSignal): Promise<TokenResult> {
    try {
      return await this.tryGet(app, request);
    } catch (err) {
      if (!(err instanceof LatchkeyError)) throw err;
      if (err.code === 'login_required') return this.signInThenIssue(app, request, signal);
      if (err.code !== 'consent_required') throw err;
    }
    const provider = this.providerFor(request);
    const scope = normaliseScope(request.scope ?? provider.scope);
    const candidates = this.candidateAccounts(provider.name, request.account);
    const decision = await this.askConsent(app, provider.name, scope, request.resource, candidates, signal);
    let accountId = decision.account ?? (candidates.length === 1 ? candidates[0]!.id : undefined);
    if (!accountId && candidates.length > 1) {
      // Guessing would hand out the wrong account; a sign-in would leave the app waiting on a browser nobody opened.
      throw new LatchkeyError(
        'usage',
        `"${app.name}" was allowed, but ${candidates.length} ${provider.name} accounts are signed in and the answer named none. Ask again naming the account, or name it in the policy rule ("account").`,
      );
    }
    if (!accountId || this.options.store.read().accounts.find((a) => a.id === accountId)?.status !== 'active') {
      accountId = (await this.signIn(provider.name, scope, request, signal)).id;
    }
    const grant = decision.decision === 'always' ? await this.saveGrant(app, accountId, scope, request.resource) : undefined;
    const account = this.options.store.read().accounts.find((a) => a.id === accountId)!;
    const token = await this.issue(app, account, request, scope, decision.decision);
    // The grant was used just now: `latchkey apps` should not say "never".
    if (grant) this.pendingLastUsed.set(grant.id, this.now());
    return token;
  }

  /** The app gives up its tokens for an account (or all): revoked at the provider where possible. */
  async revokeTokens(app: BrokerApp, account?: string): Promise<number> {
    // Every account, not only granted ones: tokens allowed "once" are the app's too.
    const accounts = account ? [this.resolveAccountId(account)] : this.options.store.read().accounts.map((a) => a.id);
    let revoked = 0;
    for (const id of accounts) revoked += await this.options.engine.revokeAppTokens(id, tokenOwner(app.appId, app.fingerprint));
    this.audit({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, event: 'token_revoked', detail: `${revoked} token(s)`, ...(account ? { account } : {}) });
    return revoked;
  }

  /**
   * A token handed to the person's own tools: the CLI's `latchkey token` is
   * logged as "latchkey CLI"; a credential helper (git, Docker, kubectl, AWS…)
   * under the tool's name with what it was for. Repeats are logged once a
   * minute at most, as for apps (Docker asks several times per command).
   */
  noteOwnerToken(token: HandOut, resource?: string, tool?: { client: string; target?: string | undefined }): void {
    const name = tool?.client ?? OWNER_AUDIT_NAME;
    if (!this.firstHandOut(`owner\n${name}\n${tool?.target ?? ''}`, token.account ?? '', token, resource)) return;
    this.audit({
      appId: name,
      appName: name,
      scope: token.scope,
      event: 'token_issued',
      detail: tool?.target ?? 'to the owner',
      ...(token.account ? { account: token.account } : {}),
      ...(resource ? { resource } : {}),
    });
  }

  /** The person revokes an app's grant(s) (CLI `latchkey apps revoke`, the desktop UI). */
  async revokeGrant(appId: string, account?: string): Promise<GrantRecord[]> {
    let removed: GrantRecord[] = [];
    await this.options.store.update((d) => {
      const matches = (g: GrantRecord) => g.appId === appId && (!account || g.account === account);
      // Copied out: the draft's records are gone once the update finishes.
      removed = d.grants.filter(matches).map((g) => ({ ...g }));
      d.grants = d.grants.filter((g) => !matches(g));
    });
    for (const g of removed) {
      await this.options.engine.revokeAppTokens(g.account, tokenOwner(appId, keyFingerprint(g.publicKey))).catch((err) => this.options.logger.warn({ err, appId }, 'revoking app tokens failed'));
      this.audit({ appId, appName: g.appName, keyFingerprint: keyFingerprint(g.publicKey), account: g.account, event: 'grant_revoked' });
      this.events.emit('event', { type: 'grant.revoked', appId, publicKey: g.publicKey, account: g.account });
    }
    if (!removed.length) throw new LatchkeyError('not_found', `No grant for app "${appId}"${account ? ` and account ${account}` : ''}. See \`latchkey apps\`.`);
    return removed;
  }

  listGrants(): GrantRecord[] {
    this.flushSoon();
    return this.options.store.read().grants.map((g) => ({ ...g, ...(this.pendingLastUsed.has(g.id) ? { lastUsedAt: this.pendingLastUsed.get(g.id)! } : {}) }));
  }

  /**
   * Opens the audit log file (see store/audit-log.ts); its key is kept in the
   * vault. Entries an older version kept inside the vault move into it.
   */
  async openAuditLog(path: string): Promise<void> {
    if (!this.options.store.read().auditKey) {
      await this.options.store.update((d) => {
        d.auditKey ??= AuditLog.newKey();
      });
    }
    const log = await AuditLog.open(path, Buffer.from(this.options.store.read().auditKey!, 'base64url'), {
      maxEntries: this.options.maxAuditEntries ?? 5000,
      // Verified when first read (`activity`), not at start: that is when a change is found.
      onBroken: (integrity) => this.options.logger.warn({ path, line: integrity.brokenAtLine }, 'the audit log was changed outside Latchkey'),
    });
    const legacy = this.options.store.read().audit;
    if (legacy.length) {
      await log.append(legacy);
      await this.options.store.update((d) => {
        d.audit = [];
      });
    }
    this.auditStore = log;
  }

  /** Newest last. */
  auditLog(): AuditEntry[] {
    return [...(this.auditStore?.read() ?? []), ...this.pendingAudit];
  }

  /** Whether the audit log file is as Latchkey wrote it. */
  auditIntegrity(): AuditLogState {
    return this.auditStore?.integrity() ?? { intact: true };
  }

  /**
   * Writes pending bookkeeping: audit entries always; last-used times only
   * when one moved by a minute or more (they are for people, and each write
   * rewrites the vault), or with `all` (shutdown).
   */
  async flush(options: { all?: boolean } = {}): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.auditStore && this.pendingAudit.length) {
      const audit = this.pendingAudit;
      this.pendingAudit = [];
      await this.auditStore.append(audit);
    }
    if (!this.pendingLastUsed.size) return;
    const stored = new Map(this.options.store.read().grants.map((g) => [g.id, g.lastUsedAt ?? 0]));
    const due = options.all || [...this.pendingLastUsed].some(([id, at]) => stored.has(id) && at - stored.get(id)! >= LAST_USED_PRECISION_MS);
    if (!due) return;
    const lastUsed = this.pendingLastUsed;
    this.pendingLastUsed = new Map();
    await this.options.store.update((d) => {
      for (const g of d.grants) if (lastUsed.has(g.id)) g.lastUsedAt = lastUsed.get(g.id)!;
    });
  }

  // ---- internals ---------------------------------------------------------

  private grantBelongsTo(g: GrantRecord, app: BrokerApp): boolean {
    if (g.appId !== app.appId || g.publicKey !== app.publicKey) return false;
    // A grant made for one binary does not carry over to a changed one; and if the program cannot be
    // seen now (socket passed on, non-dumpable process, `ss` failing) a program-bound grant does not apply.
    if (g.exeSha256 && (!app.process || g.exeSha256 !== app.process.exeSha256 || g.exePath !== app.process.exePath)) return false;
    return true;
  }

  private findGrant(app: BrokerApp, request: AppTokenRequest): { grant: GrantRecord; account: AccountRecord } {
    const { accountsById } = indexDocument(this.options.store.read());
    const scope = request.scope ? normaliseScope(request.scope) : undefined;
    const matches = this.grantsFor(app)
      .filter((g) => (request.resource ?? undefined) === (g.resource ?? undefined))
      .filter((g) => scope === undefined || isSubsetScope(scope, g.scope))
      .map((g) => ({ grant: g, account: accountsById.get(g.account) }))
      .filter((m): m is { grant: GrantRecord; account: AccountRecord } => m.account !== undefined)
      .filter((m) => !request.provider || m.account.provider === request.provider)
      .filter((m) => !request.account || m.account.id === request.account || m.account.claims.email === request.account);
    if (matches.length === 0) {
      throw new LatchkeyError('consent_required', `App "${app.appId}" has no permission for this request yet; ask with tokens.get so the user can decide.`);
    }
    // Most recently used first: a stable choice when an app holds grants for several accounts.
    matches.sort((a, b) => (b.grant.lastUsedAt ?? b.grant.createdAt) - (a.grant.lastUsedAt ?? a.grant.createdAt));
    return matches[0]!;
  }

  private async issue(app: BrokerApp, account: AccountRecord, request: AppTokenRequest, grantedScope: string, via: 'grant' | 'once' | 'always'): Promise<TokenResult> {
    const scope = normaliseScope(request.scope ?? grantedScope);
    const token = await this.options.engine.getToken({
      account: account.id,
      scope,
      ...(request.resource ? { resource: request.resource } : {}),
      ...(request.minTtl !== undefined ? { minTtl: request.minTtl } : {}),
      ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
      appId: tokenOwner(app.appId, app.fingerprint),
    });
    if (this.firstHandOut(tokenOwner(app.appId, app.fingerprint), account.id, token, request.resource)) {
      this.audit({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, account: account.id, scope: token.scope, event: 'token_issued', detail: via === 'grant' ? 'under a remembered grant' : `allowed ${via}`, ...(request.resource ? { resource: request.resource } : {}) });
    }
    // Only what the app was granted: the ID token only with `openid`.
    if (token.idToken && !token.scope.split(' ').includes('openid')) {
      const { idToken: _withheld, ...rest } = token;
      return rest;
    }
    return token;
  }

  /** An account id from an id or an email; unknown ones stay as given (and match nothing). */
  private resolveAccountId(account: string): string {
    return this.options.store.read().accounts.find((a) => a.id === account || a.claims.email === account)?.id ?? account;
  }

  private providerFor(request: AppTokenRequest) {
    const doc = this.options.store.read();
    if (request.account) {
      const account = doc.accounts.find((a) => a.id === request.account || a.claims.email === request.account);
      if (!account) throw new LatchkeyError('not_found', `No account "${request.account}".`);
      return this.options.engine.provider(account.provider);
    }
    return this.options.engine.provider(request.provider);
  }

  private candidateAccounts(provider: string, account?: string): AccountSummary[] {
    return this.options.store
      .read()
      .accounts.filter((a) => a.provider === provider && (!account || a.id === account || a.claims.email === account))
      .map(summariseAccount);
  }

  private async askConsent(app: BrokerApp, provider: string, scope: string, resource: string | undefined, accounts: AccountSummary[], signal?: AbortSignal): Promise<ConsentDecision & { decision: 'once' | 'always' }> {
    // The program is part of who asked: denying one binary does not silence another with the same key.
    const key = JSON.stringify([app.appId, app.publicKey, app.process?.exeSha256 ?? null, provider, scope, resource ?? null]);
    const until = this.deniedUntil.get(key) ?? 0;
    if (until > this.now()) {
      throw new LatchkeyError('access_denied', `The user denied "${app.name}" access recently; try again in ${Math.ceil((until - this.now()) / 1000)} s.`);
    }
    const timeoutMs = this.options.promptTimeoutMs ?? 60_000;
    // Concurrent requests from one app share one prompt.
    const decision = await this.prompts.run(key, async () => {
      // The prompt is shared by every waiting caller, so only its own deadline ends it, not one caller's cancel.
      const timeout = AbortSignal.timeout(timeoutMs);
      const warning = impostorWarning(this.options.store.read().grants, app);
      if (warning) this.audit({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, scope, event: warning.kind, detail: warning.message, ...(resource ? { resource } : {}) });
      const request = {
        app: { id: app.appId, name: app.name, fingerprint: app.fingerprint, ...(app.version ? { version: app.version } : {}), ...(app.process ? { exePath: app.process.exePath, exeSha256: app.process.exeSha256 } : {}) },
        provider,
        accounts,
        scope,
        timeoutMs,
        ...(resource ? { resource } : {}),
        ...(warning ? { warning } : {}),
      };
      const answer = await this.options.prompter.prompt(request, timeout);
      // Past the deadline, anything but an explicit "deny" (a late "allow", or a prompter settling with no opinion) is the timeout.
      const final: ConsentDecision = timeout.aborted && answer?.decision !== 'deny' ? { decision: 'deny', reason: 'The consent prompt timed out.' } : (answer ?? { decision: 'deny' });
      this.audit({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, scope, event: final.decision === 'deny' ? 'consent_denied' : 'consent_granted', detail: final.decision === 'deny' ? (final.reason ?? 'denied') : final.decision, ...(final.decision !== 'deny' && final.account ? { account: final.account } : {}), ...(resource ? { resource } : {}) });
      if (final.decision === 'deny') this.noteDenial(key);
      return final;
    });
    if (signal?.aborted) throw new LatchkeyError('cancelled', 'The request was cancelled.');
    if (decision.decision === 'deny') throw new LatchkeyError('access_denied', decision.reason ?? `The user denied "${app.name}" access.`);
    return decision;
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

  private async signInThenIssue(app: BrokerApp, request: AppTokenRequest, signal?: AbortSignal): Promise<TokenResult> {
    const { grant, account } = this.findGrant(app, request);
    await this.signIn(account.provider, grant.scope, { ...request, account: account.id }, signal);
    return this.tryGet(app, request);
  }

  private async saveGrant(app: BrokerApp, account: string, scope: string, resource: string | undefined): Promise<GrantRecord> {
    const grant: GrantRecord = {
      id: randomUUID(),
      appId: app.appId,
      appName: app.name,
      publicKey: app.publicKey,
      account,
      scope,
      mode: 'always',
      createdAt: this.now(),
      ...(resource ? { resource } : {}),
      ...(app.process ? { exePath: app.process.exePath, exeSha256: app.process.exeSha256 } : {}),
    };
    await this.options.store.update((d) => {
      // One grant per app, account and resource: a new answer replaces the old one.
      d.grants = [...d.grants.filter((g) => !(g.appId === app.appId && g.account === account && g.resource === grant.resource)), grant];
    });
    return grant;
  }

  /**
   * Whether this hand-out belongs in the audit log: a token the app has not
   * been given in the last minute. An app asking for its cached token in a
   * loop would otherwise flood the log (and push real history out of it) with
   * entries that say nothing new.
   */
  private firstHandOut(owner: string, account: string, token: HandOut, resource: string | undefined): boolean {
    const key = handOutKey(owner, account, token.scope, resource);
    const now = this.now();
    const seen = this.recentHandOuts.get(key);
    if (seen && seen.token === token.accessToken && now - seen.at < REPEAT_AUDIT_MS) return false;
    if (this.recentHandOuts.size >= MAX_DENIALS) this.recentHandOuts.clear();
    this.recentHandOuts.set(key, { token: token.accessToken, at: now });
    return true;
  }

  /** Remembers a denial for the cool-down; expired ones are dropped and the map is capped, as apps choose the keys. */
  private noteDenial(key: string): void {
    const now = this.now();
    if (this.deniedUntil.size >= MAX_DENIALS) {
      for (const [k, until] of this.deniedUntil) if (until <= now) this.deniedUntil.delete(k);
      // Still full of live denials: forget the oldest; the worst case is one prompt sooner.
      while (this.deniedUntil.size >= MAX_DENIALS) this.deniedUntil.delete(this.deniedUntil.keys().next().value!);
    }
    this.deniedUntil.set(key, now + (this.options.denyCooldownMs ?? 60_000));
  }

  private audit(entry: Omit<AuditEntry, 'at'>): void {
    this.pendingAudit.push({ at: this.now(), ...entry });
    // Only the newest entries are kept anyway; between writes, hold no more than that.
    const max = this.options.maxAuditEntries ?? 5000;
    if (this.pendingAudit.length > 2 * max) this.pendingAudit = this.pendingAudit.slice(-max);
    this.flushSoon();
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
