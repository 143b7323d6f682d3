import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keySourceForHeader, keySourceResolver, selectKeySource } from './key-source-select.js';
import { tempDir } from '../testing/test-home.js';

const headless = { interactive: false };

describe('selectKeySource (new vault)', () => {
  it('defaults to the OS keyring', () => {
    expect(selectKeySource({ env: {}, ...headless }).kind).toBe('keyring');
  });

  it('uses the passphrase file when LATCHKEY_PASSPHRASE_FILE is set', async () => {
    const dir = await tempDir();
    const file = join(dir, 'pass');
    await writeFile(file, 'from file\n', { mode: 0o600 });
    const source = selectKeySource({ env: { LATCHKEY_PASSPHRASE_FILE: file }, ...headless });
    expect(source.kind).toBe('passphrase');
    const { key, params } = await source.createKey();
    const again = selectKeySource({ env: {}, kind: 'passphrase', promptPassphrase: async () => 'from file' });
    expect(await again.loadKey(params)).toEqual(key);
  });

  it('lets an explicit kind beat LATCHKEY_KEY_SOURCE, which beats the passphrase file', () => {
    const env = { LATCHKEY_KEY_SOURCE: 'keyring', LATCHKEY_PASSPHRASE_FILE: '/x' };
    expect(selectKeySource({ env, ...headless }).kind).toBe('keyring');
    expect(selectKeySource({ env, kind: 'passphrase', ...headless }).kind).toBe('passphrase');
  });

  it('rejects an unknown LATCHKEY_KEY_SOURCE', () => {
    expect(() => selectKeySource({ env: { LATCHKEY_KEY_SOURCE: 'plaintext' } })).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });

  it('asks for a passphrase with confirmation when creating, once when unlocking', async () => {
    const purposes: string[] = [];
    const source = selectKeySource({
      env: { LATCHKEY_KEY_SOURCE: 'passphrase' },
      promptPassphrase: async (purpose) => (purposes.push(purpose), 'pw'),
    });
    const { params } = await source.createKey();
    await source.loadKey(params);
    expect(purposes).toEqual(['create', 'unlock']);
  });
});

describe('keySourceForHeader (existing vault)', () => {
  it("follows the header's kind, not the environment", () => {
    const env = { LATCHKEY_KEY_SOURCE: 'keyring' };
    expect(keySourceForHeader({ kind: 'passphrase' }, { env, promptPassphrase: async () => 'pw' }).kind).toBe('passphrase');
    expect(keySourceResolver({ env: { LATCHKEY_PASSPHRASE_FILE: '/x' } })({ kind: 'keyring' }).kind).toBe('keyring');
    expect(keySourceResolver({ env, ...headless })(null).kind).toBe('keyring');
  });

  it('says what to do when a passphrase vault has no passphrase file and no terminal', () => {
    expect(() => keySourceForHeader({ kind: 'passphrase' }, { env: {}, ...headless })).toThrow(
      expect.objectContaining({
        code: 'key_source_unavailable',
        message: expect.stringMatching(/LATCHKEY_PASSPHRASE_FILE.*terminal/),
      }),
    );
  });

  it('sends a safeStorage vault to the desktop app', () => {
    expect(() => keySourceForHeader({ kind: 'safe-storage' }, { env: {} })).toThrow(
      expect.objectContaining({ code: 'key_source_unavailable' }),
    );
  });
});
