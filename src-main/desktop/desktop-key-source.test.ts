import { describe, expect, it } from 'vitest';
import type { SafeStoragePort } from '../vault/safe-storage-key-source.js';
import { chooseDesktopKeySource } from './desktop-key-source.js';

const storage = (backend: string, available = true): SafeStoragePort => ({
  isEncryptionAvailable: () => available,
  getSelectedStorageBackend: () => backend,
  encryptString: (s) => Buffer.from(s),
  decryptString: (b) => b.toString(),
});

describe('chooseDesktopKeySource', () => {
  it('a new vault uses safeStorage when it really encrypts', () => {
    const choice = chooseDesktopKeySource(storage('gnome_libsecret'), {}, 'linux');
    expect(choice.keySourceFor(null).kind).toBe('safe-storage');
    expect(choice.health).toEqual({ encrypted: true });
  });

  it('Linux basic_text is no encryption: never safeStorage; says so and points to the passphrase source', () => {
    const choice = chooseDesktopKeySource(storage('basic_text'), {}, 'linux');
    expect(choice.keySourceFor(null).kind).not.toBe('safe-storage');
    expect(choice.health).toMatchObject({ encrypted: false, warning: expect.stringMatching(/basic_text.*LATCHKEY_PASSPHRASE_FILE/s) });
    const withPassphrase = chooseDesktopKeySource(storage('basic_text'), { LATCHKEY_PASSPHRASE_FILE: '/tmp/p' }, 'linux');
    expect(withPassphrase.keySourceFor(null).kind).toBe('passphrase');
    expect(withPassphrase.health).toMatchObject({ encrypted: true, warning: expect.stringMatching(/passphrase key source instead/) });
  });

  it('an existing vault opens with the source in its header', () => {
    const choice = chooseDesktopKeySource(storage('gnome_libsecret'), { LATCHKEY_PASSPHRASE_FILE: '/tmp/p' }, 'linux');
    expect(choice.keySourceFor({ kind: 'safe-storage', wrapped: 'x' }).kind).toBe('safe-storage');
    expect(choice.keySourceFor({ kind: 'keyring', service: 's', account: 'vault-master-key:1' }).kind).toBe('keyring');
    expect(choice.keySourceFor({ kind: 'passphrase' }).kind).toBe('passphrase');
  });
});
