import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors.js';
import { AppHandshake, createAgentInstanceId, type AppHandshakeOptions } from './app-identity.js';
import { generateAppKey, keyFingerprint, signChallenge, type AppKey } from './app-key.js';
import { challengePayload } from '../wire/app-proof.js';
import type { PeerProcess } from '../platform/peer-lookup.js';

const agentInstance = createAgentInstanceId();

function setup(overrides: Partial<AppHandshakeOptions> = {}) {
  let now = 1_000_000;
  const handshake = new AppHandshake({ agentInstance, now: () => now, ...overrides });
  return { handshake, advance: (ms: number) => (now += ms) };
}

function claims(key: AppKey, appId = 'com.example.tool') {
  return { appId, name: 'Example Tool', version: '1.2.3', publicKey: key.publicKey };
}

/** What an honest SDK does with the challenge. */
function prove(key: AppKey, challenge: string, appId = 'com.example.tool', instance = agentInstance): string {
  return signChallenge(key.privateKeyPem, challengePayload({ challenge, appId, agentInstance: instance }));
}

function errorOf(fn: () => unknown): LatchkeyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LatchkeyError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const key = generateAppKey();

describe('AppHandshake', () => {
  it('verifies an app whose key signs the challenge, and says which key', () => {
    const peer: PeerProcess = { pid: 42, uid: 1000, exePath: '/usr/bin/tool', exeSha256: 'ab'.repeat(32), argv: ['/usr/bin/tool'] };
    const { handshake } = setup({ process: peer });
    const { challenge, agentInstance: instance, expiresAtMs } = handshake.beginHello(claims(key));
    expect(Buffer.from(challenge, 'base64url')).toHaveLength(32);
    expect(instance).toBe(agentInstance);
    expect(expiresAtMs).toBe(1_000_000 + 30_000);
    expect(handshake.state).toBe('challenged');
    const app = handshake.completeHello(prove(key, challenge));
    expect(app).toEqual({
      appId: 'com.example.tool',
      name: 'Example Tool',
      version: '1.2.3',
      publicKey: key.publicKey,
      fingerprint: keyFingerprint(key.publicKey),
      process: peer,
    });
    expect(handshake.state).toBe('verified');
    expect(handshake.verified).toBe(app);
  });

  it('an impersonator who knows the app id and public key but not the private key fails', () => {
    const { handshake } = setup();
    const { challenge } = handshake.beginHello(claims(key));
    const impostor = generateAppKey();
    const err = errorOf(() => handshake.completeHello(prove(impostor, challenge)));
    expect(err.code).toBe('unauthorized');
    expect(handshake.verified).toBeUndefined();
  });

  it('a signature over another challenge fails', () => {
    const { handshake } = setup();
    handshake.beginHello(claims(key));
    const other = setup().handshake.beginHello(claims(key)).challenge;
    expect(errorOf(() => handshake.completeHello(prove(key, other))).code).toBe('unauthorized');
  });

  it('a replayed proof fails: each challenge answers one attempt', () => {
    const { handshake } = setup();
    const { challenge } = handshake.beginHello(claims(key));
    const proof = prove(key, challenge);
    handshake.completeHello(proof);
    // Same connection: already verified.
    expect(errorOf(() => handshake.completeHello(proof)).code).toBe('usage');
    // Another connection: its challenge is different, so the old proof is worthless.
    const second = setup().handshake;
    second.beginHello(claims(key));
    expect(errorOf(() => second.completeHello(proof)).code).toBe('unauthorized');
  });

  it('a challenge is consumed by a failed attempt', () => {
    const { handshake } = setup();
    const { challenge } = handshake.beginHello(claims(key));
    expect(errorOf(() => handshake.completeHello('A'.repeat(86))).code).toBe('unauthorized');
    expect(errorOf(() => handshake.completeHello(prove(key, challenge))).code).toBe('unauthorized');
    expect(handshake.state).toBe('idle');
  });

  it('an expired challenge fails', () => {
    const { handshake, advance } = setup();
    const { challenge } = handshake.beginHello(claims(key));
    advance(30_000);
    const err = errorOf(() => handshake.completeHello(prove(key, challenge)));
    expect(err.code).toBe('unauthorized');
    expect(err.message).toMatch(/expired/);
  });

  it('a proof for another app id, or from another agent instance, fails', () => {
    const { handshake } = setup();
    const { challenge } = handshake.beginHello(claims(key));
    expect(errorOf(() => handshake.completeHello(prove(key, challenge, 'com.example.other'))).code).toBe('unauthorized');
    const again = handshake.beginHello(claims(key)).challenge;
    expect(errorOf(() => handshake.completeHello(prove(key, again, 'com.example.tool', createAgentInstanceId()))).code).toBe('unauthorized');
  });

  it('a new hello replaces the unanswered challenge', () => {
    const { handshake } = setup();
    const first = handshake.beginHello(claims(key)).challenge;
    const second = handshake.beginHello(claims(key)).challenge;
    expect(second).not.toBe(first);
    expect(errorOf(() => handshake.completeHello(prove(key, first))).code).toBe('unauthorized');
  });

  it('a proof without a hello fails', () => {
    const { handshake } = setup();
    expect(errorOf(() => handshake.completeHello(prove(key, 'c'.repeat(43)))).code).toBe('unauthorized');
  });

  it('malformed, wrong-length and garbage signatures fail as unauthorized', () => {
    const sig = Buffer.from(prove(key, 'c'.repeat(43)), 'base64url');
    const garbage: unknown[] = [
      'not base64 at all!',
      sig.toString('base64'),
      sig.subarray(0, 32).toString('base64url'),
      Buffer.concat([sig, sig]).toString('base64url'),
      '',
      null,
      42,
      { signature: 'x' },
      'x'.repeat(100_000),
    ];
    for (const signature of garbage) {
      const { handshake } = setup();
      handshake.beginHello(claims(key));
      expect(errorOf(() => handshake.completeHello(signature)).code).toBe('unauthorized');
    }
  });

  it('refuses malformed claims as usage, before issuing a challenge', () => {
    const good = claims(key);
    const bad: unknown[] = [
      undefined,
      'com.example.tool',
      { ...good, appId: 'Com.Example' },
      { ...good, appId: '.leading.dot' },
      { ...good, appId: 'a' },
      { ...good, appId: `a${'b'.repeat(128)}` },
      { ...good, appId: 'com.example/tool' },
      { ...good, name: '' },
      { ...good, name: 'x'.repeat(65) },
      { ...good, name: 'Evil\nTool' },
      { ...good, name: 'Tool\u202Egnp.exe' }, // right-to-left override
      { ...good, name: 'Zero\u200Bwidth' },
      { ...good, name: ' padded ' },
      { ...good, name: 'e\u0301' }, // not NFC
      { ...good, version: 'v'.repeat(33) },
      { ...good, version: '1.0\u0000' },
      { ...good, publicKey: undefined },
      { ...good, publicKey: key.publicKey.slice(1) }, // 31.x bytes
      { ...good, publicKey: Buffer.alloc(33, 7).toString('base64url') }, // 33 bytes
      { ...good, publicKey: Buffer.alloc(32).toString('base64url') }, // a small-order point
      { ...good, publicKey: Buffer.from(key.publicKey, 'base64url').toString('base64') + 'x' },
    ];
    for (const hello of bad) {
      const { handshake } = setup({ maxAttempts: 100 });
      const err = errorOf(() => handshake.beginHello(hello));
      expect(err.code, JSON.stringify(hello)).toBe('usage');
      expect(handshake.state).toBe('idle');
    }
  });

  it('accepts names with non-Latin letters, emoji and inner spaces (64 code points)', () => {
    const { handshake } = setup();
    const prefix = 'Rhino 8 — Grasshopper 植物 🦏 ';
    const name = `${prefix}${'x'.repeat(64 - [...prefix].length)}`;
    expect([...name]).toHaveLength(64);
    expect(() => handshake.beginHello({ ...claims(key), name })).not.toThrow();
    expect(() => setup().handshake.beginHello({ ...claims(key), name: `${name}x` })).toThrow(/1 to 64/);
  });

  it('locks the connection after too many failed proofs and says it should close', () => {
    const { handshake } = setup({ maxAttempts: 3 });
    for (let i = 0; i < 3; i++) {
      expect(handshake.shouldClose).toBe(false);
      handshake.beginHello(claims(key));
      expect(errorOf(() => handshake.completeHello('A'.repeat(86))).code).toBe('unauthorized');
    }
    expect(handshake.shouldClose).toBe(true);
    expect(handshake.state).toBe('locked');
    // Even a correct proof is refused now: reconnecting is the only way on.
    expect(errorOf(() => handshake.beginHello(claims(key))).code).toBe('unauthorized');
  });

  it('bounds the number of challenges per connection', () => {
    const { handshake } = setup({ maxAttempts: 3 });
    for (let i = 0; i < 3; i++) handshake.beginHello(claims(key));
    expect(errorOf(() => handshake.beginHello(claims(key))).code).toBe('unauthorized');
    expect(handshake.shouldClose).toBe(true);
  });

  it('can still succeed after a failed attempt within the limit', () => {
    const { handshake } = setup({ maxAttempts: 3 });
    handshake.beginHello(claims(key));
    expect(errorOf(() => handshake.completeHello('A'.repeat(86))).code).toBe('unauthorized');
    const { challenge } = handshake.beginHello(claims(key));
    expect(handshake.completeHello(prove(key, challenge)).appId).toBe('com.example.tool');
    expect(handshake.shouldClose).toBe(false);
  });

  it('is verified at most once per connection', () => {
    const { handshake } = setup();
    handshake.completeHello(prove(key, handshake.beginHello(claims(key)).challenge));
    const other = generateAppKey();
    expect(errorOf(() => handshake.beginHello(claims(other, 'com.example.other'))).code).toBe('usage');
    expect(handshake.verified?.appId).toBe('com.example.tool');
  });

  it('uses the injected randomness for challenges and refuses a malformed agent instance', () => {
    const { handshake } = setup({ randomBytes: (n) => Buffer.alloc(n, 1) });
    expect(handshake.beginHello(claims(key)).challenge).toBe(Buffer.alloc(32, 1).toString('base64url'));
    expect(errorOf(() => new AppHandshake({ agentInstance: 'bad\ninstance-id-long' })).code).toBe('usage');
  });
});
