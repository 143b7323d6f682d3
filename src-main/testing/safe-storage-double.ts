/** Electron's `safeStorage` as a test double: which backend it reports is all the key source choice looks at. */
import type { SafeStoragePort } from '../vault/safe-storage-key-source.js';

/** `basic_text` is what Electron reports on a Linux desktop without a keyring. */
export function fakeSafeStorage(backend: string, available = true): SafeStoragePort {
  return {
    isEncryptionAvailable: () => available,
    getSelectedStorageBackend: () => backend,
    encryptString: (s) => Buffer.from(s),
    decryptString: (b) => b.toString(),
  };
}
