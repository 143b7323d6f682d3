import { describe, expect, it } from 'vitest';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SafeStorageKeySource, safeStorageHealth, type SafeStoragePort } from './safe-storage-key-source.js';

/** A stand-in for Electron's safeStorage: real AES with a key "held by the OS". */
function fakeSafeStorage(options: { available?: boolean; backend?: string } = {}): SafeStoragePort {
  const osKey = randomBytes(32);
  return {
    isEncryptionAvailable: () => options.available ?? true,
    getSelectedStorageBackend: () => options.backend ?? 'gnome_libsecret',
    encryptString(plain) {
      const iv = randomBytes(16);
      const c = createCipheriv('aes-256-cbc', osKey, iv);
      return Buffer.concat([iv, c.update(plain, 'utf8'), c.final()]);
    },
    decryptString(data) {
      const d = createDecipheriv('aes-256-cbc', osKey, data.subarray(0, 16));
      return Buffer.concat([d.update(data.subarray(16)), d.final()]).toString('utf8');
    },
  };
}

describe('SafeStorageKeySource', () => {
  it('wraps a fresh key and unwraps it again; the header holds only the wrapped form', async () => {
    const source = new SafeStorageKeySource(fakeSafeStorage(), 'linux');
    const { key, params } = await source.createKey();
    expect(key).toHaveLength(32);
    expect(JSON.stringify(params)).not.toContain(key.toString('base64'));
    expect(await source.loadKey(params)).toEqual(key);
    expect(source.describe()).toContain('gnome_libsecret');
  });

  it('on Linux, the basic_text backend counts as no encryption: nothing is created or loaded', async () => {
    const storage = fakeSafeStorage({ backend: 'basic_text' });
    expect(safeStorageHealth(storage, 'linux')).toMatchObject({ usable: false, backend: 'basic_text', reason: expect.stringMatching(/passphrase/) });
    const source = new SafeStorageKeySource(storage, 'linux');
    await expect(source.createKey()).rejects.toMatchObject({ code: 'key_source_unavailable' });
    await expect(source.loadKey({ kind: 'safe-storage', wrapped: 'AAAA' })).rejects.toMatchObject({ code: 'key_source_unavailable' });
    // Elsewhere the backend question does not arise.
    expect(safeStorageHealth(storage, 'darwin')).toEqual({ usable: true });
  });

  it('refuses when the OS offers no encryption at all', async () => {
    await expect(new SafeStorageKeySource(fakeSafeStorage({ available: false }), 'win32').createKey()).rejects.toMatchObject({ code: 'key_source_unavailable' });
  });

  it('a tampered or foreign header is an error, never a wrong key', async () => {
    const source = new SafeStorageKeySource(fakeSafeStorage(), 'linux');
    await expect(source.loadKey({ kind: 'safe-storage' })).rejects.toMatchObject({ code: 'vault_corrupt' });
    const { params } = await new SafeStorageKeySource(fakeSafeStorage(), 'linux').createKey();
    await expect(source.loadKey(params)).rejects.toMatchObject({ code: 'key_source_unavailable' });
  });
});
