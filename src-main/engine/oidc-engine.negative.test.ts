/**
 * Every bad answer from a provider is rejected with a clear, typed error and
 * leaves the store untouched. The provider here misbehaves on purpose; the
 * checks themselves are openid-client's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log/logger.js';
import { emptyVaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import { DiscoveryCache } from './discovery.js';
import { OidcEngine } from './oidc-engine.js';
import { addProvider } from './provider-registry.js';
import { startRogueProvider, type RogueMode, type RogueProvider } from '../testing/rogue-provider.js';

describe('sign-in against a misbehaving provider', () => {
  let rogue: RogueProvider;
  beforeAll(async () => {
    rogue = await startRogueProvider({ slowMs: 30_000 });
  });
  afterAll(() => rogue?.close());

  async function attempt(mode: RogueMode, timeoutSeconds = 5) {
    rogue.setMode('ok');
    const store = new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ timeoutSeconds });
    await addProvider(store, discovery, { name: 'rogue', issuer: rogue.issuer, clientId: 'rogue-client', scope: 'openid email' });
    rogue.setMode(mode);
    const engine = new OidcEngine({ store, discovery, schemeRouter: new SchemeCallbackRouter(), logger: silentLogger(), callbackTimeoutMs: 10_000 });
    const before = JSON.stringify(store.read());
    const started = Date.now();
    const outcome = await engine
      .authorize({
        provider: 'rogue',
        // Play the browser: follow the provider's redirect to the loopback receiver.
        onAuthorizationUrl: async (url) => {
          const res = await fetch(url, { redirect: 'manual' });
          void fetch(res.headers.get('location')!).catch(() => undefined);
        },
      })
      .then(
        (account) => ({ account, error: undefined }),
        (error: unknown) => ({ account: undefined, error: error as { code: string; message: string; providerError?: string } }),
      );
    return { ...outcome, elapsedMs: Date.now() - started, unchanged: JSON.stringify(store.read()) === before, authTime: store.read().accounts[0]?.authTime };
  }

  it('accepts a well-formed response (the fixture itself is sound)', async () => {
    const r = await attempt('ok');
    expect(r.error).toBeUndefined();
    expect(r.account?.subject).toBe('mallory');
  });

  const rejected: Array<[RogueMode, string, RegExp]> = [
    ['bad-signature', 'invalid_response', /failed validation/],
    ['wrong-aud', 'invalid_response', /aud/],
    ['wrong-iss', 'invalid_response', /iss/],
    ['expired', 'invalid_response', /exp/],
    ['wrong-nonce', 'invalid_response', /nonce/],
    ['wrong-iss-in-callback', 'invalid_response', /iss/],
    ['error-callback', 'access_denied', /access_denied: The user said no/],
    ['token-error', 'provider_error', /invalid_grant/],
    ['malformed-json', 'invalid_response', /./],
  ];
  it.each(rejected)('rejects %s with %s and stores nothing', async (mode, code, message) => {
    const r = await attempt(mode);
    expect(r.account).toBeUndefined();
    expect(r.error).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(r.unchanged).toBe(true);
  });

  it('a browser that cannot be opened fails the sign-in with that error, and the abandoned callback wait is not an unhandled rejection', async () => {
    rogue.setMode('ok');
    const store = new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ timeoutSeconds: 5 });
    await addProvider(store, discovery, { name: 'rogue', issuer: rogue.issuer, clientId: 'rogue-client', scope: 'openid email' });
    const engine = new OidcEngine({ store, discovery, schemeRouter: new SchemeCallbackRouter(), logger: silentLogger(), callbackTimeoutMs: 50 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(
        engine.authorize({
          provider: 'rogue',
          // Slower than the callback timeout, then failing: both the timeout and the close reject the wait.
          onAuthorizationUrl: async () => {
            await new Promise((resolve) => setTimeout(resolve, 150));
            throw new Error('no browser here');
          },
        }),
      ).rejects.toThrow('no browser here');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('counts an ID token auth_time of 0 (Glewlwyd) as unknown: the account was authenticated at sign-in, not in 1970', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await attempt('auth-time-zero');
    expect(r.error).toBeUndefined();
    expect(r.account?.subject).toBe('mallory');
    expect(r.authTime).toBeGreaterThanOrEqual(before);
  });

  it('gives up on a provider that does not answer, within the request timeout', async () => {
    const r = await attempt('slow', 1);
    expect(r.error).toMatchObject({ code: 'timeout' });
    expect(r.elapsedMs).toBeLessThan(10_000);
    expect(r.unchanged).toBe(true);
  });
});
