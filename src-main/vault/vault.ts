/**
 * The encrypted vault: one JSON document of type `T`, held in memory and
 * written through to one encrypted file.
 *
 * What it enforces:
 * - updates are serialised: each mutator sees the result of the one before;
 * - an update resolves only after its atomic write; if the write fails the
 *   in-memory document stays as it was;
 * - a file that cannot be opened (bad JSON, bad header, failed
 *   authentication, failed `parse`) is copied aside and never overwritten;
 * - a wrong key, told by the header's key check, is not damage to the file:
 *   no copy is made (`vault_locked` for a mistyped passphrase, `vault_corrupt`
 *   for a key source that holds another key);
 * - the document handed out is deep-frozen, so callers change it only
 *   through `update`;
 * - nothing logged carries key material or plaintext: only paths and counts.
 */
import { dirname } from 'node:path';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import {
  decryptEnvelope,
  encryptEnvelope,
  envelopeHeader,
  parseEnvelope,
  serializeEnvelope,
  verifyKeyCheck,
  withKeyCheck,
  type Envelope,
} from './envelope.js';
import type { KeyParams, KeySource, KeySourceKind } from './key-source.js';
import {
  ensurePrivateDir,
  keepBrokenCopy,
  moveAside,
  readIfExists,
  removeStaleTempFiles,
  writeFileAtomic,
} from './vault-file.js';

/** Given the header of an existing vault (or `null` for a new one), the source that holds its key. */
export type KeySourceResolver = (existing: KeyParams | null) => KeySource | Promise<KeySource>;

export type VaultOpenOptions<T> = {
  path: string;
  /** A fresh document for a new vault. */
  initial: () => T;
  /** Validates decrypted JSON (e.g. a zod schema's `parse`); a throw means the vault is corrupt. */
  parse: (raw: unknown) => T;
  logger?: Logger;
  now?: () => Date;
} & ({ keySource: KeySource; keySourceFor?: never } | { keySourceFor: KeySourceResolver; keySource?: never });

export type Mutator<T> = (draft: T) => T | void | Promise<T | void>;

export class Vault<T> {
  readonly path: string;
  readonly keySourceKind: KeySourceKind;
  readonly #key: Buffer;
  readonly #keyParams: KeyParams;
  readonly #parse: (raw: unknown) => T;
  #doc: T;
  #revision: number;
  /** Tail of the update chain; never rejects, so one failed update does not block the next. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    path: string;
    key: Buffer;
    keyParams: KeyParams;
    parse: (raw: unknown) => T;
    doc: T;
    revision: number;
  }) {
    this.path = init.path;
    this.keySourceKind = init.keyParams.kind;
    this.#key = init.key;
    this.#keyParams = init.keyParams;
    this.#parse = init.parse;
    this.#doc = deepFreeze(init.doc);
    this.#revision = init.revision;
  }

  /**
   * Opens the vault at `path`, creating it (and a new master key) when the file
   * does not exist. For an existing vault the header's key params decide which
   * key source is used.
   */
  static async open<T>(options: VaultOpenOptions<T>): Promise<Vault<T>> {
    const { path, logger } = options;
    await ensurePrivateDir(dirname(path));
    const stale = await removeStaleTempFiles(path);
    if (stale.length > 0) logger?.info({ path, removed: stale.length }, 'removed temp files left by an interrupted write');
    const raw = await readIfExists(path);
    return raw === undefined ? Vault.#create(options) : Vault.#load(options, raw);
  }

  static async #create<T>(options: VaultOpenOptions<T>): Promise<Vault<T>> {
    const source = await resolveSource(options, null);
    const { key, params } = await source.createKey();
    const doc = options.parse(options.initial());
    const vault = new Vault<T>({ path: options.path, key, keyParams: withKeyCheck(params, key), parse: options.parse, doc, revision: 0 });
    try {
      await vault.#write(vault.#doc, 1);
    } catch (err) {
      // Without the file the new key is unreachable; do not leave it behind in the keyring.
      await source.deleteKey?.(params).catch(() => undefined);
      throw err;
    }
    vault.#revision = 1;
    options.logger?.info({ path: options.path, keySource: source.kind }, 'created vault');
    return vault;
  }

  static async #load<T>(options: VaultOpenOptions<T>, raw: Buffer): Promise<Vault<T>> {
    const { path, parse } = options;
    const now = options.now ?? (() => new Date());
    let envelope: Envelope;
    let key: Buffer;
    let doc: T;
    let check: ReturnType<typeof verifyKeyCheck> | undefined;
    try {
      envelope = parseEnvelope(raw);
      key = await (await resolveSource(options, envelope.key)).loadKey(envelope.key);
      check = verifyKeyCheck(envelope.key, key);
      if (check === 'mismatch') throw wrongKey(envelope.key.kind);
      const plaintext = decryptEnvelope(envelope, key, check === 'match');
      doc = parseDocument(plaintext, parse);
    } catch (err) {
      // A wrong key says nothing about the file (an edited salt or check looks the same, and still leaves it intact).
      if (check === 'mismatch') throw err;
      // An unreachable key source says nothing about the file; keep it as is and let the user fix the source.
      if (!(err instanceof LatchkeyError) || (err.code !== 'vault_corrupt' && err.code !== 'vault_locked')) throw err;
      const copy = await keepBrokenCopy(path, raw, now());
      options.logger?.warn({ path, copy, code: err.code }, 'vault could not be opened; kept a copy');
      throw new LatchkeyError(err.code, `${err.message} ${recoveryHint(err.code, path, copy)}`, { cause: err });
    }
    options.logger?.debug({ path, revision: envelope.revision }, 'opened vault');
    // A vault from before the key check gains one with its next write.
    const keyParams = check === 'absent' ? withKeyCheck(envelope.key, key) : envelope.key;
    return new Vault<T>({ path, key, keyParams, parse, doc, revision: envelope.revision });
  }

  /** The current document, deep-frozen: change it only through {@link update}. */
  read(): T {
    return this.#doc;
  }

  /** Number of writes since the vault was created. */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Applies `mutator` to a copy of the document and writes the result. Calls
   * run one at a time in call order; each resolves after its write is on disk
   * with the new document, or rejects (`storage_error` for IO) leaving the
   * vault unchanged.
   */
  update(mutator: Mutator<T>): Promise<T> {
    const run = this.#queue.then(() => this.#apply(mutator));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(mutator: Mutator<T>): Promise<T> {
    const draft = structuredClone(this.#doc) as T;
    const result = await mutator(draft);
    let next: T;
    try {
      next = this.#parse(result === undefined ? draft : result);
    } catch (cause) {
      // Refuse to write a document the next open would reject as corrupt.
      throw new LatchkeyError('internal', 'A vault update produced a document that fails validation.', { cause });
    }
    await this.#write(next, this.#revision + 1);
    this.#doc = deepFreeze(next);
    this.#revision += 1;
    return this.#doc;
  }

  async #write(doc: T, revision: number): Promise<void> {
    const plaintext = Buffer.from(JSON.stringify(doc), 'utf8');
    const envelope = encryptEnvelope(plaintext, this.#key, envelopeHeader(this.#keyParams, revision));
    await writeFileAtomic(this.path, serializeEnvelope(envelope));
  }
}

/**
 * The key params in the header of the vault at `path`, or `null` when there is
 * no vault yet: which key source it needs, without opening it. Throws
 * `vault_corrupt` for a damaged header.
 */
export async function readKeyParams(path: string): Promise<KeyParams | null> {
  const raw = await readIfExists(path);
  return raw === undefined ? null : parseEnvelope(raw).key;
}

/**
 * `latchkey vault reset`: moves the vault file aside to `<path>.broken-<time>`
 * and deletes its key from the keyring, so the next open starts a fresh vault.
 * Deleting the key is best effort (a passphrase has nothing to delete, and a
 * locked keyring must not block a reset): `keyDeleted` says whether it happened.
 */
export async function resetVault(
  path: string,
  keySource?: KeySource | KeySourceResolver,
  options: { now?: () => Date; logger?: Logger } = {},
): Promise<{ movedTo: string | undefined; keyDeleted: boolean }> {
  const raw = await readIfExists(path);
  const movedTo = await moveAside(path, (options.now ?? (() => new Date()))());
  let keyDeleted = false;
  if (raw !== undefined && keySource !== undefined) {
    try {
      const params = parseEnvelope(raw).key;
      const source = typeof keySource === 'function' ? await keySource(params) : keySource;
      if (source.kind === params.kind && source.deleteKey) {
        await source.deleteKey(params);
        keyDeleted = true;
      }
    } catch (err) {
      options.logger?.warn({ path, err }, 'vault reset: could not delete the old key');
    }
  }
  options.logger?.info({ path, movedTo, keyDeleted }, 'vault reset');
  return { movedTo, keyDeleted };
}

async function resolveSource<T>(options: VaultOpenOptions<T>, existing: KeyParams | null): Promise<KeySource> {
  const source = options.keySource ?? (await options.keySourceFor!(existing));
  if (existing && source.kind !== existing.kind) {
    throw new LatchkeyError(
      'key_source_unavailable',
      `This vault's key is held by the ${existing.kind} key source, but the ${source.kind} key source was given.`,
    );
  }
  return source;
}

function parseDocument<T>(plaintext: Buffer, parse: (raw: unknown) => T): T {
  const invalid = 'The vault decrypted, but its contents are not a valid Latchkey document.';
  let json: unknown;
  try {
    json = JSON.parse(plaintext.toString('utf8'));
  } catch {
    // No cause: V8's JSON.parse message quotes the input, which here is plaintext.
    throw new LatchkeyError('vault_corrupt', invalid);
  }
  try {
    return parse(json);
  } catch (cause) {
    throw new LatchkeyError('vault_corrupt', invalid, { cause });
  }
}

function wrongKey(kind: KeySourceKind): LatchkeyError {
  return kind === 'passphrase'
    ? new LatchkeyError('vault_locked', 'Could not unlock the vault: wrong passphrase. The vault file was not changed; try again.')
    : new LatchkeyError('vault_corrupt', `Could not open the vault: the key in the ${kind} key source is not this vault's key (was it replaced?). The vault file was not changed.`);
}

function recoveryHint(code: 'vault_corrupt' | 'vault_locked', path: string, copy: string): string {
  const reset = `\`latchkey vault reset\` moves ${path} aside and starts a fresh vault (you will sign in again).`;
  return code === 'vault_locked'
    ? `If the passphrase is right, the file is damaged: a copy is kept at ${copy}, and ${reset}`
    : `The file was left untouched and a copy is kept at ${copy}. To recover, ${reset}`;
}

function deepFreeze<V>(value: V): V {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
