/**
 * The vault's journal: the changes since the last full write, appended one
 * encrypted record per update, so persisting one rotated refresh token costs
 * one small append + fdatasync instead of re-encrypting and rewriting every
 * account. The vault folds the journal into a fresh full write ("compaction")
 * once it outgrows the vault file.
 *
 * One line per record: `<revision> <base64url(iv ‖ AES-256-GCM(JSON patches) ‖ tag)>`.
 * The revision is in clear so a journal left behind by an interrupted
 * compaction (all its revisions already inside the vault file) is recognised
 * as stale without a key.
 *
 * What it enforces:
 * - each record is authenticated with additional data = format tag ‖ its
 *   revision ‖ the previous record's tag, and the first record chains from the
 *   vault file's own tag; so an edited, reordered, removed or inserted record,
 *   or a journal from another vault or another full write, fails to open
 *   (`vault_corrupt`);
 * - revisions follow the vault file's revision one by one;
 * - only the last line may be incomplete (no newline: a write cut off by a
 *   crash before its fdatasync returned, so never acknowledged): it is dropped
 *   and cut off before the next append. A complete line that fails is tampering.
 * Not detectable (as for the vault file itself, which can be replaced by an
 * older copy): whole records cut off the end.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { LatchkeyError } from '../errors.js';

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = Buffer.from('latchkey-vault-journal-v1\0');
const LINE = /^(\d{1,15}) ([A-Za-z0-9_-]+)$/;

/** One update: JSON patches (immer's `Patch`: `{ op, path, value? }`) from revision − 1 to revision. */
export interface JournalRecord {
  revision: number;
  patches: unknown[];
}

function aad(revision: number, previousTag: Buffer): Buffer {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(revision));
  return Buffer.concat([FORMAT, counter, previousTag]);
}

/** The bytes of one line (newline included) and the tag the next record chains from. */
export function encodeJournalRecord(record: JournalRecord, key: Buffer, previousTag: Buffer): { line: Buffer; tag: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(record.revision, previousTag));
  const body = Buffer.concat([cipher.update(JSON.stringify(record.patches), 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return { line: Buffer.from(`${record.revision} ${Buffer.concat([iv, body, tag]).toString('base64url')}\n`, 'utf8'), tag };
}

export interface ReadJournal {
  /** Records to replay, in order; empty for a stale journal. */
  records: JournalRecord[];
  /** The tag the next record must chain from. */
  lastTag: Buffer;
  /** Bytes of the journal that hold the records (a torn tail after them is not counted). */
  goodBytes: number;
  /** Every record is already in the vault file (a compaction was interrupted before it emptied the journal). */
  stale: boolean;
  /** A last line cut off by a crash was dropped. */
  tornTail: boolean;
}

const corrupt = (why: string) => new LatchkeyError('vault_corrupt', `The vault journal is damaged: ${why}.`);

/**
 * Reads and authenticates the journal `raw` that follows a vault file at
 * `baseRevision` whose GCM tag is `baseTag`. Throws `vault_corrupt`.
 */
export function readJournal(raw: Buffer, key: Buffer, baseRevision: number, baseTag: Buffer): ReadJournal {
  const text = raw.toString('utf8');
  const end = text.lastIndexOf('\n') + 1;
  const lines = end === 0 ? [] : text.slice(0, end - 1).split('\n');
  const tornTail = end < text.length;
  const goodBytes = Buffer.byteLength(text.slice(0, end), 'utf8');
  const parsed = lines.map((line, i) => {
    const m = LINE.exec(line);
    if (!m) throw corrupt(`line ${i + 1} is not a journal record`);
    return { revision: Number(m[1]), sealed: Buffer.from(m[2]!, 'base64url') };
  });
  if (parsed.length > 0 && parsed[0]!.revision <= baseRevision) {
    // Left by a compaction that wrote the vault file but was stopped before emptying the journal.
    if (parsed.some((p) => p.revision > baseRevision)) throw corrupt('it mixes revisions from before and after the vault file');
    return { records: [], lastTag: baseTag, goodBytes, stale: true, tornTail };
  }
  const records: JournalRecord[] = [];
  let previousTag = baseTag;
  for (const [i, { revision, sealed }] of parsed.entries()) {
    if (revision !== baseRevision + i + 1) throw corrupt(`record ${i + 1} has revision ${revision}, expected ${baseRevision + i + 1}`);
    if (sealed.length < IV_BYTES + TAG_BYTES) throw corrupt(`record ${i + 1} is too short`);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv(CIPHER, key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(revision, previousTag));
    decipher.setAuthTag(tag);
    let json: string;
    try {
      json = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw corrupt(`record ${i + 1} fails authentication (edited, reordered, or from another vault)`);
    }
    // Authenticated, so written by us: a parse failure would be our bug, but stays a typed error.
    let patches: unknown;
    try {
      patches = JSON.parse(json);
    } catch {
      throw corrupt(`record ${i + 1} is not JSON`);
    }
    if (!Array.isArray(patches)) throw corrupt(`record ${i + 1} holds no patches`);
    records.push({ revision, patches });
    previousTag = Buffer.from(tag);
  }
  return { records, lastTag: previousTag, goodBytes, stale: false, tornTail };
}
