import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors.js';
import { redact } from '../log/logger.js';
import {
  generateAppKey,
  keyFingerprint,
  loadOrCreateAppKey,
  parsePublicKey,
  signChallenge,
  verifyChallenge,
} from './app-key.js';
import { challengePayload } from '../wire/app-proof.js';
import { tempDir } from '../testing/test-home.js';

const P = 2n ** 255n - 19n;
const posix = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;

/** Little-endian 32-byte encoding of y with the sign bit, as RFC 8032 §5.1.2. */
function encodePoint(y: bigint, sign = 0): string {
  const bytes = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
  bytes[31] = bytes[31]! | (sign << 7);
  return bytes.toString('base64url');
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof LatchkeyError ? err.code : `non-latchkey: ${String(err)}`;
  }
  return undefined;
}

async function codeOfAsync(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return { code: (err as LatchkeyError).code, message: (err as Error).message };
  }
  return { message: 'no error' };
}

const parts = { challenge: 'c'.repeat(43), appId: 'com.example.tool', agentInstance: 'i'.repeat(24) };

describe('sign and verify', () => {
  const key = generateAppKey();
  const payload = challengePayload(parts);
  const signature = signChallenge(key.privateKeyPem, payload);

  it('a signature by the key over the payload verifies', () => {
    expect(key.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(verifyChallenge(key.publicKey, payload, signature)).toBe(true);
  });

  it('rejects another key, another payload and any tampering, without throwing', () => {
    const other = generateAppKey();
    expect(verifyChallenge(other.publicKey, payload, signature)).toBe(false);
    expect(verifyChallenge(key.publicKey, challengePayload({ ...parts, appId: 'com.example.other' }), signature)).toBe(false);
    expect(verifyChallenge(key.publicKey, challengePayload({ ...parts, agentInstance: 'j'.repeat(24) }), signature)).toBe(false);
    const flipped = Buffer.from(signature, 'base64url');
    flipped[10] = flipped[10]! ^ 1;
    expect(verifyChallenge(key.publicKey, payload, flipped.toString('base64url'))).toBe(false);
  });

  it('rejects malformed signatures and keys', () => {
    const raw = Buffer.from(signature, 'base64url');
    const malformed = [
      '',
      'not base64!',
      raw.toString('base64'), // standard alphabet with padding
      raw.subarray(0, 63).toString('base64url'),
      Buffer.concat([raw, Buffer.alloc(1)]).toString('base64url'),
      // Same 64 bytes, different trailing bits: one signature must have one spelling.
      signature.slice(0, -1) + (signature.endsWith('A') ? 'B' : 'A'),
      42 as unknown as string,
    ];
    for (const bad of malformed) expect(verifyChallenge(key.publicKey, payload, bad)).toBe(false);
    for (const badKey of ['', 'x', Buffer.alloc(31).toString('base64url'), `${key.publicKey}A`, encodePoint(1n)]) {
      expect(verifyChallenge(badKey, payload, signature)).toBe(false);
    }
  });

  it('signChallenge refuses a private key that is not Ed25519', () => {
    const x25519 = generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).privateKey;
    expect(codeOf(() => signChallenge(x25519, payload))).toBe('usage');
    expect(codeOf(() => signChallenge('garbage', payload))).toBe('usage');
  });
});

describe('parsePublicKey', () => {
  it('accepts generated keys', () => {
    for (let i = 0; i < 50; i++) expect(parsePublicKey(generateAppKey().publicKey).asymmetricKeyType).toBe('ed25519');
  });

  it('rejects wrong lengths and alphabets', () => {
    const good = generateAppKey().publicKey;
    for (const bad of [good.slice(1), `${good}A`, `${good}=`, good.replace(/^./, '+'), Buffer.from(good, 'base64url').toString('base64')]) {
      expect(codeOf(() => parsePublicKey(bad))).toBe('usage');
    }
  });

  // The blocklist from libsodium's ge25519_has_small_order, by y coordinate.
  it('rejects small-order points and non-canonical encodings', () => {
    const order8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
    const small = [
      encodePoint(0n), // order 4
      encodePoint(1n), // the identity
      encodePoint(P - 1n), // order 2
      encodePoint(order8), // order 8
      encodePoint(order8, 1),
      encodePoint(P - order8),
    ];
    const nonCanonical = [encodePoint(P), encodePoint(P + 1n), encodePoint(1n, 1) /* x = 0 with the sign bit */];
    for (const bad of [...small, ...nonCanonical]) expect(codeOf(() => parsePublicKey(bad))).toBe('usage');
  });

  it('rejects encodings that are not on the curve (checked by Euler’s criterion)', () => {
    const d = ((-121665n * modPow(121666n, P - 2n)) % P + P) % P;
    let offCurve = 0;
    for (let y = 2n; y < 60n; y++) {
      const x2 = (((y * y - 1n) * modPow((d * y * y + 1n) % P, P - 2n)) % P + P) % P;
      const onCurve = x2 === 0n || modPow(x2, (P - 1n) / 2n) === 1n;
      if (onCurve) continue;
      offCurve++;
      expect(codeOf(() => parsePublicKey(encodePoint(y)))).toBe('usage');
    }
    expect(offCurve).toBeGreaterThan(10);
  });

  // Checked keys are remembered (the curve checks cost ~1 ms); refusals never are.
  it('remembers a checked key, and a bad key is refused every time, also after 300 good ones', () => {
    const good = generateAppKey().publicKey;
    expect(parsePublicKey(good)).toBe(parsePublicKey(good));
    const bad = encodePoint(0n);
    for (let i = 0; i < 300; i++) {
      parsePublicKey(generateAppKey().publicKey);
      if (i % 100 === 0) expect(codeOf(() => parsePublicKey(bad))).toBe('usage');
    }
    expect(codeOf(() => parsePublicKey(bad))).toBe('usage');
    expect(parsePublicKey(good).asymmetricKeyType).toBe('ed25519');
  });
});

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

describe('keyFingerprint', () => {
  it('is what ssh-keygen -l prints for the same key', async (ctx) => {
    const key = generateAppKey();
    const fingerprint = keyFingerprint(key.publicKey);
    expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const sshKeygen = ['/usr/bin/ssh-keygen', '/usr/local/bin/ssh-keygen'].find((p) => existsSync(p));
    if (!sshKeygen) {
      console.log('skipping the ssh-keygen comparison: ssh-keygen is not installed');
      ctx.skip();
      return;
    }
    const dir = await tempDir('latchkey-fp-');
    const raw = Buffer.from(key.publicKey, 'base64url');
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), raw]);
    writeFileSync(join(dir, 'key.pub'), `ssh-ed25519 ${blob.toString('base64')} test\n`);
    const out = execFileSync(sshKeygen, ['-l', '-E', 'sha256', '-f', join(dir, 'key.pub')], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(fingerprint);
  });

  it('refuses an invalid key', () => {
    expect(codeOf(() => keyFingerprint('nope'))).toBe('usage');
  });
});

describe.skipIf(!posix)('loadOrCreateAppKey', () => {
  let root: string;
  let dir: string;
  let path: string;
  beforeEach(async () => {
    root = await tempDir('latchkey-appkey-');
    dir = join(root, 'app', 'keys');
    path = join(dir, 'latchkey-app-key.json');
  });

  it('creates a 0600 key file in a 0700 directory and loads the same key again', async () => {
    const created = await loadOrCreateAppKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file).toEqual({ version: 1, public_key: created.publicKey, private_key: created.privateKeyPem });
    expect(await loadOrCreateAppKey(path)).toEqual(created);
    // The field is named so the redacting logger hides it if the file is ever logged.
    expect(JSON.stringify(redact(file))).not.toContain('PRIVATE KEY');
    const payload = challengePayload(parts);
    expect(verifyChallenge(created.publicKey, payload, signChallenge(created.privateKeyPem, payload))).toBe(true);
  });

  it('racing first uses all end up with one key and leave no temp files', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateAppKey(path)));
    expect(new Set(keys.map((k) => k.publicKey)).size).toBe(1);
    expect(JSON.parse(readFileSync(path, 'utf8')).public_key).toBe(keys[0]!.publicKey);
    expect(readdirSync(dir)).toEqual(['latchkey-app-key.json']);
  });

  it('refuses a key file readable by group or others, with a way out', async () => {
    await loadOrCreateAppKey(path);
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(path, mode);
      const { code, message } = await codeOfAsync(loadOrCreateAppKey(path));
      expect(code).toBe('config_invalid');
      expect(message).toMatch(/chmod 600/);
    }
  });

  it('refuses a directory that others can write', async () => {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const { code, message } = await codeOfAsync(loadOrCreateAppKey(path));
    expect(code).toBe('config_invalid');
    expect(message).toMatch(/chmod 700/);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a symlink at the key path', async () => {
    const real = join(root, 'elsewhere.json');
    await loadOrCreateAppKey(real);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    symlinkSync(real, path);
    expect((await codeOfAsync(loadOrCreateAppKey(path))).code).toBe('config_invalid');
  });

  it('refuses a file whose public key is not its private key’s', async () => {
    await loadOrCreateAppKey(path);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...file, public_key: generateAppKey().publicKey }), { mode: 0o600 });
    const { code, message } = await codeOfAsync(loadOrCreateAppKey(path));
    expect(code).toBe('config_invalid');
    expect(message).toMatch(/does not belong/);
  });

  it('refuses corrupt files instead of replacing them', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const x25519 = generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).privateKey;
    for (const text of ['', '{', '[]', JSON.stringify({ version: 2 }), JSON.stringify({ version: 1, public_key: 'x', private_key: 'junk' }),
      JSON.stringify({ version: 1, public_key: 'x', private_key: x25519 })]) {
      writeFileSync(path, text, { mode: 0o600 });
      expect((await codeOfAsync(loadOrCreateAppKey(path))).code).toBe('config_invalid');
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it.skipIf(!isRoot)('refuses a key file owned by another user', async () => {
    await loadOrCreateAppKey(path);
    chownSync(path, 65534, 65534);
    const { code, message } = await codeOfAsync(loadOrCreateAppKey(path));
    expect(code).toBe('config_invalid');
    expect(message).toMatch(/owned by uid 65534/);
  });
});

describe('generateAppKey under garbage-collection pressure', () => {
  const compiled = join(import.meta.dirname, '..', '..', 'dist', 'src-main', 'broker', 'app-key.js');
  it.skipIf(!existsSync(compiled))('makes 20,000 keys with a 1 MiB young generation without hanging (Node 20 deadlock on exporting a fresh key object)', () => {
    // Exporting the key object generateKeyPairSync returned hung Node 20 for good when a GC during the export
    // destroyed the generation job (it takes the lock the export holds). A GC race: this loop hung the old
    // code in three of four runs, between 4,000 and 26,000 keys; the timeout turns a hang into a failure.
    const code = `const { generateAppKey } = await import(${JSON.stringify(compiled)}); for (let i = 0; i < 20000; i++) generateAppKey(); process.stdout.write('done');`;
    const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', code], { timeout: 60_000, encoding: 'utf8' });
    expect(out).toBe('done');
  }, 70_000);
});

