import { describe, expect, it } from 'vitest';
import { fakeSafeStorage as storage } from '../testing/safe-storage-double.js';
import { chooseDesktopKeySource } from './desktop-key-source.js';

describe('chooseDesktopKeySource', () => {
  it('a new vault uses safeStorage when it really encrypts', () => {
    const choice = chooseDesktopKeySource(storage('gnome_libsecret'), {}, 'linux');
    expect(choice.keySourceFor(null).kind).toBe('safe-storage');
    expect(choice.health).toEqual({ encrypted: true });
  });

  it('Linux basic_text is no encryption: never safeStorage; says so and points to the passphrase source', () => {
    const choice = chooseDesktopKeySource(storage('basic_text'), {}, 'linux');
    expect(choice.keySourceFor(null).kind).not.toBe('safe-storage');
    expect(choice.health).toMatchObject({ encrypted: true, warning: expect.stringMatching(/basic_text.*new vaults are protected with a passphrase/s) });
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

  it('asks in the app for a passphrase the environment does not give', () => {
    const basic = chooseDesktopKeySource(storage('basic_text'), {}, 'linux');
    expect(basic.lockFor(null)).toMatchObject({ needs: 'create-passphrase', reason: expect.stringMatching(/no keyring.*basic_text.*not store its vault key unprotected/s) });
    expect(basic.lockFor({ kind: 'passphrase' })).toMatchObject({ needs: 'unlock' });
    expect(basic.lockFor({ kind: 'keyring', service: 's', account: 'a' })).toBeUndefined();
    expect(basic.withPassphrase('x'.repeat(12), 'create').keySourceFor(null).kind).toBe('passphrase');
    const keyring = chooseDesktopKeySource(storage('gnome_libsecret'), {}, 'linux');
    expect(keyring.lockFor(null)).toBeUndefined();
    expect(keyring.lockFor({ kind: 'passphrase' })).toMatchObject({ needs: 'unlock' });
    expect(chooseDesktopKeySource(storage('gnome_libsecret'), { LATCHKEY_KEY_SOURCE: 'passphrase' }, 'linux').lockFor(null)).toMatchObject({ needs: 'create-passphrase' });
    expect(chooseDesktopKeySource(storage('basic_text'), { LATCHKEY_KEY_SOURCE: 'keyring' }, 'linux').lockFor(null)).toBeUndefined();
    const withFile = chooseDesktopKeySource(storage('basic_text'), { LATCHKEY_PASSPHRASE_FILE: '/tmp/p' }, 'linux');
    expect(withFile.lockFor(null)).toBeUndefined();
    expect(withFile.lockFor({ kind: 'passphrase' })).toBeUndefined();
  });

  it('a passphrase typed to unlock never creates a vault, and one typed for a new vault never opens another', async () => {
    const choice = chooseDesktopKeySource(storage('basic_text'), {}, 'linux');
    await expect(choice.withPassphrase('x'.repeat(12), 'unlock').keySourceFor(null).createKey()).rejects.toMatchObject({ code: 'not_found' });
    await expect(choice.withPassphrase('x'.repeat(12), 'create').keySourceFor({ kind: 'passphrase' }).loadKey({ kind: 'passphrase', kdf: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt: Buffer.alloc(16).toString('base64') })).rejects.toMatchObject({ code: 'already_exists' });
  });
});
