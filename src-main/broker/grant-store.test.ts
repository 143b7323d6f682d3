/**
 * The grant store and matcher over an in-memory vault: which grant covers a
 * request (key, program, resource, scope, provider, account), the most
 * recently used among several, one grant per app, account and resource, and
 * last uses written only when they moved by a minute (or at shutdown).
 */
import { describe, expect, it } from 'vitest';
import { emptyVaultDocument, type AccountRecord, type GrantRecord, type VaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { GrantStore, type GrantHolder } from './grant-store.js';

const PROGRAM = { exePath: '/usr/bin/tool', exeSha256: 'ab'.repeat(32) };
const app: GrantHolder = { appId: 'com.example.tool', name: 'Tool', publicKey: 'key-1', process: PROGRAM };

function account(id: string, provider: string, email: string): AccountRecord {
  return { id, provider, subject: id, claims: { email }, status: 'active', scope: 'openid email', tokens: [], createdAt: 0, updatedAt: 0 };
}

function grant(id: string, accountId: string, extra: Partial<GrantRecord> = {}): GrantRecord {
  return { id, appId: app.appId, appName: app.name, publicKey: app.publicKey, account: accountId, scope: 'email openid', mode: 'always', createdAt: 10, ...extra };
}

function storeWith(grants: GrantRecord[]): MemoryStore<VaultDocument> {
  const doc = emptyVaultDocument();
  doc.accounts = [account('work-1', 'work', 'a@example.test'), account('home-1', 'home', 'b@example.test')];
  doc.grants = grants;
  return new MemoryStore(doc);
}

describe('GrantStore', () => {
  it('a grant covers a request only for its key and program, resource, a scope within it, and its provider and account', () => {
    const store = storeWith([grant('g1', 'work-1', { ...PROGRAM, resource: 'https://api.example.test/' })]);
    const grants = new GrantStore(store);
    const doc = store.read();
    const query = { resource: 'https://api.example.test/' };
    expect(grants.find(doc, app, query)?.grant.id).toBe('g1');
    expect(grants.find(doc, app, { ...query, scope: 'openid', provider: 'work', account: 'A@example.test' })?.account.id).toBe('work-1');
    const misses: Array<[string, GrantHolder, object]> = [
      ['another key', { ...app, publicKey: 'key-2' }, query],
      ['another program', { ...app, process: { ...PROGRAM, exeSha256: 'cd'.repeat(32) } }, query],
      ['the program at another path', { ...app, process: { ...PROGRAM, exePath: '/tmp/tool' } }, query],
      ['a program that cannot be seen', { appId: app.appId, name: app.name, publicKey: app.publicKey }, query],
      ['no resource', app, {}],
      ['a wider scope', app, { ...query, scope: 'openid email api:write' }],
      ['another provider', app, { ...query, provider: 'home' }],
      ['another account', app, { ...query, account: 'b@example.test' }],
      ['an unknown account', app, { ...query, account: 'nobody@example.test' }],
    ];
    for (const [what, holder, q] of misses) expect(grants.find(doc, holder, q), what).toBeUndefined();
    expect(grants.grantsFor(doc, { ...app, process: undefined })).toEqual([]);
  });

  it('among several grants, the most recently used (ties: the first)', () => {
    const store = storeWith([grant('g1', 'work-1'), grant('g2', 'home-1', { lastUsedAt: 50 }), grant('g3', 'work-1', { createdAt: 50, resource: 'https://x.test/' })]);
    const grants = new GrantStore(store);
    expect(grants.find(store.read(), app, {})?.grant.id).toBe('g2');
    const tie = storeWith([grant('g1', 'work-1'), grant('g2', 'home-1')]);
    expect(new GrantStore(tie).find(tie.read(), app, {})?.grant.id).toBe('g1');
  });

  it('one grant per app, account and resource: saving again replaces it', async () => {
    const store = storeWith([grant('g1', 'work-1'), grant('g2', 'work-1', { resource: 'https://x.test/' })]);
    const grants = new GrantStore(store);
    const saved = await grants.save(app, 'work-1', 'openid', undefined, 99);
    expect(store.read().grants.map((g) => [g.account, g.resource, g.scope])).toEqual([
      ['work-1', 'https://x.test/', 'email openid'],
      ['work-1', undefined, 'openid'],
    ]);
    expect(saved).toMatchObject({ createdAt: 99, ...PROGRAM });
    expect((await grants.remove((g) => g.resource !== undefined)).map((g) => g.id)).toEqual(['g2']);
    expect(store.read().grants.map((g) => g.id)).toEqual([saved.id]);
  });

  it('last uses show at once and are written when one moved by a minute, or all at shutdown', async () => {
    const store = storeWith([grant('g1', 'work-1', { lastUsedAt: 100_000 })]);
    const grants = new GrantStore(store);
    grants.noteUse('g1', 130_000);
    expect(grants.list()[0]!.lastUsedAt).toBe(130_000);
    await grants.writeLastUses(false);
    expect(store.read().grants[0]!.lastUsedAt).toBe(100_000);
    grants.noteUse('g1', 160_000);
    await grants.writeLastUses(false);
    expect(store.read().grants[0]!.lastUsedAt).toBe(160_000);
    grants.noteUse('g1', 161_000);
    await grants.writeLastUses(true);
    expect(store.read().grants[0]!.lastUsedAt).toBe(161_000);
  });
});
