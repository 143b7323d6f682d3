/**
 * Plain OAuth 2.0 providers (no ID token) end to end: the engine against
 * oidc-provider with a client that never asks for `openid` (see
 * testing/oauth2-provider.ts), driven through Debian's Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { captureLog } from '../testing/capture-log.js';
import { emptyVaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import { DiscoveryCache } from './discovery.js';
import { OidcEngine, type AuthorizeOptions } from './oidc-engine.js';
import { addProvider, type AddProviderInput } from './provider-registry.js';
import { approveDeviceCode, CHROMIUM_MISSING, chromiumAvailable, launchBrowser, signInAtProvider } from '../testing/browser.js';
import { GITHUB_LIKE_CLIENT_SECRET, OAUTH2_CLIENT_ID, startOAuth2Provider, type OAuth2Provider } from '../testing/oauth2-provider.js';
import { withGitHubPreset } from './github-preset.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(`SKIP plain OAuth 2.0 engine tests: ${CHROMIUM_MISSING}`);

describe.skipIf(!hasChromium)('plain OAuth 2.0 providers against a real authorization server and browser', () => {
  let server: OAuth2Provider;
  /** Laid out like GitHub (Enterprise Server): its paths, its user API, token errors with HTTP 200. */
  let github: OAuth2Provider;
  let browser: Browser;
  const captured = captureLog();
  const secrets = new Set<string>();

  beforeAll(async () => {
    [server, github, browser] = await Promise.all([
      startOAuth2Provider({ logger: captured.logger }),
      startOAuth2Provider({ logger: captured.logger, layout: 'github', devicePollInterval: 1 }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await github?.close();
  });

  async function setup(provider: Omit<AddProviderInput, 'name' | 'clientId'> & { clientId?: string }) {
    const store = new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ timeoutSeconds: 10 });
    const schemeRouter = new SchemeCallbackRouter();
    const engine = new OidcEngine({ store, discovery, schemeRouter, logger: captured.logger, callbackTimeoutMs: 30_000 });
    const summary = await addProvider(store, discovery, { ...provider, name: 'plain', clientId: provider.clientId ?? OAUTH2_CLIENT_ID });
    return { store, discovery, schemeRouter, engine, summary };
  }

  /** Hand-given endpoints: the server's own, as a person would copy them from its documentation. */
  async function endpointsOf(s: OAuth2Provider) {
    const metadata = (await (await fetch(`${s.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;
    return {
      authorizationEndpoint: metadata.authorization_endpoint!,
      tokenEndpoint: metadata.token_endpoint!,
      deviceAuthorizationEndpoint: metadata.device_authorization_endpoint!,
      revocationEndpoint: metadata.revocation_endpoint!,
    };
  }

  async function signIn(ctx: Awaited<ReturnType<typeof setup>>, opts: Partial<AuthorizeOptions> & { login?: string; beforeDelivery?: (redirectUrl: string) => void } = {}) {
    let authorizationUrl: URL | undefined;
    const account = await ctx.engine.authorize({
      provider: 'plain',
      // oidc-provider keeps `offline_access` (so issues a refresh token) only with prompt=consent, by default.
      prompt: 'consent',
      ...opts,
      onAuthorizationUrl: async (url) => {
        authorizationUrl = new URL(url);
        const context = await browser.newContext();
        const seen = await signInAtProvider(await context.newPage(), url, { login: opts.login ?? 'alice' });
        if (seen.redirectUrl.startsWith('dev.latchkey.app:')) {
          opts.beforeDelivery?.(seen.redirectUrl);
          ctx.schemeRouter.deliver(seen.redirectUrl);
        }
        await context.close();
      },
    });
    for (const a of ctx.store.read().accounts) {
      if (a.refreshToken) secrets.add(a.refreshToken);
      for (const t of a.tokens) secrets.add(t.accessToken);
    }
    return { account, authorizationUrl: authorizationUrl! };
  }

  it('reads RFC 8414 metadata, signs in with PKCE and no ID token, names the account from userinfo, refreshes and revokes', async () => {
    const ctx = await setup({ issuer: server.issuer, oauth2: { userinfoEndpoint: server.userEndpoint } });
    expect(ctx.summary).toMatchObject({ protocol: 'oauth2', scope: 'offline_access', userinfoEndpoint: server.userEndpoint });

    const { account, authorizationUrl } = await signIn(ctx);
    // An OAuth 2.0 request: PKCE and state, but neither `openid` nor a nonce.
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('state')).toBeTruthy();
    expect(authorizationUrl.searchParams.has('nonce')).toBe(false);
    expect(authorizationUrl.searchParams.get('scope')).toBe('offline_access');
    // The first of sub, id, login, email in the userinfo answer names the account: GitHub-style numeric `id`.
    expect(account).toMatchObject({ provider: 'plain', subject: expect.stringMatching(/^\d+$/), username: 'alice', name: 'Alice', email: 'alice@oauth2.latchkey.test' });
    const stored = ctx.store.read().accounts[0]!;
    expect(stored.idToken).toBeUndefined();
    expect(stored.refreshToken).toBeTruthy();

    const cached = await ctx.engine.getToken({ account: 'alice' });
    expect(cached.idToken).toBeUndefined();
    expect(cached.accessToken).toBe(stored.tokens[0]!.accessToken);

    server.stats.reset();
    const refreshed = await ctx.engine.getToken({ minTtl: 7200 });
    expect(refreshed.accessToken).not.toBe(cached.accessToken);
    expect(server.stats.grants('refresh_token')).toBe(1);
    const rotated = ctx.store.read().accounts[0]!;
    expect(rotated.refreshToken).not.toBe(stored.refreshToken);
    secrets.add(rotated.refreshToken!);
    secrets.add(refreshed.accessToken);

    const out = await ctx.engine.signOut({});
    // The refreshed token replaced the first one (same scope), so one access token is left to revoke.
    expect(out.revoked).toEqual(['refresh token', 'access token']);
    expect(out.endSessionUrl).toBeUndefined();
    expect(ctx.store.read().accounts).toHaveLength(0);
    const config = await ctx.discovery.get(ctx.store.read().providers[0]!);
    await expect(oidc.refreshTokenGrant(config, rotated.refreshToken!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await fetch(server.userEndpoint, { headers: { authorization: `Bearer ${refreshed.accessToken}` } })).status).toBe(401);
  });

  it('with endpoints given by hand and no userinfo endpoint, the person names the account; a missing name fails before the browser opens', async () => {
    const ctx = await setup({ oauth2: await endpointsOf(server) });
    // No issuer given: the authorization endpoint's origin names the server (and matches `iss`, RFC 9207).
    expect(ctx.summary).toMatchObject({ protocol: 'oauth2', issuer: server.issuer, scope: '' });
    let opened = false;
    await expect(
      ctx.engine.authorize({ provider: 'plain', onAuthorizationUrl: () => void (opened = true) }),
    ).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('--account-name') });
    expect(opened).toBe(false);
    await expect(ctx.engine.authorize({ provider: 'plain', maxAge: 60, accountName: 'x', onAuthorizationUrl: () => undefined })).rejects.toMatchObject({ code: 'usage' });

    const { account, authorizationUrl } = await signIn(ctx, { accountName: 'work alice', scope: 'offline_access' });
    expect(authorizationUrl.origin).toBe(server.issuer);
    expect(account).toMatchObject({ subject: 'work alice', username: 'work alice', status: 'active' });
    expect((await ctx.engine.getToken({ account: 'work alice', minTtl: 7200 })).accessToken).toBeTruthy();
    expect((await ctx.engine.signOut({})).revoked).toContain('refresh token');
  });

  it('GitHub preset: web flow with the client secret; the account is the login; comma-separated scopes; no revocation, as at GitHub', async () => {
    const ctx = await setup(withGitHubPreset({ name: 'plain', clientId: OAUTH2_CLIENT_ID, issuer: github.issuer, clientSecret: GITHUB_LIKE_CLIENT_SECRET }));
    expect(ctx.summary).toMatchObject({ protocol: 'oauth2', issuer: github.issuer, scope: '', userinfoEndpoint: `${github.issuer}/api/v3/user`, hasClientSecret: true });
    const { account, authorizationUrl } = await signIn(ctx, { login: 'dave', scope: 'email offline_access' });
    expect(authorizationUrl.pathname).toBe('/login/oauth/authorize');
    // The server answered `"scope": "email,offline_access"`, as GitHub does; the account holds both scopes.
    expect(account).toMatchObject({ subject: 'dave', username: 'dave', name: 'Dave', scope: 'email offline_access' });
    expect((await ctx.engine.getToken({ account: 'dave' })).accessToken).toBe(ctx.store.read().accounts[0]!.tokens[0]!.accessToken);
    const narrowed = await ctx.engine.getToken({ account: 'dave', scope: 'email' });
    expect(narrowed.scope).toBe('email');
    secrets.add(narrowed.accessToken);
    const out = await ctx.engine.signOut({});
    expect(out.revoked).toEqual([]);
    expect(out.warnings).toEqual([expect.stringContaining('does not support token revocation')]);
  });

  it('GitHub preset: device grant at a server that answers authorization_pending with HTTP 200', async () => {
    // The quirk is real here: a token request for an unknown device code gets its error with status 200.
    const quirk = await fetch(`${github.issuer}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'nope', client_id: OAUTH2_CLIENT_ID, client_secret: GITHUB_LIKE_CLIENT_SECRET }),
    });
    expect(quirk.status).toBe(200);
    expect(await quirk.json()).toMatchObject({ error: 'invalid_grant' });

    const ctx = await setup(withGitHubPreset({ name: 'plain', clientId: OAUTH2_CLIENT_ID, issuer: github.issuer, clientSecret: GITHUB_LIKE_CLIENT_SECRET }));
    github.stats.reset();
    let approval: Promise<unknown> | undefined;
    const account = await ctx.engine.deviceAuthorize({
      provider: 'plain',
      scope: 'offline_access',
      // Approved while Latchkey polls, after at least one poll has seen the code still pending.
      onUserCode: (info) => {
        approval = (async () => {
          await new Promise((r) => setTimeout(r, 1500));
          const context = await browser.newContext();
          await approveDeviceCode(await context.newPage(), info.verificationUriComplete!, { login: 'carol' });
          await context.close();
        })();
      },
    });
    await approval;
    expect(account).toMatchObject({ subject: 'carol', username: 'carol' });
    // Asked for offline_access, as a GitHub App with expiring user tokens gets a refresh token: refresh works too.
    const refreshed = await ctx.engine.getToken({ minTtl: 7200 });
    secrets.add(refreshed.accessToken);
    expect(github.stats.tokenRequests.filter((r) => r.grant_type === 'urn:ietf:params:oauth:grant-type:device_code').length).toBeGreaterThan(1);
    expect(ctx.store.read().accounts[0]!.refreshToken).toBeTruthy();
  });

  it('still enforces state: a forged or replayed authorization response is rejected and changes nothing', async () => {
    const ctx = await setup({ issuer: server.issuer, redirect: 'scheme', oauth2: { userinfoEndpoint: server.userEndpoint } });
    let redirect = '';
    await signIn(ctx, {
      login: 'bob',
      beforeDelivery: (url) => {
        redirect = url;
        const forged = new URL(url);
        forged.searchParams.set('state', oidc.randomState());
        expect(() => ctx.schemeRouter.deliver(forged.href)).toThrow(expect.objectContaining({ code: 'callback_rejected' }));
        expect(ctx.store.read().accounts).toHaveLength(0);
      },
    });
    const before = JSON.stringify(ctx.store.read());
    expect(() => ctx.schemeRouter.deliver(redirect)).toThrow(expect.objectContaining({ code: 'callback_rejected' }));
    expect(JSON.stringify(ctx.store.read())).toBe(before);
  });

  it('a userinfo endpoint that answers garbage, or no account member, fails clearly and stores nothing', async () => {
    for (const oauth2 of [{ userinfoEndpoint: server.garbageUserEndpoint }, { userinfoEndpoint: server.userEndpoint, accountClaim: 'uuid' }]) {
      const ctx = await setup({ issuer: server.issuer, oauth2 });
      const before = JSON.stringify(ctx.store.read());
      const failure = signIn(ctx);
      await expect(failure).rejects.toMatchObject({ code: 'invalid_response', message: expect.stringContaining('nothing was saved') });
      expect(JSON.stringify(ctx.store.read())).toBe(before);
    }
  });

  it('--oauth2 reads RFC 8414 metadata only: an issuer that serves only OpenID discovery is refused', async () => {
    const ctx = await setup({ issuer: server.issuer, oauth2: {} });
    const oidcOnly = await startOAuth2Provider({ logger: captured.logger, withoutRfc8414Metadata: true });
    try {
      await expect(addProvider(ctx.store, ctx.discovery, { name: 'oidc-only', issuer: oidcOnly.issuer, clientId: 'x', oauth2: {} })).rejects.toMatchObject({
        // The server answered, with no such document: a provider error naming the status and the URL, as OpenID discovery's.
        code: 'provider_error',
        message: expect.stringContaining(`answered HTTP 404 at ${oidcOnly.issuer}/.well-known/oauth-authorization-server during discovery`),
      });
      expect(ctx.store.read().providers.map((p) => p.name)).toEqual(['plain']);
    } finally {
      await oidcOnly.close();
    }
  });

  it('never writes tokens or codes to the log', () => {
    const log = captured.text();
    expect(secrets.size).toBeGreaterThan(3);
    for (const s of [...secrets, GITHUB_LIKE_CLIENT_SECRET]) expect(log).not.toContain(s);
    expect(log).not.toMatch(/[?&]code=[A-Za-z0-9_-]{10,}/);
  });
});
