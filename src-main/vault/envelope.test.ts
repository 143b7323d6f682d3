import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  decryptEnvelope,
  encryptEnvelope,
  envelopeHeader,
  parseEnvelope,
  parseEnvelopeHeader,
  serializeEnvelope,
  verifyKeyCheck,
  withKeyCheck,
  type Envelope,
  type EnvelopeHeader,
} from './envelope.js';

const key = randomBytes(32);
const plaintext = Buffer.from('{"access_token":"AT-SECRET-MARKER"}');
const keyringHeader = envelopeHeader({ kind: 'keyring', service: 'latchkey', account: 'vault-master-key:1' }, 1);

function expectCode(fn: () => unknown, code: string) {
  expect(fn).toThrow(expect.objectContaining({ name: 'LatchkeyError', code }));
}

describe('vault envelope', () => {
  it('round-trips through its serialised form', () => {
    const envelope = encryptEnvelope(plaintext, key, keyringHeader);
    const back = parseEnvelope(serializeEnvelope(envelope));
    expect(decryptEnvelope(back, key)).toEqual(plaintext);
    expect(back).toMatchObject({ format: 'latchkey-vault', version: 1, revision: 1, cipher: 'aes-256-gcm' });
  });

  it('uses a fresh 12-byte IV for every encryption', () => {
    const ivs = new Set(Array.from({ length: 50 }, () => encryptEnvelope(plaintext, key, keyringHeader).iv));
    expect(ivs.size).toBe(50);
    expect(Buffer.from([...ivs][0]!, 'base64')).toHaveLength(12);
  });

  it('authenticates every header field (AAD)', () => {
    const envelope = encryptEnvelope(plaintext, key, keyringHeader);
    const tampered: Envelope[] = [
      { ...envelope, revision: 2 },
      { ...envelope, key: { ...envelope.key, account: 'vault-master-key:2' } },
      { ...envelope, key: { ...envelope.key, extra: true } },
    ];
    for (const t of tampered) expectCode(() => decryptEnvelope(t, key), 'vault_corrupt');
  });

  it('reports a failed passphrase vault as vault_locked, with the agreed words', () => {
    const envelope = encryptEnvelope(plaintext, key, envelopeHeader({ kind: 'passphrase' }, 1));
    expect(() => decryptEnvelope(envelope, randomBytes(32))).toThrow(
      'Could not unlock the vault: wrong passphrase, or the vault file was altered.',
    );
    expectCode(() => decryptEnvelope(envelope, randomBytes(32)), 'vault_locked');
  });

  it('the key check tells the right key from a wrong one; with a verified key a failed decryption is damage', () => {
    const params = withKeyCheck({ kind: 'passphrase' }, key);
    expect(verifyKeyCheck(params, key)).toBe('match');
    expect(verifyKeyCheck(params, randomBytes(32))).toBe('mismatch');
    expect(verifyKeyCheck({ kind: 'passphrase' }, key)).toBe('absent');
    const envelope = encryptEnvelope(plaintext, key, envelopeHeader(params, 1));
    expectCode(() => decryptEnvelope({ ...envelope, revision: 2 }, key, true), 'vault_corrupt');
    expectCode(() => decryptEnvelope({ ...envelope, revision: 2 }, key), 'vault_locked');
  });

  it('rejects files that are not envelopes before any crypto', () => {
    const good = serializeEnvelope(encryptEnvelope(plaintext, key, keyringHeader));
    const cases = [
      Buffer.from('not json at all'),
      good.subarray(0, good.length / 2),
      Buffer.from(JSON.stringify({ format: 'something-else' })),
      Buffer.from(JSON.stringify({ ...JSON.parse(good.toString()), iv: 'AAAA' })),
      Buffer.from(JSON.stringify({ ...JSON.parse(good.toString()), version: 2 })),
    ];
    for (const raw of cases) expectCode(() => parseEnvelope(raw), 'vault_corrupt');
  });

  it('rejects a ciphertext that is not padded standard base64 before any crypto (Node would decode it leniently)', () => {
    const padded = Buffer.from('x'.repeat(37)); // 37 bytes: the base64 ends in "=="
    const good = JSON.parse(serializeEnvelope(encryptEnvelope(padded, key, keyringHeader)).toString()) as Envelope;
    const c = good.ciphertext;
    expect(c).toMatch(/==$/);
    const bad = [
      `${c.slice(0, 8)}\n${c.slice(8)}`, // a line break, which Node's decoder skips
      `${c.slice(0, 8)}-_${c.slice(10)}`, // base64url's alphabet
      `${c.slice(0, 4)}=${c.slice(5)}`, // padding in the middle
      c.replace(/=*$/, ''), // padding cut off
      `${c}====`,
    ];
    for (const ciphertext of bad) expectCode(() => parseEnvelope(Buffer.from(JSON.stringify({ ...good, ciphertext }))), 'vault_corrupt');
    expect(decryptEnvelope(parseEnvelope(Buffer.from(JSON.stringify(good))), key)).toEqual(padded);
    // The same, written into the file's bytes as they are (no JSON escape), where the ciphertext is read without JSON.parse.
    const file = JSON.stringify(good);
    const at = file.indexOf(c);
    for (const insert of ['\n', ' ', '-', '_', '=', '"', '\u00e9']) {
      const raw = Buffer.from(`${file.slice(0, at + 8)}${insert}${file.slice(at + 8 + (insert === '"' ? 0 : 1))}`, 'utf8');
      expectCode(() => parseEnvelope(raw), 'vault_corrupt');
    }
  });

  it('decrypts a large ciphertext read in pieces from the file, and one written with JSON escapes', () => {
    const big = randomBytes(3_000_001);
    const raw = serializeEnvelope(encryptEnvelope(big, key, keyringHeader));
    // Buffer.equals: vitest's toEqual compares 3 MB element by element for half a minute.
    expect(decryptEnvelope(parseEnvelope(raw), key).equals(big)).toBe(true);
    // "\/" is JSON for "/": such a file is read through JSON.parse instead, and decrypts the same.
    const escaped = Buffer.from(raw.toString('latin1').replaceAll('/', '\\/'), 'latin1');
    expect(escaped.includes('\\/')).toBe(true);
    expect(decryptEnvelope(parseEnvelope(escaped), key).equals(big)).toBe(true);
    // A flipped character inside still fails authentication (a piece past the first).
    const flipped = Buffer.from(raw);
    const from = raw.indexOf('"ciphertext"') + 200_000;
    flipped[from] = flipped[from] === 0x41 ? 0x42 : 0x41;
    expectCode(() => decryptEnvelope(parseEnvelope(flipped), key, true), 'vault_corrupt');
  });

  it('reads the header alone (which key source) without checking the ciphertext; a damaged header is still vault_corrupt', () => {
    const good = JSON.parse(serializeEnvelope(encryptEnvelope(plaintext, key, keyringHeader)).toString()) as Envelope;
    expect(parseEnvelopeHeader(Buffer.from(JSON.stringify({ ...good, ciphertext: '%' }))).key).toEqual(keyringHeader.key);
    expectCode(() => parseEnvelopeHeader(Buffer.from(JSON.stringify({ ...good, key: { kind: 'nobody' } }))), 'vault_corrupt');
    expectCode(() => parseEnvelopeHeader(Buffer.from('{"format":')), 'vault_corrupt');
  });

  it('reads the header of a large vault as the whole file\'s parse would, whatever the header holds', () => {
    const big = serializeEnvelope(encryptEnvelope(randomBytes(3_000_000), key, keyringHeader));
    const headerOf = ({ format, version, revision, cipher, key: params }: EnvelopeHeader) => ({ format, version, revision, cipher, key: params });
    expect(parseEnvelopeHeader(big)).toEqual(headerOf(parseEnvelope(big)));
    const good = JSON.parse(big.toString()) as Envelope;
    // A header that holds the field's name itself, as a value or as a nested key, still reads true.
    const lookAlikes = [
      { ...good, key: { kind: 'keyring', service: 'ciphertext', account: '"ciphertext": "' } },
      { ...good, key: { ...good.key, ciphertext: 'AAAA' } },
    ];
    for (const envelope of lookAlikes) {
      const raw = serializeEnvelope(envelope as Envelope);
      expect(parseEnvelopeHeader(raw)).toEqual(headerOf(parseEnvelope(raw)));
    }
    // Damage after the ciphertext, or a ciphertext with a quote escaped into it, is still found.
    expectCode(() => parseEnvelopeHeader(Buffer.concat([big.subarray(0, big.length - 4)])), 'vault_corrupt');
    expectCode(() => parseEnvelopeHeader(Buffer.from(JSON.stringify({ ...good, key: { kind: 'nobody' }, ciphertext: 'AA\\"AA' }))), 'vault_corrupt');
  });

  it('canonical JSON ignores key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'z' } })).toBe('{"a":{"c":"z","d":[1,{"x":1,"y":2}]},"b":1}');
  });
});
