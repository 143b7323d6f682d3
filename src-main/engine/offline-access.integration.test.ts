/**
 * Refresh tokens from a spec-strict provider and short-lived access tokens,
 * against oidc-provider with its library defaults for refresh tokens (the demo
 * provider) and a real browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { captureLog } from '../testing/capture-log.js';
import { CHROMIUM_MISSING, chromiumAvailable, launchBrowser } from '../testing/browser.js';
import { createEngineHarness, signInThroughBrowser } from '../testing/engine-harness.js';
import { startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { addProvider } from './provider-registry.js';
import { refreshTokenWarning, signInPrompt } from './offline-access.js';
import { providerRecord } from '../testing/provider-record.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(CHROMIUM_MISSING);

describe('the prompt for offline access (OIDC Core §11)', () => {
  it('is consent when offline_access or access_type=offline is asked, unless the person chose one or the provider needs none', () => {
    expect(signInPrompt(providerRecord(), 'openid offline_access', undefined)).toBe('consent');
    expect(signInPrompt(providerRecord({ authorizationParams: { access_type: 'offline' } }), 'openid email', undefined)).toBe('consent');
    expect(signInPrompt(providerRecord(), 'openid email', undefined)).toBeUndefined();
    expect(signInPrompt(providerRecord(), 'openid offline_access', 'login')).toBe('login');
    expect(signInPrompt(providerRecord({ refreshWithoutConsent: true }), 'openid offline_access', undefined)).toBeUndefined();
  });

  it('warns only when offline access was asked and no refresh token came, naming the likely reason', () => {
    const base = { provider: providerRecord(), scope: 'openid offline_access', prompt: 'consent', promptChosen: false, device: false, refreshTokenIssued: false, expiresIn: 300 };
    expect(refreshTokenWarning({ ...base, refreshTokenIssued: true })).toBeUndefined();
    expect(refreshTokenWarning({ ...base, scope: 'openid' })).toBeUndefined();
    expect(refreshTokenWarning(base)?.message).toMatch(/in about 5 min.*refresh_token grant or the offline_access scope is not enabled/);
    expect(refreshTokenWarning({ ...base, prompt: 'login', promptChosen: true })?.message).toMatch(/--prompt login replaced that/);
    expect(refreshTokenWarning({ ...base, prompt: undefined, provider: providerRecord({ refreshWithoutConsent: true }) })?.message).toMatch(/refreshWithoutConsent.*--prompt consent/);
  });
});

describe.skipIf(!hasChromium)('sign-in and tokens against oidc-provider defaults', () => {
  let demo: DemoProvider;
  let shortLived: DemoProvider;
  let browser: Browser;
  const captured = captureLog();
  const { logger } = captured;

  beforeAll(async () => {
    [demo, shortLived, browser] = await Promise.all([startDemoProvider({ logger }), startDemoProvider({ logger, accessTokenTtl: 30 }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([demo?.close(), shortLived?.close()]);
  });

  it('asks for consent with offline_access and gets a refresh token; no warning', async () => {
    const h = createEngineHarness(logger);
    await addProvider(h.store, h.discovery, { name: 'demo', issuer: demo.issuer, clientId: 'latchkey-demo' });
    const { request, warnings } = await signInThroughBrowser(h, browser, { provider: 'demo' });
    expect(request.searchParams.get('scope')?.split(' ')).toContain('offline_access');
    expect(request.searchParams.get('prompt')).toBe('consent');
    expect(h.store.read().accounts[0]!.refreshToken).toBeTruthy();
    expect(warnings).toEqual([]);
  });

  it('with --prompt login the provider drops offline_access: the sign-in succeeds and says so, with the fix', async () => {
    const h = createEngineHarness(logger);
    await addProvider(h.store, h.discovery, { name: 'demo', issuer: demo.issuer, clientId: 'latchkey-demo' });
    const { request, warnings } = await signInThroughBrowser(h, browser, { provider: 'demo', prompt: 'login' });
    expect(request.searchParams.get('prompt')).toBe('login');
    expect(h.store.read().accounts[0]!.refreshToken).toBeUndefined();
    expect(warnings).toEqual([{ code: 'refresh_token_not_issued', message: expect.stringMatching(/issued no refresh token.*--prompt login.*latchkey login --provider demo/) }]);
    expect(captured.lines.join('')).toMatch(/asked for offline access but got no refresh token/);
  });

  it('a provider set to refresh without consent gets no prompt, and against a strict provider the warning names that setting', async () => {
    const h = createEngineHarness(logger);
    await addProvider(h.store, h.discovery, { name: 'demo', issuer: demo.issuer, clientId: 'latchkey-demo', refreshWithoutConsent: true });
    const { request, warnings } = await signInThroughBrowser(h, browser, { provider: 'demo' });
    expect(request.searchParams.has('prompt')).toBe(false);
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/refreshWithoutConsent.*--prompt consent/)]);
  });

  describe('short-lived access tokens (30 s)', () => {
    /** An engine whose clock the test moves; the provider keeps real time. */
    async function signedIn(issuer: string, scope: string) {
      let clock = Date.now();
      const h = createEngineHarness(logger, { now: () => clock });
      await addProvider(h.store, h.discovery, { name: 'short', issuer, clientId: 'latchkey-demo', scope });
      await signInThroughBrowser(h, browser, { provider: 'short' });
      return { ...h, advance: (seconds: number) => void (clock += seconds * 1000) };
    }

    it('are not refreshed on every call under the default 60 s minimum: only past half their lifetime', async () => {
      const h = await signedIn(shortLived.issuer, 'openid offline_access');
      const first = await h.engine.getToken({});
      shortLived.stats.reset();
      h.advance(10);
      expect((await h.engine.getToken({})).accessToken).toBe(first.accessToken);
      expect(shortLived.stats.grants('refresh_token')).toBe(0);
      h.advance(6);
      const refreshed = await h.engine.getToken({});
      expect(refreshed.accessToken).not.toBe(first.accessToken);
      expect(refreshed.warning).toBeUndefined();
      expect(shortLived.stats.grants('refresh_token')).toBe(1);
      // An explicit --min-ttl is honoured as given.
      shortLived.stats.reset();
      await h.engine.getToken({ minTtl: 40 });
      expect(shortLived.stats.grants('refresh_token')).toBe(1);
    });

    it('without a refresh token: a still-valid token comes with a warning; --min-ttl makes it an error; neither calls it expired', async () => {
      const h = await signedIn(shortLived.issuer, 'openid');
      expect(h.store.read().accounts[0]!.refreshToken).toBeUndefined();
      const first = await h.engine.getToken({});
      h.advance(20);
      const late = await h.engine.getToken({});
      expect(late.accessToken).toBe(first.accessToken);
      expect(late.warning).toMatch(/valid for only 10 s more and could not be refreshed: the provider gave no refresh token/);
      expect(late.warning).not.toMatch(/expired/);
      const explicit = h.engine.getToken({ minTtl: 15 });
      await expect(explicit).rejects.toMatchObject({ code: 'login_required', message: expect.stringMatching(/valid for 10 s more, less than the 15 s asked for/) });
      await expect(explicit).rejects.toMatchObject({ message: expect.not.stringMatching(/expired/) });
      h.advance(11);
      await expect(h.engine.getToken({})).rejects.toMatchObject({ code: 'login_required', message: expect.stringMatching(/expired and none can be refreshed/) });
    });

    it('when the provider cannot be reached, a still-valid token comes with a warning instead of an error', async () => {
      const gone = await startDemoProvider({ logger, accessTokenTtl: 30 });
      const h = await signedIn(gone.issuer, 'openid offline_access');
      const first = await h.engine.getToken({});
      await gone.close();
      h.advance(20);
      const late = await h.engine.getToken({});
      expect(late.accessToken).toBe(first.accessToken);
      expect(late.warning).toMatch(/valid for only 10 s more and could not be refreshed: Could not reach provider "short"/);
      await expect(h.engine.getToken({ minTtl: 15 })).rejects.toMatchObject({ code: 'provider_unreachable' });
      expect(h.store.read().accounts[0]!.status).toBe('active');
    });
  });
});
