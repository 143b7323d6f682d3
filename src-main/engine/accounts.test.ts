/**
 * The one rule for finding an account by what a person or an app calls it,
 * used by the CLI (`selectAccount`), the broker (apps' `account`) and the
 * policy file. Before it the broker compared emails exactly, knew no user
 * names and took the first of several matches; these tests pin each case
 * where the copies disagreed.
 */
import { describe, expect, it } from 'vitest';
import { emptyVaultDocument, type AccountRecord, type VaultDocument } from '../store/vault-document.js';
import { accountIdFor, findAccount, findNamedAccount, matchAccounts, selectAccount, summariseAccount } from './accounts.js';

function account(provider: string, subject: string, claims: AccountRecord['claims']): AccountRecord {
  return { id: accountIdFor(provider, `https://${provider}.example`, subject), provider, subject, claims, status: 'active', scope: 'openid', tokens: [], createdAt: 0, updatedAt: 0 };
}

function vault(accounts: AccountRecord[]): VaultDocument {
  const doc = emptyVaultDocument();
  doc.providers = ['a', 'b'].map((name) => ({ name, issuer: `https://${name}.example`, clientId: 'c', scope: 'openid', redirect: 'loopback' as const, kind: 'user' as const, createdAt: 0 }));
  doc.accounts = accounts;
  return doc;
}

const alice = account('a', 'alice-sub', { email: 'alice@example.test', preferredUsername: 'Alice' });
const bob = account('a', 'bob-sub', { email: 'bob@example.test' });
// The same person's email at another provider.
const aliceAtB = account('b', 'alice-b', { email: 'Alice@Example.test' });

describe('the one account lookup', () => {
  it('an exact id wins over any name, and ids are compared exactly', () => {
    // A subject that happens to spell another account's id does not make the id ambiguous.
    const namesake = account('b', alice.id, {});
    expect(matchAccounts([namesake, alice], alice.id)).toEqual([alice]);
    expect(matchAccounts([alice], alice.id.toUpperCase())).toEqual([]);
  });

  it('email and user name match ignoring case; the subject only exactly', () => {
    expect(findAccount([alice, bob], 'ALICE@example.TEST')).toBe(alice);
    expect(findAccount([alice, bob], 'alice')).toBe(alice);
    expect(findAccount([alice, bob], 'bob-sub')).toBe(bob);
    expect(findAccount([alice, bob], 'BOB-SUB')).toBeUndefined();
    expect(findAccount([alice, bob], 'nobody@example.test')).toBeUndefined();
  });

  it('reads summaries as it reads records (the policy file matches summaries)', () => {
    const summaries = [alice, bob].map(summariseAccount);
    expect(findAccount(summaries, 'Alice@Example.Test')?.id).toBe(alice.id);
    expect(findAccount(summaries, 'ALICE')?.id).toBe(alice.id);
    expect(findAccount(summaries, 'bob-sub')?.id).toBe(bob.id);
  });

  it('a name several accounts share is a usage error naming none of them (an app may be asking)', () => {
    expect(matchAccounts([alice, bob, aliceAtB], 'alice@example.test')).toEqual([alice, aliceAtB]);
    let thrown: unknown;
    try {
      findAccount([alice, bob, aliceAtB], 'alice@example.test');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'usage', message: expect.stringContaining('account id') });
    expect((thrown as Error).message).not.toContain(alice.id);
    expect((thrown as Error).message).not.toContain(aliceAtB.id);
  });

  it('in a vault: the provider narrows the choice first, so a shared email is no longer ambiguous', () => {
    const doc = vault([alice, bob, aliceAtB]);
    expect(findNamedAccount(doc, { account: 'alice@example.test', provider: 'b' })).toBe(aliceAtB);
    expect(findNamedAccount(doc, { account: alice.id })).toBe(alice);
    // An id at another provider than the one named is not that provider's account.
    expect(findNamedAccount(doc, { account: alice.id, provider: 'b' })).toBeUndefined();
    expect(() => findNamedAccount(doc, { account: 'alice@example.test' })).toThrow(expect.objectContaining({ code: 'usage' }));
  });

  it('a frozen list (as the vault hands out) is looked up through its name index with the same answers', () => {
    const twin = account('b', 'BOB-SUB', { email: 'twin@example.test' });
    const doc = vault([alice, bob, aliceAtB, twin]);
    const frozen: AccountRecord[] = Object.freeze(doc.accounts.map((a) => Object.freeze({ ...a, claims: Object.freeze({ ...a.claims }) }))) as AccountRecord[];
    for (const wanted of ['ALICE', 'alice@example.test', 'bob-sub', 'BOB-SUB', 'Bob-Sub', 'twin@EXAMPLE.test', 'nobody', alice.id]) {
      expect(matchAccounts(frozen, wanted).map((a) => a.id), wanted).toEqual(matchAccounts(doc.accounts, wanted).map((a) => a.id));
    }
    // The index folds case to find candidates; the subject still matches only exactly.
    expect(matchAccounts(frozen, 'bob-sub')).toEqual([frozen[1]]);
    expect(matchAccounts(frozen, 'Bob-Sub')).toEqual([]);
    expect(findNamedAccount({ ...doc, accounts: frozen }, { account: 'ALICE@example.test', provider: 'b' })?.id).toBe(aliceAtB.id);
  });

  it('the CLI follows the same rule, and may list the choices to the person', () => {
    const doc = vault([alice, bob, aliceAtB]);
    expect(selectAccount(doc, { account: 'BOB@example.test' })).toBe(bob);
    expect(selectAccount(doc, { account: 'alice' })).toBe(alice);
    expect(selectAccount(doc, { account: 'alice@example.test', provider: 'b' })).toBe(aliceAtB);
    expect(() => selectAccount(doc, { account: 'alice@example.test' })).toThrow(
      expect.objectContaining({ code: 'usage', message: expect.stringMatching(new RegExp(`choose one with --account: .*${alice.id}.*${aliceAtB.id}`)) }),
    );
  });
});
