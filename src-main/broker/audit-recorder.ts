/**
 * What the broker writes to the audit log, and when. The rules:
 * - every consent decision, impostor warning, grant ended and token given up
 *   is recorded as it happens;
 * - a token handed out is recorded once a minute at most per holder, account,
 *   scope and resource while it is the same token: an app (or Docker) asking
 *   for its cached token in a loop would otherwise flood the log and push
 *   real history out of it with entries that say nothing new;
 * - entries wait in memory for the next write (the broker's flush), never more
 *   than the log keeps anyway;
 * - never a token: the access token is held only to tell a repeat from a new one.
 */
import type { TokenResult } from '../engine/oidc-engine.js';
import type { Logger } from '../log/logger.js';
import { AuditLog, type AuditLogState } from '../store/audit-log.js';
import type { AuditEntry, DocumentStore, GrantRecord, VaultDocument } from '../store/vault-document.js';
import { keyFingerprint } from './app-key.js';
import type { ConsentDecision } from './consent-prompter.js';
import type { ConsentWarning } from './impostor-check.js';

/** How the person's own tools (the CLI, through the owner methods) appear in the audit log; no app id can look like it. */
export const OWNER_AUDIT_NAME = 'latchkey CLI';

/** Who an entry is about: an app as proven on its connection. */
export interface AuditedApp {
  appId: string;
  name: string;
  fingerprint: string;
}

/** What the audit of a hand-out needs of it (`accessToken` only to tell a repeat from a new token; never logged). */
export type HandOut = Pick<TokenResult, 'account' | 'scope' | 'accessToken'>;

/** How a token was allowed: under a remembered grant, or by the answer just given. */
export type HandOutVia = 'grant' | 'once' | 'always';

export interface AuditRecorderOptions {
  store: DocumentStore<VaultDocument>;
  logger: Logger;
  now: () => number;
  /** Entries kept in the log. */
  maxEntries: number;
  /** Called after each new entry, so the owner schedules a write. */
  onRecord: () => void;
}

const REPEAT_AUDIT_MS = 60_000;
/** Holders choose the keys of the repeat table (app ids), so it is capped. */
const MAX_RECENT_HAND_OUTS = 1000;

export class AuditRecorder {
  private pending: AuditEntry[] = [];
  private log: AuditLog | undefined;
  /** The last token handed to each holder (per account, scope, resource), to log repeats once a minute at most. */
  private readonly recentHandOuts = new Map<string, { token: string; at: number }>();

  constructor(private readonly options: AuditRecorderOptions) {}

  /**
   * Opens the audit log file (see store/audit-log.ts); its key is kept in the
   * vault. Entries an older version kept inside the vault move into it.
   */
  async open(path: string): Promise<void> {
    const { store } = this.options;
    if (!store.read().auditKey) {
      await store.update((d) => {
        d.auditKey ??= AuditLog.newKey();
      });
    }
    const log = await AuditLog.open(path, Buffer.from(store.read().auditKey!, 'base64url'), {
      maxEntries: this.options.maxEntries,
      // Verified when first read (`activity`), not at start: that is when a change is found.
      onBroken: (integrity) => this.options.logger.warn({ path, line: integrity.brokenAtLine }, 'the audit log was changed outside Latchkey'),
    });
    const legacy = store.read().audit;
    if (legacy.length) {
      await log.append(legacy);
      await store.update((d) => {
        d.audit = [];
      });
    }
    this.log = log;
  }

  /** Newest last. */
  entries(): AuditEntry[] {
    return [...(this.log?.read() ?? []), ...this.pending];
  }

  /** Whether the audit log file is as Latchkey wrote it. */
  integrity(): AuditLogState {
    return this.log?.integrity() ?? { intact: true };
  }

  /** Writes the waiting entries (kept waiting until the log is open). */
  async flush(): Promise<void> {
    if (!this.log || !this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    await this.log.append(batch);
  }

  /** A token given to an app, unless it is a repeat within the minute. `owner`: the token's holder (see token-broker.ts). */
  tokenIssued(app: AuditedApp, owner: string, account: string, token: HandOut, resource: string | undefined, via: HandOutVia): void {
    if (!this.firstHandOut(owner, account, token, resource)) return;
    this.record({
      appId: app.appId,
      appName: app.name,
      keyFingerprint: app.fingerprint,
      account,
      scope: token.scope,
      event: 'token_issued',
      detail: via === 'grant' ? 'under a remembered grant' : `allowed ${via}`,
      ...(resource ? { resource } : {}),
    });
  }

  /**
   * A token handed to the person's own tools: the CLI's `latchkey token` is
   * logged as "latchkey CLI"; a credential helper (git, Docker, kubectl, AWS…)
   * under the tool's name with what it was for. Repeats are logged once a
   * minute at most, as for apps (Docker asks several times per command).
   */
  ownerTokenIssued(token: HandOut, resource?: string, tool?: { client: string; target?: string | undefined }): void {
    const name = tool?.client ?? OWNER_AUDIT_NAME;
    if (!this.firstHandOut(`owner\n${name}\n${tool?.target ?? ''}`, token.account ?? '', token, resource)) return;
    this.record({
      appId: name,
      appName: name,
      scope: token.scope,
      event: 'token_issued',
      detail: tool?.target ?? 'to the owner',
      ...(token.account ? { account: token.account } : {}),
      ...(resource ? { resource } : {}),
    });
  }

  /** When a repeat of this hand-out is next due in the log (broker clock, ms), so a cached answer is not given past it. */
  nextHandOutRecord(owner: string, account: string, scope: string, resource: string | undefined): number {
    return (this.recentHandOuts.get(handOutKey(owner, account, scope, resource))?.at ?? 0) + REPEAT_AUDIT_MS;
  }

  consentDecided(app: AuditedApp, scope: string, resource: string | undefined, decision: ConsentDecision): void {
    const denied = decision.decision === 'deny';
    this.record({
      appId: app.appId,
      appName: app.name,
      keyFingerprint: app.fingerprint,
      scope,
      event: denied ? 'consent_denied' : 'consent_granted',
      detail: denied ? (decision.reason ?? 'denied') : decision.decision,
      ...(!denied && decision.account ? { account: decision.account } : {}),
      ...(resource ? { resource } : {}),
    });
  }

  impostorSuspected(app: AuditedApp, scope: string, resource: string | undefined, warning: ConsentWarning): void {
    this.record({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, scope, event: warning.kind, detail: warning.message, ...(resource ? { resource } : {}) });
  }

  /** A grant ended: revoked by the person (no `detail`), or with its account's sign-out. */
  grantRevoked(grant: GrantRecord, detail?: string): void {
    this.record({
      appId: grant.appId,
      appName: grant.appName,
      keyFingerprint: keyFingerprint(grant.publicKey),
      account: grant.account,
      ...(detail ? { scope: grant.scope, detail } : {}),
      event: 'grant_revoked',
    });
  }

  /** An app gave its tokens up (for one account, or all). */
  tokensRevoked(app: AuditedApp, count: number, account: string | undefined): void {
    this.record({ appId: app.appId, appName: app.name, keyFingerprint: app.fingerprint, event: 'token_revoked', detail: `${count} token(s)`, ...(account ? { account } : {}) });
  }

  private firstHandOut(owner: string, account: string, token: HandOut, resource: string | undefined): boolean {
    const key = handOutKey(owner, account, token.scope, resource);
    const now = this.options.now();
    const seen = this.recentHandOuts.get(key);
    if (seen && seen.token === token.accessToken && now - seen.at < REPEAT_AUDIT_MS) return false;
    if (this.recentHandOuts.size >= MAX_RECENT_HAND_OUTS) this.recentHandOuts.clear();
    this.recentHandOuts.set(key, { token: token.accessToken, at: now });
    return true;
  }

  private record(entry: Omit<AuditEntry, 'at'>): void {
    this.pending.push({ at: this.options.now(), ...entry });
    // Only the newest entries are kept anyway; between writes, hold no more than that.
    const max = this.options.maxEntries;
    if (this.pending.length > 2 * max) this.pending = this.pending.slice(-max);
    this.options.onRecord();
  }
}

/** Who got which token, for the once-a-minute audit of repeated hand-outs. */
function handOutKey(owner: string, account: string, scope: string, resource: string | undefined): string {
  return `${owner}\n${account}\n${scope}\n${resource ?? ''}`;
}
