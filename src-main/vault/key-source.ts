/**
 * Where the vault's master key comes from. The key never touches disk in clear:
 * a key source either keeps it in an OS store (keyring, Electron safeStorage)
 * or re-derives it (passphrase). What a source needs to find the key again is
 * stored in the vault header as `KeyParams`, authenticated as AAD.
 */

export type KeySourceKind = 'keyring' | 'passphrase' | 'safe-storage';

/** JSON-serialisable, non-secret parameters stored in the vault header. */
export type KeyParams = { kind: KeySourceKind } & Record<string, unknown>;

export interface KeySource {
  readonly kind: KeySourceKind;
  /** A short human description for `latchkey status`, e.g. "OS keyring (Secret Service)". */
  describe(): string;
  /** Makes a fresh 32-byte master key for a new vault and says how to find it again. */
  createKey(): Promise<{ key: Buffer; params: KeyParams }>;
  /** Recovers the master key from the header params; throws LatchkeyError on failure. */
  loadKey(params: KeyParams): Promise<Buffer>;
  /** Forgets the key (vault reset). Optional: a passphrase has nothing to forget. */
  deleteKey?(params: KeyParams): Promise<void>;
}
