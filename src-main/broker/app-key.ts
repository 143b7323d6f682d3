/**
 * App keys: the Ed25519 key pair with which a local app proves, on every
 * connection, that it is the same app the person approved before. Used on both
 * sides: the SDK creates and keeps the key for its app, the agent verifies.
 *
 * Enforces:
 * - public keys travel as base64url of the raw 32-byte key and must decode to a
 *   canonical curve point that is not of small order (such a "key" could be
 *   satisfied without any private key for some messages);
 * - what is signed is the app proof of wire/app-proof.ts (a domain-separated
 *   byte string, one statement per byte string);
 * - the key file is created atomically, 0600 in a directory that only its
 *   owner can write; an existing file readable or writable by group/other, not
 *   ours, or a symlink is refused rather than used (POSIX only; Windows relies
 *   on the ACLs of the user's profile directory);
 * - a key file whose public key does not match its private key is refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8032 (Ed25519)
 * @see https://www.rfc-editor.org/rfc/rfc8037 (OKP JWK, the raw key in `x`)
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { createFileExclusive } from '../platform/file-safety.js';

/** An app's key pair as the SDK keeps it. The private key never leaves the app's process. */
export interface AppKey {
  /** base64url (no padding) of the raw 32-byte Ed25519 public key, as sent to the agent. */
  publicKey: string;
  /** PKCS#8 PEM of the private key. */
  privateKeyPem: string;
}

const RAW_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const BASE64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const BASE64URL_64 = /^[A-Za-z0-9_-]{86}$/;

/**
 * Makes a fresh key pair. The pair comes out already encoded and is read back
 * into a key object of its own: on Node 20, exporting a key object that
 * `generateKeyPairSync` returned can deadlock the process, when a garbage
 * collection during the export destroys the finished key generation job,
 * which takes the lock the export holds (seen with the demo provider's RSA key:
 * the agent hung for good; reproduced with Ed25519 in a loop).
 */
export function generateAppKey(): AppKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey: rawPublicKey(createPublicKey({ key: publicKey, format: 'der', type: 'spki' })), privateKeyPem: privateKey };
}

// --- The key file -----------------------------------------------------------

/** Key files are JSON so a person can see which public key an app uses. */
const keyFileSchema = z.object({
  version: z.literal(1),
  public_key: z.string(),
  private_key: z.string().max(4096),
});

const MAX_KEY_FILE_BYTES = 16 * 1024;

/**
 * Loads the app key at `path`, or creates it (and its directory, 0700) on
 * first use. Two processes of the same app racing here end up with the same
 * key: the file appears by hard link, which fails if it already exists.
 *
 * Throws `config_invalid` for a file that is unsafe (permissions, owner,
 * symlink) or unreadable as a key, and `storage_error` when the disk fails.
 */
export async function loadOrCreateAppKey(path: string, platform: NodeJS.Platform = process.platform): Promise<AppKey> {
  await ensureKeyDir(dirname(path), platform);
  const existing = await readKeyFile(path, platform);
  if (existing) return existing;
  const key = generateAppKey();
  if (await createFileExclusive(path, serialiseKeyFile(key))) return key;
  // Another process of this app created it between our read and our link.
  const winner = await readKeyFile(path, platform);
  if (!winner) throw new LatchkeyError('storage_error', `App key file ${path} vanished while it was being created; try again`);
  return winner;
}

function serialiseKeyFile(key: AppKey): string {
  const file: z.infer<typeof keyFileSchema> = { version: 1, public_key: key.publicKey, private_key: key.privateKeyPem };
  return `${JSON.stringify(file, null, 2)}\n`;
}

async function ensureKeyDir(dir: string, platform: NodeJS.Platform): Promise<void> {
  let info;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    info = await lstat(dir);
  } catch (cause) {
    throw new LatchkeyError('storage_error', `Cannot create the app key directory ${dir}: ${errMessage(cause)}`, { cause });
  }
  if (!info.isDirectory()) throw new LatchkeyError('config_invalid', `App key directory ${dir} is not a directory`);
  if (platform === 'win32') return;
  checkOwner(dir, info.uid);
  // Whoever can write the directory can swap the key file for one whose private key they know.
  if ((info.mode & 0o022) !== 0) {
    throw new LatchkeyError('config_invalid', `App key directory ${dir} is writable by other users (mode ${modeString(info.mode)}); run chmod 700 on it`);
  }
}

/** Reads and checks the key file; `undefined` if there is none. */
async function readKeyFile(path: string, platform: NodeJS.Platform): Promise<AppKey | undefined> {
  let handle;
  try {
    // O_NOFOLLOW: a symlink planted at the path must not redirect us to someone else's key.
    handle = await open(path, constants.O_RDONLY | (platform === 'win32' ? 0 : constants.O_NOFOLLOW));
  } catch (cause) {
    const code = errCode(cause);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new LatchkeyError('config_invalid', `App key file ${path} is a symlink; refusing to use it`, { cause });
    throw new LatchkeyError('storage_error', `Cannot read app key file ${path}: ${errMessage(cause)}`, { cause });
  }
  try {
    // fstat of the open file, so the checks apply to exactly the bytes we read.
    const info = await handle.stat();
    if (!info.isFile()) throw new LatchkeyError('config_invalid', `App key file ${path} is not a regular file`);
    if (platform !== 'win32') {
      checkOwner(path, info.uid);
      if ((info.mode & 0o077) !== 0) {
        throw new LatchkeyError(
          'config_invalid',
          `App key file ${path} is accessible by other users (mode ${modeString(info.mode)}); run chmod 600 on it, or delete it to make a new key (the app will need approval again)`,
        );
      }
    }
    if (info.size > MAX_KEY_FILE_BYTES) throw corrupt(path, 'it is too large');
    return parseKeyFile(path, (await handle.readFile()).toString('utf8'));
  } finally {
    await handle.close();
  }
}

function parseKeyFile(path: string, text: string): AppKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw corrupt(path, 'it is not JSON', cause);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) throw corrupt(path, 'it is not an app key file', parsed.error);
  let privateKey: ParsedPrivateKey;
  try {
    privateKey = parsePrivateKey(parsed.data.private_key);
  } catch (cause) {
    throw corrupt(path, 'its private key cannot be read', cause);
  }
  if (privateKey.key.asymmetricKeyType !== 'ed25519') throw corrupt(path, 'its private key is not Ed25519');
  if (privateKey.publicKey !== parsed.data.public_key) throw corrupt(path, 'its public key does not belong to its private key');
  return { publicKey: privateKey.publicKey, privateKeyPem: parsed.data.private_key };
}

interface ParsedPrivateKey {
  key: KeyObject;
  /** Raw public key as base64url; undefined for a key that is not Ed25519. */
  publicKey: string | undefined;
}

/**
 * The PEM as a KeyObject, parsed once per PEM text: OpenSSL's PEM decoding
 * costs about a millisecond, and an app signs on every connection (and the
 * SDK re-reads its key file on every connect). Bounded: an app has one key.
 */
function parsePrivateKey(pem: string): ParsedPrivateKey {
  let parsed = parsedPrivateKeys.get(pem);
  if (parsed) return parsed;
  const key = createPrivateKey(pem);
  parsed = { key, publicKey: key.asymmetricKeyType === 'ed25519' ? rawPublicKey(createPublicKey(key)) : undefined };
  if (parsedPrivateKeys.size >= MAX_PARSED_PRIVATE_KEYS) parsedPrivateKeys.delete(parsedPrivateKeys.keys().next().value!);
  parsedPrivateKeys.set(pem, parsed);
  return parsed;
}

const parsedPrivateKeys = new Map<string, ParsedPrivateKey>();
const MAX_PARSED_PRIVATE_KEYS = 8;

function corrupt(path: string, why: string, cause?: unknown): LatchkeyError {
  return new LatchkeyError(
    'config_invalid',
    `App key file ${path} is unusable: ${why}. Delete it to make a new key (the app will need approval again)`,
    cause === undefined ? {} : { cause },
  );
}

function checkOwner(path: string, uid: number): void {
  const ours = process.getuid?.();
  if (ours !== undefined && uid !== ours) {
    throw new LatchkeyError('config_invalid', `${path} is owned by uid ${uid}, not by you (uid ${ours}); refusing to use it for an app key`);
  }
}

// --- Proofs -----------------------------------------------------------------

/** Signs `payload` (from `challengePayload` in wire/app-proof.ts); returns the signature as base64url. */
export function signChallenge(privateKeyPem: string, payload: Uint8Array): string {
  let key: KeyObject;
  try {
    key = parsePrivateKey(privateKeyPem).key;
  } catch (cause) {
    throw new LatchkeyError('usage', 'The app private key cannot be read', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new LatchkeyError('usage', 'The app private key is not Ed25519');
  return sign(null, payload, key).toString('base64url');
}

/**
 * True only for a valid Ed25519 signature by `publicKey` over `payload`.
 * Malformed keys and signatures are simply not valid: this never throws.
 */
export function verifyChallenge(publicKey: string, payload: Uint8Array, signature: string): boolean {
  if (typeof signature !== 'string' || !BASE64URL_64.test(signature)) return false;
  const sig = Buffer.from(signature, 'base64url');
  // Re-encoding catches non-canonical trailing bits, so one signature has one spelling.
  if (sig.length !== SIGNATURE_BYTES || sig.toString('base64url') !== signature) return false;
  let key: KeyObject;
  try {
    key = parsePublicKey(publicKey);
  } catch {
    return false;
  }
  return verify(null, payload, key, sig);
}

/**
 * Checks an app's public key and returns it as a KeyObject. Throws `usage`
 * unless it is base64url of 32 bytes that decode to a usable Ed25519 point.
 */
export function parsePublicKey(publicKey: string): KeyObject {
  const known = typeof publicKey === 'string' ? checkedKeys.get(publicKey) : undefined;
  if (known) return known;
  const key = checkPublicKey(publicKey);
  // The curve checks cost about a millisecond each and a handshake needs the key three times;
  // an app reconnecting brings the same key. Bounded: keys are chosen by clients.
  if (checkedKeys.size >= MAX_CHECKED_KEYS) checkedKeys.delete(checkedKeys.keys().next().value!);
  checkedKeys.set(publicKey, key);
  return key;
}

/** Public keys that passed {@link checkPublicKey}, oldest first. */
const checkedKeys = new Map<string, KeyObject>();
const MAX_CHECKED_KEYS = 256;

function checkPublicKey(publicKey: string): KeyObject {
  if (typeof publicKey !== 'string' || !BASE64URL_32.test(publicKey)) {
    throw new LatchkeyError('usage', 'The app public key must be base64url of a raw 32-byte Ed25519 key');
  }
  const raw = Buffer.from(publicKey, 'base64url');
  if (raw.length !== RAW_KEY_BYTES || raw.toString('base64url') !== publicKey) {
    throw new LatchkeyError('usage', 'The app public key must be base64url of a raw 32-byte Ed25519 key');
  }
  // OpenSSL accepts any 32 bytes as a key; the curve checks are ours.
  if (!isUsableEd25519Point(raw)) throw new LatchkeyError('usage', 'The app public key is not a valid Ed25519 key');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
}

/**
 * `SHA256:<base64>` of the key, exactly as `ssh-keygen -l` prints it for the
 * same key in OpenSSH form, so a person can compare it with a familiar tool.
 */
export function keyFingerprint(publicKey: string): string {
  parsePublicKey(publicKey);
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(Buffer.from(publicKey, 'base64url'))]);
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** RFC 4251 §5 `string`: a uint32 length, then the bytes. */
function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function rawPublicKey(key: KeyObject): string {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new LatchkeyError('internal', 'Ed25519 key has no raw public part');
  return x;
}

// --- Curve checks -----------------------------------------------------------
// Affine arithmetic on edwards25519 with BigInt: slow by crypto standards
// (about a millisecond), but it runs once per handshake.

const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/**
 * RFC 8032 §5.1.3 decoding, plus a refusal of the 8 small-order points:
 * `[8]A` must not be the identity.
 */
function isUsableEd25519Point(raw: Buffer): boolean {
  const sign = (raw[31]! >> 7) & 1;
  const littleEndian = Buffer.from(raw);
  littleEndian[31] = littleEndian[31]! & 0x7f;
  const y = BigInt(`0x${littleEndian.reverse().toString('hex')}`);
  if (y >= P) return false; // non-canonical encoding
  const y2 = mod(y * y);
  const x2 = mod((y2 - 1n) * inverse(mod(D * y2 + 1n)));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x) !== x2) x = mod(x * SQRT_M1);
  if (mod(x * x) !== x2) return false; // not on the curve
  if (x === 0n && sign === 1) return false; // non-canonical "-0"
  if ((x & 1n) !== BigInt(sign)) x = P - x;
  let point: [bigint, bigint] = [x, y];
  for (let i = 0; i < 3; i++) point = add(point, point);
  return !(point[0] === 0n && point[1] === 1n);
}

/** The complete twisted Edwards addition law for a = −1 (valid for doubling too). */
function add([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inverse(1n + t)), mod((y1 * y2 + x1 * x2) * inverse(mod(1n - t)))];
}

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
  }
  return result;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

function modeString(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
