import { describe, expect, it } from 'vitest';
import { generateAppKey, keyFingerprint } from './app-key.js';
import { shortFingerprint } from './short-fingerprint.js';

describe('shortFingerprint', () => {
  it('keeps the algorithm and the first 12 characters of the digest, marked as cut', () => {
    const full = keyFingerprint(generateAppKey().publicKey);
    const short = shortFingerprint(full);
    expect(short).toBe(`${full.slice(0, 'SHA256:'.length + 12)}…`);
    expect(full.startsWith(short.slice(0, -1))).toBe(true);
  });

  it('leaves short or unexpected values as they are', () => {
    expect(shortFingerprint('SHA256:abc')).toBe('SHA256:abc');
    expect(shortFingerprint('abcdefghijklmnopq')).toBe('abcdefghijkl…');
  });
});
