/**
 * Opens the agent's vault with the right key source: a new vault follows the
 * environment (LATCHKEY_PASSPHRASE_FILE / LATCHKEY_KEY_SOURCE, default the OS
 * keyring), an existing one the key source recorded in its header.
 */
import type { Logger } from '../log/logger.js';
import type { Env, LatchkeyPaths } from '../platform/paths.js';
import { VAULT_DOCUMENT_OPTIONS, type VaultDocument } from '../store/vault-document.js';
import type { KeyParams, KeySource } from '../vault/key-source.js';
import { keySourceResolver, type KeySourceSelection } from '../vault/key-source-select.js';
import type { GetPassphrase } from '../vault/passphrase-key-source.js';
import { resetVault, Vault } from '../vault/vault.js';

export interface VaultOpenOptions {
  interactive: boolean;
  logger?: Logger;
  /**
   * The desktop app's own choice (Electron safeStorage, or a passphrase it
   * asked for); default: from the environment and the vault header.
   */
  keySourceFor?: (existing: KeyParams | null) => KeySource;
  /**
   * A passphrase the CLI asked for on its terminal and handed to the agent it
   * started: a new vault is then a passphrase vault (see cli/agent-passphrase.ts).
   */
  passphrase?: GetPassphrase;
}

function selectionFor(env: Env, interactive: boolean, passphrase?: GetPassphrase): KeySourceSelection {
  const selection: KeySourceSelection = { env, interactive, ...(passphrase ? { kind: 'passphrase', promptPassphrase: passphrase } : {}) };
  // A separate keyring service keeps test and portable installs away from the user's real entry.
  if (env.LATCHKEY_KEYRING_SERVICE) selection.keyring = { service: env.LATCHKEY_KEYRING_SERVICE };
  return selection;
}

export async function openAgentVault(
  paths: LatchkeyPaths,
  env: Env,
  options: VaultOpenOptions,
): Promise<{ vault: Vault<VaultDocument>; keySource: { kind: string; description: string } }> {
  const resolve = options.keySourceFor ?? keySourceResolver(selectionFor(env, options.interactive, options.passphrase));
  let used: KeySource | undefined;
  const vault = await Vault.open<VaultDocument>({
    path: paths.vault,
    ...VAULT_DOCUMENT_OPTIONS,
    ...(options.logger ? { logger: options.logger } : {}),
    keySourceFor: (existing) => (used = resolve(existing)),
  });
  return { vault, keySource: { kind: used!.kind, description: used!.describe() } };
}

/** `latchkey vault reset`: moves the vault aside (kept, never deleted) and forgets its keyring entry. */
export async function resetVaultAt(paths: LatchkeyPaths, env: Env): Promise<string | undefined> {
  const { movedTo } = await resetVault(paths.vault, keySourceResolver(selectionFor(env, false)));
  return movedTo;
}
