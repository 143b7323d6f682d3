import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PassphraseKeySource } from '../vault/passphrase-key-source.js';
import { tempDir } from '../testing/test-home.js';
import { Vault } from '../vault/vault.js';
import { parseVaultDocument, VAULT_DOCUMENT_OPTIONS, VAULT_DOCUMENT_RULES, VaultDocumentSchema, type AccountRecord, type VaultDocument } from './vault-document.js';

const account = (id: string): AccountRecord => ({
  id,
  provider: 'demo',
  subject: id,
  claims: {},
  status: 'active',
  scope: 'openid',
  tokens: [{ accessToken: `at-${id}`, tokenType: 'Bearer', scope: 'openid', obtainedAt: 1 }],
  createdAt: 1,
  updatedAt: 1,
});

/** A vault that validates updates by what they changed, as the agent's does. */
async function openDocumentVault() {
  const path = join(await tempDir(), 'vault.json');
  const open = () =>
    Vault.open<VaultDocument>({
      path,
      ...VAULT_DOCUMENT_OPTIONS,
      keySource: new PassphraseKeySource(async () => 'document test'),
    });
  const vault = await open();
  await vault.update((d) => void d.accounts.push(account('a'), account('b')));
  return { vault, open };
}

describe('checkVaultDocumentChanges (the vault checks only what an update changed)', () => {
  it('lets a valid change to one record through, and it survives a reopen', async () => {
    const { vault, open } = await openDocumentVault();
    await vault.update((d) => {
      d.accounts[1]!.refreshToken = 'rt';
      d.accounts[1]!.tokens[0]!.accessToken = 'at-new';
    });
    expect((await open()).read().accounts[1]).toMatchObject({ refreshToken: 'rt', tokens: [{ accessToken: 'at-new' }] });
  });

  const breakages: Array<[string, (d: VaultDocument) => void]> = [
    ['a field of one record', (d) => void ((d.accounts[0] as { status: string }).status = 'bogus')],
    ['a nested token field', (d) => void ((d.accounts[1]!.tokens[0] as { obtainedAt: unknown }).obtainedAt = 'yesterday')],
    ['a pushed record', (d) => void d.grants.push({ id: 'g' } as never)],
    ['a whole field replaced', (d) => void ((d as { providers: unknown }).providers = [{ name: 'BAD NAME' }])],
    ['the schema version', (d) => void ((d as { schema: number }).schema = 2)],
    ['an unknown top-level field', (d) => void ((d as unknown as Record<string, unknown>).extra = 1)],
  ];
  it.each(breakages)('refuses to write an update that breaks %s, and keeps the document', async (_name, mutate) => {
    const { vault, open } = await openDocumentVault();
    const before = vault.read();
    await expect(vault.update(mutate)).rejects.toMatchObject({ code: 'internal' });
    expect(vault.read()).toBe(before);
    expect((await open()).read()).toEqual(before);
  });
});

describe('VAULT_DOCUMENT_RULES (the vault trusts documents it wrote under the same rules)', () => {
  it('names this schema: change the rules id with the schema', () => {
    // The vault reads a file written under VAULT_DOCUMENT_RULES without parsing it. If this fails, the schema changed:
    // give VAULT_DOCUMENT_RULES a new value, then record both here. (A check JSON Schema cannot show, such as a
    // refinement or a zod upgrade that changes what `.url()` accepts, needs a new value too.)
    const schemaSha256 = createHash('sha256').update(JSON.stringify(z.toJSONSchema(VaultDocumentSchema, { io: 'input' }))).digest('hex');
    expect({ rules: VAULT_DOCUMENT_RULES, schemaSha256 }).toEqual({
      rules: 'latchkey-vault-document/1',
      schemaSha256: '96341f5e4cf6cf6202f09d07ee837900e69af88c6af7e7ee2f9a06053cf8ed9b',
    });
  });

  it('parsing is the identity on what it wrote: a document read back unparsed is the one a parse would give', () => {
    // Every optional member set, and the defaults an older document lacks: all of it must survive JSON as parsed.
    const full: VaultDocument = parseVaultDocument({
      schema: 1,
      providers: [
        {
          name: 'p',
          issuer: 'https://issuer.test/',
          clientId: 'c',
          clientSecret: 's',
          scope: 'openid',
          redirect: 'loopback',
          loopbackPort: 8080,
          kind: 'user',
          demo: true,
          refreshWithoutConsent: true,
          authorizationParams: { audience: 'a' },
          preset: 'auth0',
          oauth2: { metadata: { authorization_endpoint: 'https://a.test/', token_endpoint: 'https://t.test/' }, userinfoEndpoint: 'https://u.test/', accountClaim: 'login', assumedTokenLifetimeSeconds: 60, scopeDelimiter: ',' },
          createdAt: 1,
        },
      ],
      accounts: [{ ...account('a'), authTime: 1, refreshToken: 'rt', idToken: 'id', lastError: 'e', claims: { name: 'n', email: 'e@x.test', preferredUsername: 'u', picture: 'https://p.test/' } }],
      auditKey: 'k',
    });
    const readBack = JSON.parse(JSON.stringify(full)) as unknown;
    expect(readBack).toEqual(full);
    expect(parseVaultDocument(readBack)).toEqual(readBack);
    expect(full).toMatchObject({ grants: [], audit: [], stsSessions: [] });
  });

  it('a vault of this document keeps its updates across a reopen (its journal replayed onto the trusted file)', async () => {
    const { vault, open } = await openDocumentVault();
    await vault.update((d) => void (d.accounts[0]!.refreshToken = 'rt-2'));
    const reopened = await open();
    expect(reopened.read().accounts.map((a) => [a.id, a.refreshToken])).toEqual([['a', 'rt-2'], ['b', undefined]]);
  });
});
