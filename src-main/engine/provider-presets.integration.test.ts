/**
 * Each preset's protocol quirk that can be reproduced here, against a local
 * oidc-provider configured that way with its own options or a middleware
 * (never by relaxing a rule): an extra authorization parameter it needs,
 * refresh tokens only with access_type=offline and prompt=consent, refresh
 * tokens for offline_access without prompt=consent, no revocation endpoint,
 * no refresh-token rotation. The presets' issuers are replaced by the local
 * provider's; everything else is as the preset builds it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { errors, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import { captureLog } from '../testing/capture-log.js';
import { CHROMIUM_MISSING, chromiumAvailable, launchBrowser } from '../testing/browser.js';
import { createEngineHarness, signInThroughBrowser } from '../testing/engine-harness.js';
import { DEMO_CLIENT_ID, DEMO_LOOPBACK_REDIRECT_URI, startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { addProvider } from './provider-registry.js';
import { applyPreset, type PresetRequest } from './provider-presets.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(CHROMIUM_MISSING);

/** Google's installed-app clients are confidential in name only: a client secret at the token endpoint, PKCE too. */
const GOOGLE_LIKE_CLIENT: ClientMetadata = {
  client_id: 'installed-app',
  client_secret: 'installed-app-secret',
  application_type: 'native',
  token_endpoint_auth_method: 'client_secret_post',
  redirect_uris: [DEMO_LOOPBACK_REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email offline_access',
};

type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<void>;

/** Rewrites the authorization request's scope before oidc-provider reads it. */
function rewriteScope(change: (scopes: string[], query: Record<string, unknown>) => string[]): Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/auth' && typeof ctx.query.scope === 'string') {
      ctx.query = { ...ctx.query, scope: change(ctx.query.scope.split(' '), ctx.query).join(' ') };
    }
    await next();
  };
}

/**
 * Google: no offline_access scope; `access_type=offline` asks for a refresh
 * token, which comes only with prompt=consent on a repeat sign-in. Mapped onto
 * the library's own rule (offline_access kept only with prompt=consent).
 */
const googleAccessType = rewriteScope((scopes, query) => [...scopes.filter((s) => s !== 'offline_access'), ...(query.access_type === 'offline' ? ['offline_access'] : [])]);

/**
 * Entra ID, Okta, Auth0, Keycloak: offline_access alone yields a refresh token.
 * The library keeps offline_access only with prompt=consent, so this adds it
 * to the request; the consent page is still shown (to a native client, always).
 */
const offlineAccessWithoutPrompt: Middleware = async (ctx, next) => {
  if (ctx.path === '/auth' && typeof ctx.query.scope === 'string' && ctx.query.scope.split(' ').includes('offline_access') && !ctx.query.prompt) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  await next();
};

describe.skipIf(!hasChromium)('preset quirks against local providers configured that way', () => {
  let browser: Browser;
  const captured = captureLog();
  const { logger } = captured;
  const providers: DemoProvider[] = [];
  const audiences: Array<string | undefined> = [];
  let google: DemoProvider;
  let auth0: DemoProvider;
  let entra: DemoProvider;
  let keycloak: DemoProvider;

  beforeAll(async () => {
    [browser, google, auth0, entra, keycloak] = await Promise.all([
      launchBrowser(),
      startDemoProvider({ logger, clients: [GOOGLE_LIKE_CLIENT], extraParams: { access_type: null }, middleware: [googleAccessType] }),
      startDemoProvider({
        logger,
        // Needs `audience` on every authorization request, as an API-only setup does.
        extraParams: {
          audience: (_ctx, value) => {
            audiences.push(value);
            if (!value) throw new errors.InvalidRequest('audience is required');
          },
        },
      }),
      startDemoProvider({ logger, revocation: false, middleware: [offlineAccessWithoutPrompt] }),
      startDemoProvider({ logger, rotateRefreshTokens: false, middleware: [offlineAccessWithoutPrompt] }),
    ]);
    providers.push(google, auth0, entra, keycloak);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all(providers.map((p) => p.close()));
  });

  async function presetProvider(request: Omit<PresetRequest, 'name'>) {
    const h = createEngineHarness(logger);
    await addProvider(h.store, h.discovery, applyPreset({ name: 'p', ...request }));
    return h;
  }

  it('google: access_type=offline plus prompt=consent gets a refresh token, sent with the installed-app secret', async () => {
    const h = await presetProvider({ preset: 'google', issuer: google.issuer, clientId: GOOGLE_LIKE_CLIENT.client_id, clientSecret: GOOGLE_LIKE_CLIENT.client_secret!, options: {} });
    const { request, warnings } = await signInThroughBrowser(h, browser, { provider: 'p' });
    expect(Object.fromEntries(request.searchParams)).toMatchObject({ access_type: 'offline', prompt: 'consent', scope: 'email openid profile' });
    expect(h.store.read().accounts[0]!.refreshToken).toBeTruthy();
    expect(warnings).toEqual([]);
    google.stats.reset();
    await h.engine.getToken({ minTtl: 7200 });
    expect(google.stats.tokenRequests.map((r) => [r.grant_type, r.client_id, r.ok])).toEqual([['refresh_token', 'installed-app', true]]);
  });

  it('google: a sign-in with another prompt gets no refresh token, and says so', async () => {
    const h = await presetProvider({ preset: 'google', issuer: google.issuer, clientId: GOOGLE_LIKE_CLIENT.client_id, clientSecret: GOOGLE_LIKE_CLIENT.client_secret!, options: {} });
    const { warnings } = await signInThroughBrowser(h, browser, { provider: 'p', prompt: 'login' });
    expect(h.store.read().accounts[0]!.refreshToken).toBeUndefined();
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/--prompt login replaced that/)]);
  });

  it('auth0: the audience the provider needs goes on the authorization request; without it the sign-in is refused', async () => {
    const h = await presetProvider({ preset: 'auth0', issuer: auth0.issuer, clientId: DEMO_CLIENT_ID, options: { domain: 'acme.auth0.com', audience: 'https://api.acme.test' } });
    audiences.length = 0;
    const { request } = await signInThroughBrowser(h, browser, { provider: 'p' });
    expect(request.searchParams.get('audience')).toBe('https://api.acme.test');
    expect(audiences).toEqual(['https://api.acme.test']);
    expect(h.store.read().accounts).toHaveLength(1);

    const plain = createEngineHarness(logger);
    await addProvider(plain.store, plain.discovery, { name: 'p', issuer: auth0.issuer, clientId: DEMO_CLIENT_ID });
    await expect(signInThroughBrowser(plain, browser, { provider: 'p' })).rejects.toMatchObject({ code: 'provider_error', providerError: 'invalid_request', message: expect.stringMatching(/audience is required/) });
    expect(plain.store.read().accounts).toEqual([]);
  });

  it('microsoft: refresh tokens without prompt=consent; no revocation endpoint, so sign-out warns and still deletes locally', async () => {
    const h = await presetProvider({ preset: 'microsoft', issuer: entra.issuer, clientId: DEMO_CLIENT_ID, options: { tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47' } });
    const { request, warnings } = await signInThroughBrowser(h, browser, { provider: 'p' });
    expect(request.searchParams.has('prompt')).toBe(false);
    expect(request.searchParams.get('scope')?.split(' ')).toContain('offline_access');
    expect(h.store.read().accounts[0]!.refreshToken).toBeTruthy();
    expect(warnings).toEqual([]);
    const signOut = await h.engine.signOut({});
    expect(signOut.revoked).toEqual([]);
    expect(signOut.warnings).toEqual([expect.stringMatching(/does not support token revocation/)]);
    expect(h.store.read().accounts).toEqual([]);
    expect(entra.stats.revocations).toBe(0);
  });

  it('keycloak: no refresh-token rotation, so the same refresh token keeps working', async () => {
    const h = await presetProvider({ preset: 'keycloak', issuer: keycloak.issuer, clientId: DEMO_CLIENT_ID, options: { baseUrl: 'https://sso.acme.test', realm: 'dev' } });
    await signInThroughBrowser(h, browser, { provider: 'p' });
    const refreshToken = h.store.read().accounts[0]!.refreshToken;
    expect(refreshToken).toBeTruthy();
    keycloak.stats.reset();
    const a = await h.engine.getToken({ minTtl: 7200 });
    const b = await h.engine.getToken({ minTtl: 7200 });
    expect(a.accessToken).not.toBe(b.accessToken);
    expect(keycloak.stats.grants('refresh_token')).toBe(2);
    expect(h.store.read().accounts[0]!.refreshToken).toBe(refreshToken);
  });
});
