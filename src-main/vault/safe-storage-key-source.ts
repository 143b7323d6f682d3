/**
 * The desktop app's key source: a random master key wrapped with Electron
 * `safeStorage` (Keychain on macOS, DPAPI on Windows, the Secret Service or
 * KWallet on Linux). The wrapped key sits in the vault header; only this OS
 * user, through the OS store, can unwrap it.
 *
 * What it enforces:
 * - it refuses to create or load a key when encryption is not available, and
 *   on Linux when the backend is `basic_text`: Chromium then "encrypts" with
 *   a hard-coded password, which is no protection at all, so that counts as
 *   unavailable and the app offers the passphrase source instead;
 * - the unwrapped key is checked for length, so a tampered header fails as
 *   `vault_corrupt` rather than producing a wrong key.
 *
 * Electron stays out of this file: the app passes its `safeStorage` in.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { KeyParams, KeySource } from './key-source.js';

/** The part of Electron's `safeStorage` this needs. */
export interface SafeStoragePort {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only. */
  getSelectedStorageBackend?(): string;
}

const KEY_BYTES = 32;
/** Linux backends that do not protect anything (Chromium's os_crypt falls back to a fixed password). */
const UNPROTECTED_BACKENDS = new Set(['basic_text', 'unknown']);

const paramsSchema = z.object({ kind: z.literal('safe-storage'), wrapped: z.base64() });

export interface SafeStorageHealth {
  usable: boolean;
  backend?: string;
  /** Why it is not usable, in words for the UI. */
  reason?: string;
}

/** Whether safeStorage really encrypts here. */
export function safeStorageHealth(storage: SafeStoragePort, platform: NodeJS.Platform): SafeStorageHealth {
  if (!storage.isEncryptionAvailable()) return { usable: false, reason: 'The operating system offers no encrypted storage to this app.' };
  if (platform !== 'linux') return { usable: true };
  const backend = storage.getSelectedStorageBackend?.() ?? 'unknown';
  if (UNPROTECTED_BACKENDS.has(backend)) {
    return {
      usable: false,
      backend,
      reason: `No keyring is available (Electron's safeStorage backend is "${backend}", which stores keys without encryption). Unlock or install a keyring (GNOME Keyring, KWallet), or use a passphrase.`,
    };
  }
  return { usable: true, backend };
}

export class SafeStorageKeySource implements KeySource {
  readonly kind = 'safe-storage' as const;

  constructor(
    private readonly storage: SafeStoragePort,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  describe(): string {
    const backend = this.platform === 'linux' ? this.storage.getSelectedStorageBackend?.() : undefined;
    return `OS encrypted storage (Electron safeStorage${backend ? `, ${backend}` : ''})`;
  }

  async createKey(): Promise<{ key: Buffer; params: KeyParams }> {
    this.requireUsable();
    const key = randomBytes(KEY_BYTES);
    const wrapped = this.storage.encryptString(key.toString('base64')).toString('base64');
    return { key, params: { kind: 'safe-storage', wrapped } };
  }

  async loadKey(params: KeyParams): Promise<Buffer> {
    const parsed = paramsSchema.safeParse(params);
    if (!parsed.success) throw new LatchkeyError('vault_corrupt', 'The vault header has invalid safeStorage parameters; the file was altered.', { cause: parsed.error });
    this.requireUsable();
    let key: Buffer;
    try {
      key = Buffer.from(this.storage.decryptString(Buffer.from(parsed.data.wrapped, 'base64')), 'base64');
    } catch (cause) {
      throw new LatchkeyError('key_source_unavailable', 'The OS could not unwrap the vault key (a different user, machine or keyring?). Run `latchkey vault reset` to start a fresh vault.', { cause });
    }
    if (key.length !== KEY_BYTES) throw new LatchkeyError('vault_corrupt', 'The unwrapped vault key has the wrong length; the vault header was altered.');
    return key;
  }

  private requireUsable(): void {
    const health = safeStorageHealth(this.storage, this.platform);
    if (!health.usable) throw new LatchkeyError('key_source_unavailable', health.reason!);
  }
}
