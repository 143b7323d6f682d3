/**
 * Which key source the desktop app opens the vault with.
 *
 * - An existing vault: the one in its header (safeStorage, keyring or
 *   passphrase, the latter two exactly as the CLI would).
 * - A new vault: Electron safeStorage when it really encrypts here; on Linux
 *   with the `basic_text` backend (no keyring) it does not, so the app says
 *   so and uses a passphrase instead.
 * - A passphrase the environment does not provide (no
 *   LATCHKEY_PASSPHRASE_FILE) is asked for in the app: {@link DesktopKeyChoice.lockFor}
 *   says when and why, {@link DesktopKeyChoice.withPassphrase} builds the
 *   source from what the person typed.
 */
import { LatchkeyError } from '../errors.js';
import type { Env } from '../platform/paths.js';
import type { KeyParams, KeySource } from '../vault/key-source.js';
import { keySourceResolver } from '../vault/key-source-select.js';
import { PassphraseKeySource, type PassphrasePurpose } from '../vault/passphrase-key-source.js';
import { SafeStorageKeySource, safeStorageHealth, type SafeStoragePort } from '../vault/safe-storage-key-source.js';
import type { VaultState } from '../../src-preload/contract.js';

export type VaultLock = Omit<Extract<VaultState, { state: 'locked' }>, 'state'>;

interface KeyChoice {
  keySourceFor: (existing: KeyParams | null) => KeySource;
  /** Shown in Settings next to the key source. */
  health: { encrypted: boolean; warning?: string };
}

export interface DesktopKeyChoice extends KeyChoice {
  /** Why the app must ask for a passphrase before it can open this vault (`null`: a new one), or undefined when it can open it on its own. */
  lockFor(existing: KeyParams | null): VaultLock | undefined;
  /** The passphrase source for what the person typed, usable only for `purpose`: an unlock never creates a vault, a create never opens one. */
  withPassphrase(passphrase: string, purpose: PassphrasePurpose): KeyChoice;
}

export function chooseDesktopKeySource(storage: SafeStoragePort, env: Env, platform: NodeJS.Platform): DesktopKeyChoice {
  const health = safeStorageHealth(storage, platform);
  const safe = new SafeStorageKeySource(storage, platform);
  const fromEnv = keySourceResolver({ env, interactive: false, ...(env.LATCHKEY_KEYRING_SERVICE ? { keyring: { service: env.LATCHKEY_KEYRING_SERVICE } } : {}) });
  const preferPassphrase = Boolean(env.LATCHKEY_PASSPHRASE_FILE || env.LATCHKEY_KEY_SOURCE);
  const passphraseWarning = health.usable ? {} : { warning: `${health.reason} Using the passphrase key source instead.` };
  // No passphrase file: a passphrase vault, or a new one that cannot use safeStorage and was not told to use the keyring.
  const asks = !env.LATCHKEY_PASSPHRASE_FILE;
  const newVaultNeedsPassphrase = env.LATCHKEY_KEY_SOURCE ? env.LATCHKEY_KEY_SOURCE === 'passphrase' : !health.usable;
  return {
    keySourceFor: (existing) => {
      if (existing?.kind === 'safe-storage') return safe;
      if (existing || preferPassphrase || !health.usable) return fromEnv(existing);
      return safe;
    },
    health: health.usable
      ? { encrypted: true }
      : preferPassphrase
        ? { encrypted: true, ...passphraseWarning }
        : // Reached only for a vault that already has another key source (a new one is locked until a passphrase is chosen).
          { encrypted: true, warning: `${health.reason} Latchkey does not use it: this vault keeps the key source it was created with, and new vaults are protected with a passphrase.` },
    lockFor: (existing) => {
      if (!asks) return undefined;
      if (existing?.kind === 'passphrase') {
        return { needs: 'unlock', reason: 'This vault is protected by a passphrase. Enter it to open the vault; Latchkey does not store it anywhere.' };
      }
      if (existing || !newVaultNeedsPassphrase) return undefined;
      const why = health.usable
        ? 'LATCHKEY_KEY_SOURCE asks for a passphrase-protected vault.'
        : health.backend
          ? `This desktop has no keyring that Electron can use (safeStorage backend "${health.backend}"), so Latchkey will not store its vault key unprotected.`
          : `${health.reason} Latchkey will not store its vault key unprotected.`;
      return { needs: 'create-passphrase', reason: `${why} Choose a passphrase instead: the vault key is derived from it, and you enter it each time Latchkey starts.` };
    },
    withPassphrase: (passphrase, purpose) => {
      const source = new PassphraseKeySource(async (asked) => {
        if (asked === purpose) return passphrase;
        throw asked === 'create'
          ? new LatchkeyError('not_found', 'The vault file is gone, so there is nothing to unlock. Restart Latchkey to create a new vault.')
          : new LatchkeyError('already_exists', 'A vault was created meanwhile. Restart Latchkey and unlock it with its passphrase.');
      });
      return { keySourceFor: () => source, health: { encrypted: true, ...passphraseWarning } };
    },
  };
}
