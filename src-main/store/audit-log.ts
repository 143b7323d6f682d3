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

export class AuditLog {
  private entries: AuditEntry[] = [];
  private lines = 0;
  private lastTag: Buffer = GENESIS;
  private state: AuditLogState = { intact: true };
  /** Appends run one after another, so the chain follows file order. */
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly key: Buffer,
    private readonly maxEntries: number,
  ) {
    if (key.length !== 32) throw new LatchkeyError('usage', 'The audit log key must be 32 bytes');
  }

  /** Opens (or starts) the log at `path`; an unreadable file is an error, a tampered one is reported in {@link integrity}. */
  static async open(path: string, key: Buffer, maxEntries = 5000): Promise<AuditLog> {
    const log = new AuditLog(path, key, maxEntries);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new LatchkeyError('storage_error', `Cannot read the audit log ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      log.lines++;
      const raw = Buffer.from(line, 'base64url');
      const entry = log.state.intact ? log.decrypt(raw) : undefined;
      if (entry) log.remember(entry);
      else if (log.state.intact) log.state = { intact: false, brokenAtLine: log.lines };
      // Later entries still chain from what is in the file, so new ones verify on their own terms.
      if (raw.length > IV_BYTES + TAG_BYTES) log.lastTag = raw.subarray(raw.length - TAG_BYTES);
    }
    return log;
  }

  static newKey(): string {
    return randomBytes(32).toString('base64url');
  }

  integrity(): AuditLogState {
    return { ...this.state };
  }

  /** The newest entries, oldest first. */
  read(): readonly AuditEntry[] {
    return this.entries;
  }

  /**
   * Appends entries: in memory at once, on disk when the returned promise
   * resolves. Encryption happens here, synchronously, so the chain always
   * follows call order; the file writes are queued in the same order.
   */
  append(batch: readonly AuditEntry[]): Promise<void> {
    if (batch.length === 0) return this.chain;
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

  private decrypt(raw: Buffer): AuditEntry | undefined {
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(this.lastTag);
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const json = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      const parsed = AuditEntrySchema.safeParse(JSON.parse(json));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}
