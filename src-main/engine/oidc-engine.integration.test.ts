/**
 * The engine against a real OpenID Provider (oidc-provider on 127.0.0.1) and a
 * real browser (Debian Chromium driven by Playwright).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { captureLog } from '../testing/capture-log.js';
import { emptyVaultDocument, type VaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import { DiscoveryCache } from './discovery.js';
import { OidcEngine, type AuthorizeOptions } from './oidc-engine.js';
import { addProvider } from './provider-registry.js';
import { DEMO_SERVICE_CLIENT_SECRET, startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { approveDeviceCode, chromiumAvailable, launchBrowser, signInAtProvider } from '../testing/browser.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn('SKIP engine integration tests: /usr/bin/chromium is not installed (apt-get install chromium).');

describe.skipIf(!hasChromium)('OIDC engine against a real provider and browser', () => {
  let demo: DemoProvider;
  let other: DemoProvider;
  let browser: Browser;
  const captured = captureLog();
  const logLines = captured.lines;
  const logger = captured.logger;
  /** Every secret the tests see, to prove none reached the log. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    [demo, other, browser] = await Promise.all([startDemoProvider({ logger }), startDemoProvider({ logger }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    await other?.close();
  });

  async function setup(options: { redirect?: 'loopback' | 'scheme'; store?: MemoryStore<VaultDocument>; timeoutSeconds?: number } = {}) {
    const store = options.store ?? new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ timeoutSeconds: options.timeoutSeconds ?? 10 });
    const schemeRouter = new SchemeCallbackRouter();
    const engine = new OidcEngine({ store, discovery, schemeRouter, logger, callbackTimeoutMs: 30_000 });
    if (!store.read().providers.some((p) => p.name === 'demo')) {
      await addProvider(store, discovery, { name: 'demo', issuer: demo.issuer, clientId: 'latchkey-demo', redirect: options.redirect ?? 'loopback' });
    }
    return { store, discovery, schemeRouter, engine };
  }

  /** Signs in through the browser; for scheme redirects, hands the captured URL to the router like `latchkey handle-url`. */
  async function signIn(
    ctx: Awaited<ReturnType<typeof setup>>,
    opts: Partial<AuthorizeOptions> & { login?: string; context?: BrowserContext } = {},
  ) {
    let seen: Awaited<ReturnType<typeof signInAtProvider>> | undefined;
    const account = await ctx.engine.authorize({
      provider: 'demo',
      ...opts,
      onAuthorizationUrl: async (url) => {
        const page = await (opts.context ?? (await browser.newContext())).newPage();
        seen = await signInAtProvider(page, url, { login: opts.login ?? 'alice' });
        if (seen.redirectUrl.startsWith('dev.latchkey.app:')) ctx.schemeRouter.deliver(seen.redirectUrl);
        await page.close();
      },
    });
    return { account, seen: seen! };
  }

  function rememberSecrets(doc: VaultDocument) {
    for (const a of doc.accounts) {
      if (a.refreshToken) secrets.add(a.refreshToken);
      for (const t of a.tokens) secrets.add(t.accessToken);
    }
  }

  it('signs in with a loopback redirect and returns the cached token without asking the provider again', async () => {
    const ctx = await setup();
    const { account } = await signIn(ctx);
    expect(account).toMatchObject({ provider: 'demo', subject: 'alice', email: 'alice@demo.latchkey.test', status: 'active' });
    const stored = ctx.store.read().accounts[0]!;
    expect(stored.refreshToken).toBeTruthy();
    expect(stored.idToken).toBeTruthy();
    demo.stats.reset();
    const token = await ctx.engine.getToken({});
    expect(token.accessToken).toBe(stored.tokens[0]!.accessToken);
    expect(token.idToken).toBe(stored.idToken);
    expect(demo.stats.tokenRequests).toHaveLength(0);
    rememberSecrets(ctx.store.read());
  });

  it('signs in with a private-use scheme redirect; a replayed or forged callback is rejected and changes nothing', async () => {
    const ctx = await setup({ redirect: 'scheme' });
    const { account, seen } = await signIn(ctx, { login: 'bob' });
    expect(seen.redirectUrl).toMatch(/^dev\.latchkey\.app:\/callback\?/);
    expect(account.subject).toBe('bob');
    const before = JSON.stringify(ctx.store.read());
    expect(() => ctx.schemeRouter.deliver(seen.redirectUrl)).toThrow(expect.objectContaining({ code: 'callback_rejected' }));
    const forged = new URL(seen.redirectUrl);
    forged.searchParams.set('state', 'forged');
    expect(() => ctx.schemeRouter.deliver(forged.href)).toThrow(expect.objectContaining({ code: 'callback_rejected' }));
    expect(JSON.stringify(ctx.store.read())).toBe(before);
  });

  it('refreshes when the token is too short-lived, once for many concurrent callers, and persists the rotated refresh token first', async () => {
    const ctx = await setup();
    await signIn(ctx);
    const firstRefreshToken = ctx.store.read().accounts[0]!.refreshToken!;
    demo.stats.reset();
    // 100 callers want a token valid for 2 h; the cached one lives 1 h: exactly one refresh.
    const results = await Promise.all(Array.from({ length: 100 }, () => ctx.engine.getToken({ minTtl: 7200 })));
    expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
    expect(demo.stats.tokenRequests.filter((r) => r.grant_type === 'refresh_token')).toHaveLength(1);
    const account = ctx.store.read().accounts[0]!;
    expect(account.refreshToken).not.toBe(firstRefreshToken);
    expect(account.tokens.some((t) => t.accessToken === results[0]!.accessToken)).toBe(true);
    rememberSecrets(ctx.store.read());
  });

  it('narrows scope on refresh: the provider sees the narrowed request and the token carries only that scope', async () => {
    const ctx = await setup();
    await signIn(ctx, { scope: 'openid profile email offline_access api:read' });
    demo.stats.reset();
    const narrowed = await ctx.engine.getToken({ scope: 'api:read openid' });
    expect(narrowed.scope).toBe('api:read openid');
    const refreshes = demo.stats.tokenRequests.filter((r) => r.grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.scope?.split(' ').sort()).toEqual(['api:read', 'openid']);
    await expect(ctx.engine.getToken({ scope: 'openid api:write' })).rejects.toMatchObject({ code: 'login_required' });
  });

  it('marks the account "sign-in needed" on invalid_grant and keeps everything else', async () => {
    const ctx = await setup();
    await signIn(ctx);
    const before = ctx.store.read().accounts[0]!;
    // Revoke the refresh token behind Latchkey's back: the next refresh gets invalid_grant.
    const config = await ctx.discovery.get(ctx.store.read().providers[0]!);
    await oidc.tokenRevocation(config, before.refreshToken!, { token_type_hint: 'refresh_token' });
    await expect(ctx.engine.getToken({ minTtl: 7200 })).rejects.toMatchObject({ code: 'login_required', providerError: 'invalid_grant' });
    const after = ctx.store.read().accounts[0]!;
    expect(after.status).toBe('sign_in_needed');
    expect({ ...after, status: before.status, lastError: undefined, updatedAt: before.updatedAt }).toEqual({ ...before, lastError: undefined });
    await expect(ctx.engine.getToken({})).rejects.toMatchObject({ code: 'login_required' });
    // Signing in again brings it back.
    await signIn(ctx);
    expect(ctx.store.read().accounts[0]!.status).toBe('active');
  });

  it('signs out: revokes at the provider (which then rejects the tokens), offers the logout URL, deletes locally', async () => {
    const ctx = await setup();
    await signIn(ctx);
    const account = ctx.store.read().accounts[0]!;
    const config = await ctx.discovery.get(ctx.store.read().providers[0]!);
    await expect(oidc.fetchUserInfo(config, account.tokens[0]!.accessToken, account.subject)).resolves.toMatchObject({ sub: 'alice' });
    const result = await ctx.engine.signOut({});
    expect(result.revoked).toEqual(['refresh token', 'access token']);
    expect(result.endSessionUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*id_token_hint=/);
    expect(ctx.store.read().accounts).toHaveLength(0);
    await expect(oidc.fetchUserInfo(config, account.tokens[0]!.accessToken, account.subject)).rejects.toThrow();
    await expect(oidc.refreshTokenGrant(config, account.refreshToken!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('uses client credentials for a service profile and caches the token until shortly before expiry', async () => {
    const ctx = await setup();
    await addProvider(ctx.store, ctx.discovery, {
      name: 'svc',
      issuer: demo.issuer,
      clientId: 'latchkey-service',
      clientSecret: DEMO_SERVICE_CLIENT_SECRET,
      scope: 'api:read',
      service: true,
    });
    demo.stats.reset();
    const a = await ctx.engine.getToken({ provider: 'svc' });
    const b = await ctx.engine.getToken({ provider: 'svc' });
    expect(a.accessToken).toBe(b.accessToken);
    expect(a.scope).toBe('api:read');
    expect(demo.stats.tokenRequests.filter((r) => r.grant_type === 'client_credentials')).toHaveLength(1);
    // Asking for more life than the token has left fetches a new one.
    const c = await ctx.engine.getToken({ provider: 'svc', minTtl: 7200 });
    expect(c.accessToken).not.toBe(a.accessToken);
    await expect(ctx.engine.authorize({ provider: 'svc', onAuthorizationUrl: () => undefined })).rejects.toMatchObject({ code: 'usage' });
  });

  it('signs in with the device authorization grant (RFC 8628)', async () => {
    const ctx = await setup();
    const account = await ctx.engine.deviceAuthorize({
      provider: 'demo',
      onUserCode: async (info) => {
        expect(info.userCode).toBeTruthy();
        const page = await (await browser.newContext()).newPage();
        await approveDeviceCode(page, info.verificationUriComplete!, { login: 'carol' });
        await page.close();
      },
    });
    expect(account.subject).toBe('carol');
    expect(ctx.store.read().accounts[0]!.refreshToken).toBeTruthy();
  });

  it('max_age makes the provider ask for the password again and is enforced on token requests', async () => {
    const ctx = await setup();
    const context = await browser.newContext();
    const first = await signIn(ctx, { context });
    expect(first.seen.sawLoginForm).toBe(true);
    const again = await signIn(ctx, { context });
    expect(again.seen.sawLoginForm).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    const forced = await signIn(ctx, { context, maxAge: 1 });
    expect(forced.seen.sawLoginForm).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    await expect(ctx.engine.getToken({ maxAge: 1 })).rejects.toMatchObject({ code: 'login_required' });
    await expect(ctx.engine.getToken({ maxAge: 3600 })).resolves.toBeTruthy();
    await context.close();
  });

  it('keeps several accounts across several providers apart', async () => {
    const ctx = await setup();
    await addProvider(ctx.store, ctx.discovery, { name: 'other', issuer: other.issuer, clientId: 'latchkey-demo' });
    await signIn(ctx, { login: 'alice' });
    await signIn(ctx, { login: 'bob' });
    await signIn(ctx, { provider: 'other', login: 'alice' });
    const accounts = ctx.engine.accounts();
    expect(accounts.map((a) => `${a.provider}/${a.subject}`).sort()).toEqual(['demo/alice', 'demo/bob', 'other/alice']);
    expect(new Set(accounts.map((a) => a.id)).size).toBe(3);
    await expect(ctx.engine.getToken({ provider: 'demo' })).rejects.toMatchObject({ code: 'usage' });
    const bob = await ctx.engine.getToken({ account: 'bob@demo.latchkey.test' });
    const otherAlice = await ctx.engine.getToken({ provider: 'other' });
    expect(bob.accessToken).not.toBe(otherAlice.accessToken);
    // Signing out one account leaves the others.
    await ctx.engine.signOut({ provider: 'other' });
    expect(ctx.engine.accounts()).toHaveLength(2);
    rememberSecrets(ctx.store.read());
  });

  it('fails fast and clearly when the provider is down, and a cancelled sign-in frees its port', async () => {
    const ctx = await setup();
    await expect(
      addProvider(ctx.store, ctx.discovery, { name: 'down', issuer: 'http://127.0.0.1:9/', clientId: 'x' }),
    ).rejects.toMatchObject({ code: 'provider_unreachable' });
    const controller = new AbortController();
    let redirect = '';
    const pending = ctx.engine.authorize({
      provider: 'demo',
      signal: controller.signal,
      onAuthorizationUrl: (url) => {
        redirect = new URL(url).searchParams.get('redirect_uri')!;
        controller.abort();
      },
    });
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    await expect(fetch(`${redirect}?state=x`)).rejects.toThrow();
  });

  it('never writes tokens, codes or verifiers to the log', () => {
    const log = logLines.join('');
    expect(log.length).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(3);
    for (const s of secrets) expect(log).not.toContain(s);
    expect(log).not.toMatch(/[?&]code=[A-Za-z0-9_-]{10,}/);
    expect(log).not.toMatch(/code_verifier=[A-Za-z0-9_-]+/);
  });
});
