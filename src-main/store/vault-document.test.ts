import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PassphraseKeySource } from '../vault/passphrase-key-source.js';
import { tempDir } from '../testing/test-home.js';
import { Vault } from '../vault/vault.js';
import { checkVaultDocumentChanges, emptyVaultDocument, parseVaultDocument, type AccountRecord, type VaultDocument } from './vault-document.js';

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
      initial: emptyVaultDocument,
      parse: parseVaultDocument,
      checkChanged: checkVaultDocumentChanges,
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
