/**
 * The encrypted vault: one JSON document of type `T`, held in memory and
 * written through to one encrypted file (`vault.json`) plus a journal of the
 * changes since that file was written (`vault.json.journal`, see
 * vault-journal.ts). An update is one appended record; once the journal
 * outgrows the file, the next update rewrites the file and empties the journal.
 *
 * What it enforces:
 * - updates are serialised: each mutator sees the result of the one before;
 *   mutators work on a copy-on-write draft (immer), so an update costs what it
 *   changes, not the size of the vault;
 * - an update resolves only after its record (or the rewritten file) is on
 *   disk; if the write fails the in-memory document stays as it was;
 * - a file that cannot be opened (bad JSON, bad header, failed
 *   authentication, failed `parse`) is copied aside and never overwritten;
 * - a wrong key, told by the header's key check, is not damage to the file:
 *   no copy is made (`vault_locked` for a mistyped passphrase, `vault_corrupt`
 *   for a key source that holds another key);
 * - the document handed out is deep-frozen, so callers change it only
 *   through `update`;
 * - every document written passed `parse` (or `checkChanged` for what an
 *   update changed), so one read back with the same `rulesId` is checked by
 *   authentication alone; any other is parsed in full (see `rulesId`);
 * - nothing logged carries key material or plaintext: only paths and counts.
 */
import { dirname } from 'node:path';
import { createDraft, enablePatches, finishDraft, applyPatches, setAutoFreeze, type Objectish, type Patch } from 'immer';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import {
  decryptEnvelope,
  encryptEnvelope,
  envelopeHeader,
  parseEnvelope,
  parseEnvelopeHeader,
  serializeEnvelope,
  verifyKeyCheck,
  withKeyCheck,
} from './envelope.js';
import type { KeyParams, KeySource, KeySourceKind } from './key-source.js';
import { runMutator } from './draft-update.js';
import { encodeJournalRecord, readJournal } from './vault-journal.js';
import { ensurePrivateDir, keepBrokenCopy, moveAside } from './vault-file.js';
import { AppendFile, cutFile, readIfExists, removeStaleTempFiles, writeFileAtomic } from '../platform/file-safety.js';

enablePatches();
// The vault freezes what it hands out itself (deepFreeze, which stops at frozen
// subtrees). immer's own auto-freeze would walk all of a freshly decrypted
// document, every node of 1,000 accounts, when the journal is replayed on open.
setAutoFreeze(false);

/**
 * The member of the vault file's plaintext (beside the document's own) that
 * names the rules it was written under. A build that does not know it reads
 * past it: documents are objects, and their schemas drop unknown members.
 */
const RULES_MEMBER = '$rules';

/** Below this, the journal is never folded into the vault file. */
const MIN_COMPACT_BYTES = 64 * 1024;

/** Where the journal of the vault at `path` lives. */
export function journalPathFor(path: string): string {
  return `${path}.journal`;
}

/** Given the header of an existing vault (or `null` for a new one), the source that holds its key. */
export type KeySourceResolver = (existing: KeyParams | null) => KeySource | Promise<KeySource>;

export type VaultOpenOptions<T> = {
  path: string;
  /** A fresh document for a new vault. */
  initial: () => T;
  /** Validates decrypted JSON (e.g. a zod schema's `parse`); a throw means the vault is corrupt. */
  parse: (raw: unknown) => T;
  /**
   * Validates an updated document by the parts that changed (the paths of the
   * update's patches); throws like `parse`. Without it, every update parses the
   * whole document.
   */
  checkChanged?: (doc: T, changed: ReadonlyArray<ReadonlyArray<string | number>>) => void;
  /**
   * Names the rules `parse` and `checkChanged` enforce; change it whenever
   * they change. The vault file records it (inside the ciphertext, so it is
   * authenticated with the document), and a file recorded under the same
   * rules is read back without `parse`: this vault validated it before
   * writing it, and the key proves nobody else did. A journal replayed onto
   * it is still checked (`checkChanged`, over what its records change), since
   * an older build may have appended them. Without it, or for a file written
   * under other rules or by an older build, every open parses the whole
   * document (≈ 50 ms for 1,000 accounts), and the next update rewrites the
   * file under these rules.
   */
  rulesId?: string;
  /** Journal size after which the next update rewrites the vault file; default the file's size, at least 64 KiB. */
  compactAfterBytes?: number;
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
  readonly #checkChanged: VaultOpenOptions<T>['checkChanged'];
  readonly #rulesId: string | undefined;
  readonly #compactAfterBytes: number | undefined;
  readonly #journal: AppendFile;
  #doc: T;
  #revision: number;
  /** The GCM tag the next journal record chains from (the vault file's, or the last record's). */
  #lastTag: Buffer;
  #fileBytes: number;
  #journalBytes: number;
  /** The journal cannot take another record as it is (a failed or torn append, a stale journal): rewrite the file first. */
  #mustCompact: boolean;
  /** Tail of the update chain; never rejects, so one failed update does not block the next. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    options: VaultOpenOptions<T>,
    init: { key: Buffer; keyParams: KeyParams; doc: T; revision: number; lastTag: Buffer; fileBytes: number; journalBytes: number; mustCompact: boolean },
  ) {
    this.path = options.path;
    this.keySourceKind = init.keyParams.kind;
    this.#key = init.key;
    this.#keyParams = init.keyParams;
    this.#parse = options.parse;
    this.#checkChanged = options.checkChanged;
    this.#rulesId = options.rulesId;
    this.#compactAfterBytes = options.compactAfterBytes;
    this.#journal = new AppendFile(journalPathFor(options.path));
    this.#doc = deepFreeze(init.doc);
    this.#revision = init.revision;
    this.#lastTag = init.lastTag;
    this.#fileBytes = init.fileBytes;
    this.#journalBytes = init.journalBytes;
    this.#mustCompact = init.mustCompact;
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
    const vault = new Vault<T>(options, { key, keyParams: withKeyCheck(params, key), doc, revision: 0, lastTag: Buffer.alloc(0), fileBytes: 0, journalBytes: 0, mustCompact: true });
    try {
      // A journal without its vault file (left by hand) belongs to no vault now: keep it aside, out of the way.
      await moveAside(journalPathFor(options.path), (options.now ?? (() => new Date()))());
      await vault.#compact(vault.#doc, 1);
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
    const journalPath = journalPathFor(path);
    let journalRaw: Buffer | undefined;
    let check: ReturnType<typeof verifyKeyCheck> | undefined;
    try {
      const envelope = parseEnvelope(raw);
      const key = await (await resolveSource(options, envelope.key)).loadKey(envelope.key);
      check = verifyKeyCheck(envelope.key, key);
      if (check === 'mismatch') throw wrongKey(envelope.key.kind);
      const written = splitRules(parseJson(decryptEnvelope(envelope, key, check === 'match')));
      let json = written.document;
      journalRaw = await readIfExists(journalPath);
      const journal = readJournal(journalRaw ?? Buffer.alloc(0), key, envelope.revision, Buffer.from(envelope.tag, 'base64'));
      const patches = journal.records.map((r) => r.patches as Patch[]);
      if (patches.length > 0) json = replay(json, patches);
      const trusted = options.rulesId !== undefined && written.rulesId === options.rulesId;
      const doc = trusted ? checkReplayed(json as T, patches, options) : parseDocument(json, parse);
      const revision = envelope.revision + journal.records.length;
      if (journal.stale || journal.tornTail) options.logger?.info({ path, stale: journal.stale, tornTail: journal.tornTail }, 'vault journal: an interrupted write was left; the next update rewrites the vault');
      options.logger?.debug({ path, revision, journalRecords: journal.records.length }, 'opened vault');
      // A vault from before the key check gains one with its next rewrite.
      const absent = check === 'absent';
      return new Vault<T>(options, {
        key,
        keyParams: absent ? withKeyCheck(envelope.key, key) : envelope.key,
        doc,
        revision,
        lastTag: journal.lastTag,
        fileBytes: raw.length,
        journalBytes: journal.goodBytes,
        // Written under other rules (or none): rewritten under these by the next update, so later opens need no parse.
        mustCompact: journal.stale || journal.tornTail || absent || (options.rulesId !== undefined && !trusted),
      });
    } catch (err) {
      // A wrong key says nothing about the file (an edited salt or check looks the same, and still leaves it intact).
      if (check === 'mismatch') throw err;
      // An unreachable key source says nothing about the file; keep it as is and let the user fix the source.
      if (!(err instanceof LatchkeyError) || (err.code !== 'vault_corrupt' && err.code !== 'vault_locked')) throw err;
      const copy = await keepBrokenCopy(path, raw, now());
      if (journalRaw?.length) await keepBrokenCopy(journalPath, journalRaw, now());
      options.logger?.warn({ path, copy, code: err.code }, 'vault could not be opened; kept a copy');
      throw new LatchkeyError(err.code, `${err.message} ${recoveryHint(err.code, path, copy)}`, { cause: err });
    }
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
   * Applies `mutator` to a draft of the document and writes the result. The
   * draft, and every object read from it, is valid only until the mutator
   * returns: copy out what is needed afterwards (`{ ...record }`). Calls
   * run one at a time in call order; each resolves after its write is on disk
   * with the new document, or rejects (`storage_error` for IO) leaving the
   * vault unchanged.
   */
  update(mutator: Mutator<T>): Promise<T> {
    const run = this.#queue.then(() => this.#apply(mutator));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Lets pending updates finish, then closes the journal (a later update opens it again). */
  async close(): Promise<void> {
    await this.#queue;
    await this.#journal.close();
  }

  async #apply(mutator: Mutator<T>): Promise<T> {
    const outcome = await runMutator(this.#doc, mutator);
    if ('replacement' in outcome) {
      const next = this.#validate(() => this.#parse(outcome.replacement));
      await this.#compact(next, this.#revision + 1);
      return this.#commit(next);
    }
    const { next, patches } = outcome;
    if (patches.length === 0) return this.#doc; // nothing changed, nothing to write
    this.#validate(() => (this.#checkChanged ? this.#checkChanged(next, patches.map((p) => p.path)) : this.#parse(next)));
    const revision = this.#revision + 1;
    const { line, tag } = encodeJournalRecord({ revision, patches }, this.#key, this.#lastTag);
    if (this.#mustCompact || this.#journalBytes + line.length > (this.#compactAfterBytes ?? Math.max(this.#fileBytes, MIN_COMPACT_BYTES))) {
      await this.#compact(next, revision);
    } else {
      try {
        await this.#journal.append(line);
      } catch (err) {
        // Part of the record may be in the file: only a rewrite makes the journal trustworthy again.
        this.#mustCompact = true;
        throw err;
      }
      this.#journalBytes += line.length;
      this.#lastTag = tag;
    }
    return this.#commit(next);
  }

  #commit(next: T): T {
    this.#doc = deepFreeze(next);
    this.#revision += 1;
    return this.#doc;
  }

  /** Runs a validation; a failure means the mutator broke the document, which must never be written. */
  #validate<R>(check: () => R): R {
    try {
      return check();
    } catch (cause) {
      // Refuse to write a document the next open would reject as corrupt.
      throw new LatchkeyError('internal', 'A vault update produced a document that fails validation.', { cause });
    }
  }

  /**
   * Writes the whole document to the vault file (atomically) and empties the
   * journal. The rename is the commit point: a journal left behind by a crash
   * after it holds only revisions the file already has, and is ignored as stale.
   */
  async #compact(doc: T, revision: number): Promise<void> {
    await this.#journal.close();
    const plaintext = Buffer.from(JSON.stringify(this.#rulesId === undefined ? doc : { [RULES_MEMBER]: this.#rulesId, ...doc }), 'utf8');
    const envelope = encryptEnvelope(plaintext, this.#key, envelopeHeader(this.#keyParams, revision));
    const bytes = serializeEnvelope(envelope);
    await writeFileAtomic(this.path, bytes);
    this.#lastTag = Buffer.from(envelope.tag, 'base64');
    this.#fileBytes = bytes.length;
    try {
      await cutFile(journalPathFor(this.path), 0);
      this.#journalBytes = 0;
      this.#mustCompact = false;
    } catch {
      // The update is on disk already; the stale journal is ignored on open and cut by the next rewrite.
      this.#mustCompact = true;
    }
  }
}

/** Applies journal records to the document from the vault file, in order. */
function replay(doc: unknown, records: Patch[][]): unknown {
  const draft = createDraft(doc as Objectish);
  try {
    for (const patches of records) applyPatches(draft, patches);
  } catch (cause) {
    finishDraft(draft);
    throw new LatchkeyError('vault_corrupt', 'The vault journal does not fit the vault file.', { cause });
  }
  return finishDraft(draft);
}

/**
 * The key params in the header of the vault at `path`, or `null` when there is
 * no vault yet: which key source it needs, without opening it. Throws
 * `vault_corrupt` for a damaged header.
 */
export async function readKeyParams(path: string): Promise<KeyParams | null> {
  const raw = await readIfExists(path);
  return raw === undefined ? null : parseEnvelopeHeader(raw).key;
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
  const now = (options.now ?? (() => new Date()))();
  const movedTo = await moveAside(path, now);
  // The journal belongs to that file: it goes aside with it (a fresh vault would reject it).
  await moveAside(journalPathFor(path), now);
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

const INVALID_DOCUMENT = 'The vault decrypted, but its contents are not a valid Latchkey document.';

function parseJson(plaintext: Buffer): unknown {
  try {
    return JSON.parse(plaintext.toString('utf8'));
  } catch {
    // No cause: V8's JSON.parse message quotes the input, which here is plaintext.
    throw new LatchkeyError('vault_corrupt', INVALID_DOCUMENT);
  }
}

/** The document of a vault file's plaintext, and the rules it says it was written under. */
function splitRules(plaintext: unknown): { document: unknown; rulesId?: unknown } {
  if (plaintext === null || typeof plaintext !== 'object' || Array.isArray(plaintext) || !Object.hasOwn(plaintext, RULES_MEMBER)) return { document: plaintext };
  const { [RULES_MEMBER]: rulesId, ...document } = plaintext as Record<string, unknown>;
  return { document, rulesId };
}

/**
 * A document written under the vault's rules, with journal records replayed
 * onto it: only what the records changed is checked, as an update would have
 * (without `checkChanged`, all of it).
 */
function checkReplayed<T>(doc: T, records: Patch[][], options: VaultOpenOptions<T>): T {
  if (records.length === 0) return doc;
  const { checkChanged } = options;
  if (!checkChanged) return parseDocument(doc, options.parse);
  try {
    checkChanged(doc, records.flatMap((patches) => patches.map((p) => p.path)));
  } catch (cause) {
    throw new LatchkeyError('vault_corrupt', INVALID_DOCUMENT, { cause });
  }
  return doc;
}

function parseDocument<T>(json: unknown, parse: (raw: unknown) => T): T {
  try {
    return parse(json);
  } catch (cause) {
    throw new LatchkeyError('vault_corrupt', INVALID_DOCUMENT, { cause });
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

/**
 * Freezes `value` and everything below it, stopping at frozen subtrees (what
 * an update did not touch). Indexed loops over keys, skipping strings and
 * numbers without a call: a 1,000-account document has some 10,000 objects
 * and 50,000 leaves, and `Object.values` per object doubled the time at open.
 */
function deepFreeze<V>(value: V): V {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'object' && child !== null) deepFreeze(child);
    }
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    for (let i = 0; i < keys.length; i++) {
      const child = record[keys[i]!];
      if (typeof child === 'object' && child !== null) deepFreeze(child);
    }
  }
  return value;
}
