/**
 * Picks the key source from the environment.
 *
 * What it enforces:
 * - for a new vault: explicit `kind`, then `LATCHKEY_KEY_SOURCE`, then
 *   `LATCHKEY_PASSPHRASE_FILE` (implies passphrase), then the OS keyring;
 * - for an existing vault the header's kind wins over all of that;
 * - a passphrase vault with no passphrase file and no terminal is a clear
 *   `key_source_unavailable` up front, never a hang and never a fallback.
 */
import { LatchkeyError } from '../errors.js';
import type { Env } from '../platform/paths.js';
import type { KeyParams, KeySource } from './key-source.js';
import { KeyringKeySource, type KeyringKeySourceOptions } from './keyring-key-source.js';
import {
  PassphraseKeySource,
  promptPassphrase,
  readPassphraseFile,
  type GetPassphrase,
} from './passphrase-key-source.js';

export type SelectableKind = 'keyring' | 'passphrase';

export interface KeySourceSelection {
  env: Env;
  /** An explicit choice (e.g. a CLI flag); beats `LATCHKEY_KEY_SOURCE`. */
  kind?: SelectableKind;
  /** How to ask a person; default: {@link promptPassphrase} when stdin is a TTY. */
  promptPassphrase?: GetPassphrase;
  /** Whether a person can be asked; default `process.stdin.isTTY`. */
  interactive?: boolean;
  keyring?: KeyringKeySourceOptions;
}

/** The key source for a new vault. */
export function selectKeySource(selection: KeySourceSelection): KeySource {
  return sourceOf(chosenKind(selection), selection);
}

/** The key source that can open an existing vault: the header's kind wins over the environment. */
export function keySourceForHeader(params: KeyParams, selection: KeySourceSelection): KeySource {
  if (params.kind === 'safe-storage') {
    throw new LatchkeyError(
      'key_source_unavailable',
      "This vault's key is held by the desktop app (Electron safeStorage); open it from the Latchkey desktop app.",
    );
  }
  return sourceOf(params.kind, selection);
}

/** For `Vault.open({ keySourceFor })`: a new vault follows the environment, an existing one its header. */
export function keySourceResolver(selection: KeySourceSelection): (existing: KeyParams | null) => KeySource {
  return (existing) => (existing ? keySourceForHeader(existing, selection) : selectKeySource(selection));
}

function chosenKind({ env, kind }: KeySourceSelection): SelectableKind {
  if (kind) return kind;
  const fromEnv = env.LATCHKEY_KEY_SOURCE;
  if (fromEnv === 'keyring' || fromEnv === 'passphrase') return fromEnv;
  if (fromEnv) {
    throw new LatchkeyError('config_invalid', `LATCHKEY_KEY_SOURCE must be "keyring" or "passphrase", not "${fromEnv}".`);
  }
  return env.LATCHKEY_PASSPHRASE_FILE ? 'passphrase' : 'keyring';
}

function sourceOf(kind: SelectableKind, selection: KeySourceSelection): KeySource {
  return kind === 'keyring' ? new KeyringKeySource(selection.keyring) : new PassphraseKeySource(passphraseGetter(selection));
}

function passphraseGetter({ env, promptPassphrase: prompt, interactive }: KeySourceSelection): GetPassphrase {
  const file = env.LATCHKEY_PASSPHRASE_FILE;
  if (file) return () => readPassphraseFile(file);
  if (prompt) return prompt;
  if (interactive ?? process.stdin.isTTY === true) {
    return (purpose) =>
      purpose === 'create'
        ? promptPassphrase('New vault passphrase: ', { confirm: true })
        : promptPassphrase('Vault passphrase: ');
  }
  throw new LatchkeyError(
    'key_source_unavailable',
    'The vault is protected by a passphrase, but none is available here: set LATCHKEY_PASSPHRASE_FILE to a file ' +
      '(mode 0600) holding the passphrase, or run the agent in a terminal so it can ask.',
  );
}
