/**
 * An app's remembered grants ("always"; an "once" answer is never stored),
 * and which one covers a request. The rules:
 * - a grant belongs to an app id *and* the key it proved and, where the grant
 *   names one, the program it was made for: a changed binary, or a program
 *   that cannot be seen now, is asked again;
 * - it covers a request when the resource is the same (or absent in both),
 *   the requested scopes are within it, and the request's provider and
 *   account are the grant's (the account found by the one rule of
 *   engine/accounts.ts; a name that fits several accounts is an error);
 * - among several, the most recently used: a stable choice when an app holds
 *   grants for several accounts;
 * - one grant per app, account and resource: a new "always" replaces the old one;
 * - last uses are held in memory and written when one moved by a minute
 *   (they are for people, and each write rewrites the vault).
 */
import { randomUUID } from 'node:crypto';
import { findNamedAccount } from '../engine/accounts.js';
import { isSubsetScope, normaliseScope } from '../engine/scope.js';
import { grantBucket, indexDocument } from '../store/document-index.js';
import type { AccountRecord, DocumentStore, GrantRecord, VaultDocument } from '../store/vault-document.js';

/** What a grant is matched against: the app as proven on its connection. */
export interface GrantHolder {
  appId: string;
  name: string;
  publicKey: string;
  /** Linux: the process on the other end of the socket (see peer-process.ts). */
  process?: { exePath: string; exeSha256: string };
}

/** What a grant must cover: the request's fields the matcher reads. */
export interface GrantQuery {
  provider?: string | undefined;
  account?: string | undefined;
  scope?: string | undefined;
  resource?: string | undefined;
}

export interface CoveringGrant {
  grant: GrantRecord;
  account: AccountRecord;
}

const LAST_USED_PRECISION_MS = 60_000;

export class GrantStore {
  private pendingLastUsed = new Map<string, number>();

  constructor(private readonly store: DocumentStore<VaultDocument>) {}

  /** This app's grants in `doc` (bound to its key, and executable where known). */
  grantsFor(doc: VaultDocument, app: GrantHolder): GrantRecord[] {
    return this.bucket(doc, app).filter((g) => grantBelongsTo(g, app));
  }

  /** The grant that covers `query` for this app, with its account; `undefined` when none does. */
  find(doc: VaultDocument, app: GrantHolder, query: GrantQuery): CoveringGrant | undefined {
    let named: AccountRecord | undefined;
    if (query.account) {
      named = findNamedAccount(doc, { account: query.account, provider: query.provider });
      if (!named) return undefined;
    }
    const { accountsById } = indexDocument(doc);
    const scope = query.scope ? normaliseScope(query.scope) : undefined;
    let best: CoveringGrant | undefined;
    // A loop, not a chain of filters: this runs on every uncached token call.
    for (const grant of this.bucket(doc, app)) {
      if (!grantBelongsTo(grant, app) || (query.resource ?? undefined) !== (grant.resource ?? undefined)) continue;
      if (named && grant.account !== named.id) continue;
      if (scope !== undefined && !isSubsetScope(scope, grant.scope)) continue;
      const account = accountsById.get(grant.account);
      if (!account || (query.provider && account.provider !== query.provider)) continue;
      // Ties keep document order.
      if (!best || lastUse(grant) > lastUse(best.grant)) best = { grant, account };
    }
    return best;
  }

  /** Remembers "always" for this app, account, scope and resource (and program, where known). */
  async save(app: GrantHolder, account: string, scope: string, resource: string | undefined, now: number): Promise<GrantRecord> {
    const grant: GrantRecord = {
      id: randomUUID(),
      appId: app.appId,
      appName: app.name,
      publicKey: app.publicKey,
      account,
      scope,
      mode: 'always',
      createdAt: now,
      ...(resource ? { resource } : {}),
      ...(app.process ? { exePath: app.process.exePath, exeSha256: app.process.exeSha256 } : {}),
    };
    await this.store.update((d) => {
      d.grants = [...d.grants.filter((g) => !(g.appId === app.appId && g.account === account && g.resource === grant.resource)), grant];
    });
    return grant;
  }

  /** Removes the grants `matches` picks, and answers them. */
  async remove(matches: (g: GrantRecord) => boolean): Promise<GrantRecord[]> {
    let removed: GrantRecord[] = [];
    await this.store.update((d) => {
      // Copied out: the draft's records are gone once the update finishes.
      removed = d.grants.filter(matches).map((g) => ({ ...g }));
      d.grants = d.grants.filter((g) => !matches(g));
    });
    return removed;
  }

  /** The grant was used at `at` (ms); written by {@link writeLastUses}. */
  noteUse(grantId: string, at: number): void {
    this.pendingLastUsed.set(grantId, at);
  }

  /** Every grant, with its last use as known now (written or not). */
  list(): GrantRecord[] {
    return this.store.read().grants.map((g) => ({ ...g, ...(this.pendingLastUsed.has(g.id) ? { lastUsedAt: this.pendingLastUsed.get(g.id)! } : {}) }));
  }

  /** Writes the last uses when one moved by a minute or more, or with `all` (shutdown). */
  async writeLastUses(all: boolean): Promise<void> {
    if (!this.pendingLastUsed.size) return;
    const stored = new Map(this.store.read().grants.map((g) => [g.id, g.lastUsedAt ?? 0]));
    const due = all || [...this.pendingLastUsed].some(([id, at]) => stored.has(id) && at - stored.get(id)! >= LAST_USED_PRECISION_MS);
    if (!due) return;
    const lastUsed = this.pendingLastUsed;
    this.pendingLastUsed = new Map();
    await this.store.update((d) => {
      for (const g of d.grants) if (lastUsed.has(g.id)) g.lastUsedAt = lastUsed.get(g.id)!;
    });
  }

  /** The index only narrows to this app id and key; {@link grantBelongsTo} still decides. */
  private bucket(doc: VaultDocument, app: GrantHolder): readonly GrantRecord[] {
    return indexDocument(doc).grantsByApp.get(grantBucket(app.appId, app.publicKey)) ?? [];
  }
}

function grantBelongsTo(g: GrantRecord, app: GrantHolder): boolean {
  if (g.appId !== app.appId || g.publicKey !== app.publicKey) return false;
  // A grant made for one binary does not carry over to a changed one; and if the program cannot be
  // seen now (socket passed on, non-dumpable process, `ss` failing) a program-bound grant does not apply.
  if (g.exeSha256 && (!app.process || g.exeSha256 !== app.process.exeSha256 || g.exePath !== app.process.exePath)) return false;
  return true;
}

function lastUse(g: GrantRecord): number {
  return g.lastUsedAt ?? g.createdAt;
}
