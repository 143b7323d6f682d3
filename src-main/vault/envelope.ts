/**
 * The vault's on-disk format: a JSON envelope around one AES-256-GCM ciphertext.
 *
 * What it enforces:
 * - a fresh random 96-bit IV for every encryption (NIST SP 800-38D §8.2.2);
 * - the header (format, version, revision, cipher, key params) is the GCM
 *   additional authenticated data, in canonical JSON, so editing any of it
 *   (say, the kdf salt or the keyring account) fails authentication;
 * - anything that does not match the schema is `vault_corrupt` before any
 *   crypto runs;
 * - the key params carry a key check (`check`, an HMAC of a fixed label under
 *   the master key), so a wrong key (a mistyped passphrase) is told apart from
 *   an altered file before decryption: only the latter is damage.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { KeyParams } from './key-source.js';

export const VAULT_FORMAT = 'latchkey-vault';
export const VAULT_FORMAT_VERSION = 1;
export const VAULT_CIPHER = 'aes-256-gcm';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The authenticated, unencrypted part of the envelope. */
export interface EnvelopeHeader {
  format: typeof VAULT_FORMAT;
  version: typeof VAULT_FORMAT_VERSION;
  /** Counts writes; starts at 1 when the vault is created. */
  revision: number;
  cipher: typeof VAULT_CIPHER;
  key: KeyParams;
}

export interface Envelope extends EnvelopeHeader {
  iv: string;
  tag: string;
  ciphertext: string;
}

/**
 * An envelope as read from a vault file: its ciphertext stays the base64 text
 * it is in the file, as the file's own bytes (a view, not a copy), and is
 * decoded piece by piece while it is decrypted. A 1,000-account vault holds
 * some 3 MB of base64: as a JSON string, a decoded copy and a checked copy it
 * cost ≈ 10 MiB of the agent's memory at start.
 */
export interface ReadEnvelope extends EnvelopeHeader {
  iv: string;
  tag: string;
  /** Padded standard base64 (checked), ASCII bytes. */
  ciphertext: Buffer;
}

const base64Of = (bytes: number) =>
  z.base64().refine((s) => Buffer.from(s, 'base64').length === bytes, `must be ${bytes} bytes`);

/**
 * Padded standard base64 (RFC 4648 §4), checked without zod's pattern: over
 * the 3 MiB ciphertext of a 1,000-account vault, a pattern (run by V8's
 * regexp interpreter the first time) plus zod's trial decode cost tens of
 * milliseconds of every open; one decode and two character searches a few.
 */
export function isPaddedBase64(text: string): boolean {
  if (text.length % 4 !== 0 || text.includes('-') || text.includes('_')) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  // Node's decoder skips characters outside the alphabet and stops at "=" (accepting base64url's "-" and "_",
  // excluded above): any stray character makes the result shorter than the length promises.
  return Buffer.from(text, 'base64').length === (text.length / 4) * 3 - padding;
}

const envelopeSchema = z.object({
  format: z.literal(VAULT_FORMAT),
  version: z.literal(VAULT_FORMAT_VERSION),
  revision: z.number().int().positive(),
  cipher: z.literal(VAULT_CIPHER),
  key: z.looseObject({ kind: z.enum(['keyring', 'passphrase', 'safe-storage']) }),
  iv: base64Of(IV_BYTES),
  tag: base64Of(TAG_BYTES),
  ciphertext: z.string().refine(isPaddedBase64, 'must be base64'),
});

/** JSON with object keys sorted at every depth, so the AAD does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function aadFor(header: EnvelopeHeader): Buffer {
  const { format, version, revision, cipher, key } = header;
  return Buffer.from(canonicalJson({ format, version, revision, cipher, key }), 'utf8');
}

function assertKey(key: Buffer): void {
  // A wrong-sized key is a programming error in a key source, not a vault problem.
  if (key.length !== KEY_BYTES) throw new LatchkeyError('internal', `Vault key must be ${KEY_BYTES} bytes.`);
}

const KEY_CHECK_LABEL = 'latchkey vault key check v1';
const KEY_CHECK_BYTES = 16;

/**
 * The key check stored as `check` in the key params: it shows whether a key is
 * the vault's without decrypting anything. It tells an attacker holding the
 * file nothing the ciphertext does not (a guessed key can be tried on either).
 */
export function keyCheck(key: Buffer): string {
  assertKey(key);
  return createHmac('sha256', key).update(KEY_CHECK_LABEL).digest().subarray(0, KEY_CHECK_BYTES).toString('base64');
}

/** The key params with a key check for `key` added (vaults written before the check existed gain one). */
export function withKeyCheck(params: KeyParams, key: Buffer): KeyParams {
  return { ...params, check: keyCheck(key) };
}

/**
 * `match` or `mismatch` when the header has a key check, `absent` when it has
 * none (a vault written before the check existed, or a header stripped of it).
 */
export function verifyKeyCheck(params: KeyParams, key: Buffer): 'match' | 'mismatch' | 'absent' {
  if (typeof params.check !== 'string') return 'absent';
  const stored = Buffer.from(params.check, 'base64');
  const expected = Buffer.from(keyCheck(key), 'base64');
  return stored.length === expected.length && timingSafeEqual(stored, expected) ? 'match' : 'mismatch';
}

/** Makes a fresh header for `revision` of a vault whose key is found by `key`. */
export function envelopeHeader(key: KeyParams, revision: number): EnvelopeHeader {
  return { format: VAULT_FORMAT, version: VAULT_FORMAT_VERSION, revision, cipher: VAULT_CIPHER, key };
}

/** Encrypts `plaintext` under `key` with a fresh IV, authenticating `header`. */
export function encryptEnvelope(plaintext: Buffer, key: Buffer, header: EnvelopeHeader): Envelope {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(VAULT_CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadFor(header));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    ...header,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

/** Base64 characters decoded per step when decrypting a read envelope (a multiple of 4). */
const BASE64_STEP = 64 * 1024;

/**
 * Decrypts and authenticates an envelope. A wrong key and an altered file look
 * the same to GCM, so without a verified key (see {@link verifyKeyCheck}) both
 * throw one error: `vault_locked` when the key came from a passphrase (the
 * likely cause is a typo), `vault_corrupt` otherwise. With `keyVerified` the
 * key is known to be right, so a failure is an altered file: `vault_corrupt`.
 */
export function decryptEnvelope(envelope: Envelope | ReadEnvelope, key: Buffer, keyVerified = false): Buffer {
  assertKey(key);
  const decipher = createDecipheriv(VAULT_CIPHER, key, Buffer.from(envelope.iv, 'base64'), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aadFor(envelope));
  decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
  try {
    const { ciphertext } = envelope;
    let plaintext: Buffer;
    if (typeof ciphertext === 'string') {
      plaintext = decipher.update(Buffer.from(ciphertext, 'base64'));
    } else {
      // GCM is a stream cipher: each step's plaintext goes straight into its place in one buffer.
      plaintext = Buffer.allocUnsafe(base64DecodedLength(ciphertext));
      const step = Buffer.allocUnsafe((BASE64_STEP / 4) * 3);
      let written = 0;
      for (let at = 0; at < ciphertext.length; at += BASE64_STEP) {
        const decoded = step.write(ciphertext.toString('latin1', at, Math.min(at + BASE64_STEP, ciphertext.length)), 'base64');
        written += decipher.update(step.subarray(0, decoded)).copy(plaintext, written);
      }
    }
    // GCM's final() adds nothing: no second copy of a vault's megabytes of plaintext.
    const tail = decipher.final();
    return tail.length === 0 ? plaintext : Buffer.concat([plaintext, tail]);
  } catch (cause) {
    if (keyVerified) {
      throw new LatchkeyError('vault_corrupt', 'Could not decrypt the vault: its key is right, so the vault file was altered.', { cause });
    }
    throw envelope.key.kind === 'passphrase'
      ? new LatchkeyError('vault_locked', 'Could not unlock the vault: wrong passphrase, or the vault file was altered.', { cause })
      : new LatchkeyError('vault_corrupt', 'Could not decrypt the vault: the vault file was altered, or its key does not match.', { cause });
  }
}

const headerSchema = envelopeSchema.pick({ format: true, version: true, revision: true, cipher: true, key: true });

const sealedSchema = envelopeSchema.omit({ ciphertext: true });

/**
 * Parses the raw bytes of a vault file into an envelope, or throws
 * `vault_corrupt`. The ciphertext is checked (padded standard base64) but
 * left in the file's bytes (see {@link ReadEnvelope}).
 */
export function parseEnvelope(raw: Buffer): ReadEnvelope {
  const split = splitCiphertext(raw);
  const sealed = split && headerWithoutCiphertext(split.rest, sealedSchema);
  if (split && sealed) {
    if (!isPaddedBase64Bytes(split.ciphertext)) throw notAVault(undefined);
    return { ...(sealed as Omit<Envelope, 'ciphertext'>), ciphertext: split.ciphertext };
  }
  const envelope = parseWith(envelopeSchema, raw) as Envelope;
  return { ...envelope, ciphertext: Buffer.from(envelope.ciphertext, 'latin1') };
}

/** Only the header of the vault file (which key source it needs), without checking the ciphertext; throws `vault_corrupt`. */
export function parseEnvelopeHeader(raw: Buffer): EnvelopeHeader {
  const split = splitCiphertext(raw);
  return ((split && headerWithoutCiphertext(split.rest, headerSchema)) ?? parseWith(headerSchema, raw)) as EnvelopeHeader;
}

/** The file with its ciphertext emptied, parsed with `schema`; undefined for anything else (the whole file's parse then says what is wrong). */
function headerWithoutCiphertext(rest: Buffer, schema: z.ZodType): unknown {
  try {
    const json = JSON.parse(rest.toString('utf8')) as { ciphertext?: unknown };
    // The emptied value must be the envelope's own field (not a look-alike nested in the header).
    if (json.ciphertext !== '') return undefined;
    const parsed = schema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const CIPHERTEXT_KEY = Buffer.from('"ciphertext"');
const isJsonSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The vault file's ciphertext value (its bytes) and the file with that value
 * emptied, so the header is read without decoding and parsing megabytes of
 * base64 as JSON. `"ciphertext"` followed by `:` can only be a key, and a
 * base64 value has no `"` or `\`, so it ends at the next quote; `undefined`
 * (parse the whole file) for anything else.
 */
function splitCiphertext(raw: Buffer): { ciphertext: Buffer; rest: Buffer } | undefined {
  const at = raw.indexOf(CIPHERTEXT_KEY);
  if (at < 0) return undefined;
  let i = at + CIPHERTEXT_KEY.length;
  while (isJsonSpace(raw[i])) i++;
  if (raw[i++] !== 0x3a /* : */) return undefined;
  while (isJsonSpace(raw[i])) i++;
  if (raw[i] !== 0x22 /* " */) return undefined;
  const end = raw.indexOf(0x22, i + 1);
  if (end < 0) return undefined;
  const backslash = raw.indexOf(0x5c /* \ */, i + 1);
  if (backslash >= 0 && backslash < end) return undefined;
  return { ciphertext: raw.subarray(i + 1, end), rest: Buffer.concat([raw.subarray(0, i + 1), raw.subarray(end)]) };
}

/** 1 for each byte of the standard base64 alphabet (RFC 4648 §4), padding aside. */
const BASE64_ALPHABET = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;
const PAD = 0x3d; // =

/** {@link isPaddedBase64} for base64 text as ASCII bytes: one pass over them, no decoding. */
function isPaddedBase64Bytes(text: Buffer): boolean {
  if (text.length % 4 !== 0) return false;
  const data = text.length - paddingOf(text);
  for (let i = 0; i < data; i++) if (BASE64_ALPHABET[text[i]!] !== 1) return false;
  return true;
}

/** Bytes that checked base64 text decodes to. */
function base64DecodedLength(text: Buffer): number {
  return (text.length / 4) * 3 - paddingOf(text);
}

/** How many `=` end base64 text given as bytes (0 to 2). */
function paddingOf(text: Buffer): number {
  return text.length === 0 || text[text.length - 1] !== PAD ? 0 : text[text.length - 2] === PAD ? 2 : 1;
}

function notAVault(cause: unknown): LatchkeyError {
  return new LatchkeyError('vault_corrupt', 'The vault file is not a Latchkey vault, or its header is damaged.', cause === undefined ? {} : { cause });
}

function parseWith(schema: z.ZodType, raw: Buffer): unknown {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new LatchkeyError('vault_corrupt', 'The vault file is not valid JSON (truncated or overwritten).', { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw notAVault(parsed.error);
  return parsed.data;
}

/** The exact bytes written to disk. */
export function serializeEnvelope(envelope: Envelope): Buffer {
  return Buffer.from(`${JSON.stringify(envelope, null, 2)}\n`, 'utf8');
}
