/**
 * Sign-out and a revocation endpoint that public clients cannot use: the real
 * demo provider, whose discovery document is edited on the way in to say what
 * Glewlwyd's says (`revocation_endpoint_auth_methods_supported` without "none").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log/logger.js';
import { emptyVaultDocument, type VaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import { DiscoveryCache } from './discovery.js';
import { OidcEngine } from './oidc-engine.js';
import { addProvider } from './provider-registry.js';

describe('sign-out against a revocation endpoint that wants client authentication', () => {
  let demo: DemoProvider;
  beforeAll(async () => {
    demo = await startDemoProvider({});
  });
  afterAll(() => demo?.close());

  async function signOut(revocationMethods: string[] | undefined) {
    const revocationRequests: string[] = [];
    const discovery = new DiscoveryCache({
      timeoutSeconds: 5,
      fetch: async (url, init) => {
        if (url.includes('revoc')) revocationRequests.push(url);
        const response = await fetch(url, init);
        if (!url.endsWith('/.well-known/openid-configuration') || !revocationMethods) return response;
        const metadata = { ...((await response.json()) as Record<string, unknown>), revocation_endpoint_auth_methods_supported: revocationMethods };
        return new Response(JSON.stringify(metadata), { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    const store = new MemoryStore<VaultDocument>(emptyVaultDocument());
    await addProvider(store, discovery, { name: 'demo', issuer: demo.issuer, clientId: 'latchkey-demo' });
    const now = Date.now();
    await store.update((d) => {
      d.accounts.push({
        id: 'acct-1',
        provider: 'demo',
        subject: 'alice',
        claims: {},
        status: 'active',
        scope: 'openid',
        refreshToken: 'not-a-real-refresh-token',
        tokens: [{ accessToken: 'not-a-real-access-token', tokenType: 'Bearer', scope: 'openid', obtainedAt: now }],
        createdAt: now,
        updatedAt: now,
      });
    });
    const engine = new OidcEngine({ store, discovery, schemeRouter: new SchemeCallbackRouter(), logger: silentLogger() });
    const result = await engine.signOut({});
    return { result, revocationRequests, accountsLeft: store.read().accounts.length };
  }

  it('does not send a public client\'s tokens where "none" is not accepted, says they stay valid, and still signs out locally', async () => {
    const { result, revocationRequests, accountsLeft } = await signOut(['client_secret_basic']);
    expect(revocationRequests).toEqual([]);
    expect(result.revoked).toEqual([]);
    expect(result.warnings).toEqual([expect.stringMatching(/only from confidential clients; tokens stay valid there until they expire/)]);
    expect(accountsLeft).toBe(0);
  });

  it('revokes as before where the provider accepts public clients', async () => {
    const { result, revocationRequests } = await signOut(undefined);
    expect(revocationRequests.length).toBe(2);
    expect(result.revoked).toEqual(['refresh token', 'access token']);
  });
});
