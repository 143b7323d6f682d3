/**
 * Which key source the desktop app opens the vault with.
 *
 * - An existing vault: the one in its header (safeStorage, keyring or
 *   passphrase, the latter two exactly as the CLI would).
 * - A new vault: Electron safeStorage when it really encrypts here; on Linux
 *   with the `basic_text` backend (no keyring) it does not, so the app says
 *   so and uses the passphrase source from LATCHKEY_PASSPHRASE_FILE, or the
 *   environment's choice.
 */
import type { Env } from '../platform/paths.js';
import type { KeyParams, KeySource } from '../vault/key-source.js';
import { keySourceResolver } from '../vault/key-source-select.js';
import { SafeStorageKeySource, safeStorageHealth, type SafeStoragePort } from '../vault/safe-storage-key-source.js';

export interface DesktopKeyChoice {
  keySourceFor: (existing: KeyParams | null) => KeySource;
  /** Shown in Settings next to the key source. */
  health: { encrypted: boolean; warning?: string };
}

export function chooseDesktopKeySource(storage: SafeStoragePort, env: Env, platform: NodeJS.Platform): DesktopKeyChoice {
  const health = safeStorageHealth(storage, platform);
  const safe = new SafeStorageKeySource(storage, platform);
  const fromEnv = keySourceResolver({ env, interactive: false, ...(env.LATCHKEY_KEYRING_SERVICE ? { keyring: { service: env.LATCHKEY_KEYRING_SERVICE } } : {}) });
  const preferPassphrase = Boolean(env.LATCHKEY_PASSPHRASE_FILE || env.LATCHKEY_KEY_SOURCE);
  return {
    keySourceFor: (existing) => {
      if (existing?.kind === 'safe-storage') return safe;
      if (existing || preferPassphrase || !health.usable) return fromEnv(existing);
      return safe;
    },
    health: health.usable
      ? { encrypted: true }
      : preferPassphrase
        ? { encrypted: true, warning: `${health.reason} Using the passphrase key source instead.` }
        : { encrypted: false, warning: `${health.reason} Latchkey never stores the vault key unprotected: set LATCHKEY_PASSPHRASE_FILE to a file (mode 0600) holding a passphrase and restart the app.` },
  };
}
