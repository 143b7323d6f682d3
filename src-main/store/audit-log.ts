/**
 * The broker's audit log, kept beside the vault rather than inside it: every
 * token handed out is one entry, and rewriting (and re-encrypting) the whole
 * vault for each batch of entries made every write — including the one that
 * persists a rotated refresh token — pay for the whole history.
 *
 * One line per entry, appended: base64url(iv ‖ AES-256-GCM(entry JSON) ‖ tag).
 * The key is random and lives in the (encrypted) vault, so the log is exactly
 * as private as the vault. Each line's additional authenticated data is the
 * previous line's tag, so an entry that is edited, removed from the middle or
 * moved is detected; cutting entries off the end is not (nothing after them
 * vouches for them). A line that fails is reported, never silently dropped.
 *
 * Bounded: the newest `maxEntries` are kept in memory; when the file holds
 * twice that, it is rewritten (atomically) with the newest `maxEntries`.
 * Appends and rewrites are on disk when they resolve (platform/file-safety.ts).
 *
 * Verified when first needed, not at open: decrypting a chain of thousands of
 * entries would be most of an agent's start, and nothing reads the entries
 * before someone asks for them (`latchkey activity`). Every read of the
 * entries or of {@link AuditLog.integrity}, and every append, verifies the
 * whole file first; appends chain from the file's last line whatever it holds.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LatchkeyError } from '../errors.js';
import { appendFileDurable, writeFileAtomic } from '../platform/file-safety.js';
import { AuditEntrySchema, type AuditEntry } from './vault-document.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const GENESIS = Buffer.from('latchkey-audit-v1');

export interface AuditLogState {
  /** false once a line failed to decrypt or to chain: someone changed the file. */
  intact: boolean;
  /** The first line (1-based) that failed, if any. */
  brokenAtLine?: number;
}

export interface AuditLogOptions {
  /** Newest entries kept in memory; the file is compacted at twice this. Default 5,000. */
  maxEntries?: number;
  /** Told once, when verification finds the file changed outside Latchkey. */
  onBroken?: (state: AuditLogState) => void;
}

export class AuditLog {
  private entries: AuditEntry[] = [];
  private lines = 0;
  private lastTag: Buffer = GENESIS;
  private state: AuditLogState = { intact: true };
  /** The file's lines as read at open, until they are verified (see {@link verify}). */
  private unverified: string[] | undefined;
  /** Appends run one after another, so the chain follows file order. */
  private chain: Promise<void> = Promise.resolve();
  private readonly maxEntries: number;

  private constructor(
    private readonly path: string,
    private readonly key: Buffer,
    private readonly options: AuditLogOptions,
  ) {
    if (key.length !== 32) throw new LatchkeyError('usage', 'The audit log key must be 32 bytes');
    this.maxEntries = options.maxEntries ?? 5000;
  }

  /** Opens (or starts) the log at `path`; an unreadable file is an error, a tampered one is reported in {@link integrity}. */
  static async open(path: string, key: Buffer, options: AuditLogOptions = {}): Promise<AuditLog> {
    const log = new AuditLog(path, key, options);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new LatchkeyError('storage_error', `Cannot read the audit log ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    const lines = text.split('\n').filter(Boolean);
    log.lines = lines.length;
    log.unverified = lines;
    // New entries chain from what is in the file (the last line long enough to hold a tag), so they verify on their own terms.
    for (let i = lines.length - 1; i >= 0; i--) {
      const raw = Buffer.from(lines[i]!, 'base64url');
      if (raw.length > IV_BYTES + TAG_BYTES) {
        log.lastTag = raw.subarray(raw.length - TAG_BYTES);
        break;
      }
    }
    return log;
  }

  static newKey(): string {
    return randomBytes(32).toString('base64url');
  }

  integrity(): AuditLogState {
    this.verify();
    return { ...this.state };
  }

  /** The newest entries, oldest first. */
  read(): readonly AuditEntry[] {
    this.verify();
    return this.entries;
  }

  /**
   * Decrypts the lines read at open along their chain, once: the entries up to
   * the first line that fails are kept, and the failure is reported.
   */
  private verify(): void {
    const lines = this.unverified;
    if (!lines) return;
    this.unverified = undefined;
    let aad = GENESIS;
    for (const [i, line] of lines.entries()) {
      const raw = Buffer.from(line, 'base64url');
      const entry = this.decrypt(raw, aad);
      if (!entry) {
        this.state = { intact: false, brokenAtLine: i + 1 };
        this.options.onBroken?.({ ...this.state });
        break;
      }
      this.remember(entry);
      aad = raw.subarray(raw.length - TAG_BYTES);
    }
  }

  /**
   * Appends entries: in memory at once, on disk when the returned promise
   * resolves. Encryption happens here, synchronously, so the chain always
   * follows call order; the file writes are queued in the same order.
   */
  append(batch: readonly AuditEntry[]): Promise<void> {
    if (batch.length === 0) return this.chain;
    // The entries in memory must be the file's before new ones go after them (and before a compaction keeps the newest).
    this.verify();
    for (const e of batch) this.remember(e);
    let write: () => Promise<void>;
    if (this.lines + batch.length >= 2 * this.maxEntries) {
      // Compact: the newest entries on a fresh chain, replacing the file atomically.
      this.entries = this.entries.slice(-this.maxEntries);
      this.lastTag = GENESIS;
      const text = this.entries.map((e) => this.encrypt(e)).join('');
      this.lines = this.entries.length;
      write = async () => {
        // A crash leaves the old log or the new one.
        await writeFileAtomic(this.path, text);
        this.state = { intact: true };
      };
    } else {
      const text = batch.map((e) => this.encrypt(e)).join('');
      this.lines += batch.length;
      write = () => appendFileDurable(this.path, text);
    }
    const done = this.chain.then(write).catch((err) => {
      throw new LatchkeyError('storage_error', `Cannot write the audit log ${this.path}: ${(err as Error).message}`, { cause: err });
    });
    this.chain = done.catch(() => undefined);
    return done;
  }

  private remember(entry: AuditEntry): void {
    this.entries.push(entry);
    if (this.entries.length > 2 * this.maxEntries) this.entries = this.entries.slice(-this.maxEntries);
  }

  private encrypt(entry: AuditEntry): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.lastTag);
    const body = Buffer.concat([cipher.update(JSON.stringify(entry), 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    this.lastTag = tag;
    return `${Buffer.concat([iv, body, tag]).toString('base64url')}\n`;
  }

  /** One line's entry, if it decrypts with `aad` (the previous line's tag) and is a valid entry. */
  private decrypt(raw: Buffer, aad: Buffer): AuditEntry | undefined {
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(aad);
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const json = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      const parsed = AuditEntrySchema.safeParse(JSON.parse(json));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}
