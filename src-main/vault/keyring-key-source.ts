/**
 * A random master key kept in the OS keyring (macOS Keychain, Windows
 * Credential Manager, Secret Service on Linux) through `@napi-rs/keyring`.
 *
 * What it enforces:
 * - on Linux the entry is pinned to the Secret Service. The library would
 *   otherwise fall back silently to the kernel keyutils store, which is
 *   in-memory only: the key, and with it the vault, would be lost at reboot;
 * - the key is read back after it is stored, so a store that accepts writes
 *   but does not keep them fails now, not at the next start;
 * - every keyring failure is `key_source_unavailable` with words that say
 *   what to do, never a crash and never a fallback to storing in clear.
 */
import { AsyncEntry, type EntryOptions } from '@napi-rs/keyring';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { KeyParams, KeySource } from './key-source.js';

export const DEFAULT_KEYRING_SERVICE = 'latchkey';
const ACCOUNT_PREFIX = 'vault-master-key:';
const KEY_BYTES = 32;

const paramsSchema = z.object({
  kind: z.literal('keyring'),
  service: z.string().min(1),
  account: z.string().startsWith(ACCOUNT_PREFIX),
});

export interface KeyringKeySourceOptions {
  /** Keyring service name; tests use their own so they never touch a real user's entries. */
  service?: string;
  platform?: NodeJS.Platform;
}

export class KeyringKeySource implements KeySource {
  readonly kind = 'keyring' as const;
  readonly service: string;
  readonly #entryOptions: EntryOptions;

  constructor(options: KeyringKeySourceOptions = {}) {
    this.service = options.service ?? DEFAULT_KEYRING_SERVICE;
    this.#entryOptions = (options.platform ?? process.platform) === 'linux' ? { linux: { store: 'secret-service' } } : {};
  }

  describe(): string {
    return 'OS keyring';
  }

  async createKey(): Promise<{ key: Buffer; params: KeyParams }> {
    const key = randomBytes(KEY_BYTES);
    const params = { kind: 'keyring' as const, service: this.service, account: `${ACCOUNT_PREFIX}${randomUUID()}` };
    const stored = await this.#call(async () => {
      const entry = this.#entry(params.service, params.account);
      await entry.setPassword(key.toString('base64'));
      return entry.getPassword();
    }, 'create');
    if (stored !== key.toString('base64')) {
      throw unavailable('the keyring accepted the vault key but did not return it', 'create');
    }
    return { key, params };
  }

  async loadKey(params: KeyParams): Promise<Buffer> {
    const { service, account } = parseParams(params);
    const stored = await this.#call(() => this.#entry(service, account).getPassword(), 'load');
    if (stored === null) {
      throw new LatchkeyError(
        'key_source_unavailable',
        `The key for this vault is not in the OS keyring (service "${service}", account "${account}"). ` +
          'If it was deleted, or the vault was copied from another machine or user, the vault cannot be decrypted; ' +
          'run `latchkey vault reset` to move it aside and start a fresh vault.',
      );
    }
    const key = Buffer.from(stored, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new LatchkeyError('key_source_unavailable', `The OS keyring entry "${account}" does not hold a valid vault key.`);
    }
    return key;
  }

  async deleteKey(params: KeyParams): Promise<void> {
    const { service, account } = parseParams(params);
    await this.#call(() => this.#entry(service, account).deletePassword(), 'load');
  }

  #entry(service: string, account: string): AsyncEntry {
    return new AsyncEntry(service, account, this.#entryOptions);
  }

  /** Runs a keyring call; the constructor throws synchronously when the store is unreachable, so it goes inside too. */
  async #call<R>(fn: () => Promise<R>, use: KeyUse): Promise<R> {
    try {
      return await fn();
    } catch (cause) {
      throw unavailable(cause instanceof Error ? cause.message : String(cause), use, cause);
    }
  }
}

/**
 * Whether the OS keyring answers at all: a lookup of an entry that does not
 * exist returns nothing when it does, and throws when there is no keyring
 * (no Secret Service on the session bus, no bus). Stores nothing.
 */
export async function keyringAnswers(options: KeyringKeySourceOptions = {}): Promise<boolean> {
  const linux = (options.platform ?? process.platform) === 'linux';
  try {
    await new AsyncEntry(options.service ?? DEFAULT_KEYRING_SERVICE, `${ACCOUNT_PREFIX}probe`, linux ? { linux: { store: 'secret-service' } } : {}).getPassword();
    return true;
  } catch {
    return false;
  }
}

function parseParams(params: KeyParams): z.infer<typeof paramsSchema> {
  const parsed = paramsSchema.safeParse(params);
  if (!parsed.success) {
    throw new LatchkeyError('vault_corrupt', 'The vault header has invalid keyring parameters; the file was altered.', {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** A new vault can pick another key source; an existing one can only wait for its keyring. */
type KeyUse = 'create' | 'load';

function unavailable(reason: string, use: KeyUse, cause?: unknown): LatchkeyError {
  const unlock =
    'Unlock your keyring (on Linux a Secret Service such as gnome-keyring or KWallet must be running and unlocked)';
  const alternative =
    use === 'create'
      ? ', or use a passphrase instead: set LATCHKEY_PASSPHRASE_FILE to a file (mode 0600) holding it, or LATCHKEY_KEY_SOURCE=passphrase to be prompted.'
      : ' and try again: this vault\'s key is stored there.';
  return new LatchkeyError('key_source_unavailable', `The OS keyring is not available (${reason}). ${unlock}${alternative}`, {
    cause,
  });
}
