/**
 * Lookups into a vault document that the hot path (an app's cached token)
 * makes on every call: accounts by id and grants by app. Built once per
 * document: the vault hands out the same deep-frozen object until an update,
 * and `find`/`filter` over frozen arrays is several times slower on Node 20.
 *
 * Buckets only narrow the search; callers still apply every check to what
 * they find, so the index never decides anything a scan would not.
 */
import type { AccountRecord, GrantRecord, VaultDocument } from './vault-document.js';

export interface DocumentIndex {
  /** The first account with each id, as `accounts.find` would return it. */
  accountsById: ReadonlyMap<string, AccountRecord>;
  /** Grants by {@link grantBucket}, in document order. */
  grantsByApp: ReadonlyMap<string, readonly GrantRecord[]>;
}

const indexes = new WeakMap<VaultDocument, DocumentIndex>();

export function grantBucket(appId: string, publicKey: string): string {
  return `${appId}\n${publicKey}`;
}

/** The index of `doc`; remembered only for a frozen document, which cannot change under it. */
export function indexDocument(doc: VaultDocument): DocumentIndex {
  const known = indexes.get(doc);
  if (known) return known;
  const accountsById = new Map<string, AccountRecord>();
  for (const a of doc.accounts) if (!accountsById.has(a.id)) accountsById.set(a.id, a);
  const grantsByApp = new Map<string, GrantRecord[]>();
  for (const g of doc.grants) {
    const bucket = grantBucket(g.appId, g.publicKey);
    const list = grantsByApp.get(bucket);
    if (list) list.push(g);
    else grantsByApp.set(bucket, [g]);
  }
  const index: DocumentIndex = { accountsById, grantsByApp };
  if (Object.isFrozen(doc) && Object.isFrozen(doc.accounts) && Object.isFrozen(doc.grants)) indexes.set(doc, index);
  return index;
}
