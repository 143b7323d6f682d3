/**
 * The demo provider is a real OpenID Provider: these tests drive it with
 * openid-client, the library the engine uses, and (where a person would) with
 * Debian's Chromium. They double as proof that the browser driver works.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer as createNetServer } from 'node:net';
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { captureLog } from '../testing/capture-log.js';
import { closeNow, listenOnLoopback } from '../testing/net.js';
import { CHROMIUM_MISSING, approveDeviceCode, chromiumAvailable, launchBrowser, signInAtProvider, signOutAtProvider } from '../testing/browser.js';
import {
  DEMO_API_RESOURCE,
  DEMO_CLIENT_ID,
  DEMO_SERVICE_CLIENT_ID,
  DEMO_SERVICE_CLIENT_SECRET,
  generateDemoJwks,
  startDemoProvider,
  type DemoProvider,
} from './demo-provider.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(CHROMIUM_MISSING);

const captured = captureLog();

const logLines = captured.lines;
const logger = captured.logger;
const consoleLines: string[] = [];

let demo: DemoProvider;
beforeAll(async () => {
  // oidc-provider's notices must reach the logger, not the console.
  for (const method of ['warn', 'info', 'log'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleLines.push(args.join(' ')));
  }
  demo = await startDemoProvider({ logger, devicePollInterval: 1 });
});
afterAll(async () => {
  await demo?.close();
  vi.restoreAllMocks();
});

function discover(clientId = DEMO_CLIENT_ID, auth: client.ClientAuth = client.None()) {
  return client.discovery(new URL(demo.issuer), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
}

describe('demo provider', () => {
  it('publishes a discovery document for a strict code-flow provider on 127.0.0.1', async () => {
    expect(demo.issuer).toBe(`http://127.0.0.1:${demo.port}`);
    const meta = (await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: demo.issuer,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      token_endpoint: `${demo.issuer}/token`,
      device_authorization_endpoint: `${demo.issuer}/device/auth`,
      revocation_endpoint: `${demo.issuer}/token/revocation`,
      introspection_endpoint: `${demo.issuer}/token/introspection`,
      end_session_endpoint: `${demo.issuer}/session/end`,
      userinfo_endpoint: `${demo.issuer}/me`,
    });
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']),
    );
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'api:read', 'api:write']));
  });

  it('does not answer on other interfaces', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return; // Nothing but loopback here: nothing to prove.
    await expect(fetch(`http://${external.address}:${demo.port}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
  });

  it('requires PKCE: an authorization request without code_challenge is sent back with invalid_request and iss', async () => {
    const url = new URL(`${demo.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: DEMO_CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:1/callback', state: 's' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('http://127.0.0.1:1/callback');
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_request', state: 's', iss: demo.issuer });
  });

  it('rejects redirect URIs that are not registered, with an error page rather than a redirect', async () => {
    const url = new URL(`${demo.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: DEMO_CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: 'http://evil.test/callback', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/data-page="error".*redirect_uri/s);
  });

  it('issues service tokens for the demo API by client credentials, and rejects a wrong secret or an unknown resource', async () => {
    demo.stats.reset();
    const config = await discover(DEMO_SERVICE_CLIENT_ID, client.ClientSecretPost(DEMO_SERVICE_CLIENT_SECRET));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' });
    expect(tokens.scope).toBe('api:read');
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: demo.issuer, audience: DEMO_API_RESOURCE });
    expect(payload).toMatchObject({ client_id: DEMO_SERVICE_CLIENT_ID, scope: 'api:read' });

    await expect(client.clientCredentialsGrant(config, { scope: 'api:read', resource: 'https://evil.test/' })).rejects.toMatchObject({ error: 'invalid_target' });
    const wrong = await discover(DEMO_SERVICE_CLIENT_ID, client.ClientSecretPost('not-the-secret'));
    await expect(client.clientCredentialsGrant(wrong, { scope: 'api:read' })).rejects.toMatchObject({ error: 'invalid_client' });

    expect(demo.stats.grants('client_credentials')).toBe(1);
    expect(demo.stats.tokenRequests.map((r) => [r.grant_type, r.ok, r.error ?? null])).toEqual([
      ['client_credentials', true, null],
      ['client_credentials', false, 'invalid_target'],
      ['client_credentials', false, 'invalid_client'],
    ]);
    expect(demo.stats.tokenRequests[1]!.resource).toBe('https://evil.test/');
    expect(JSON.stringify(demo.stats.requests)).not.toContain(DEMO_SERVICE_CLIENT_SECRET);
  });

  it('keeps the signing keys it is given, publishes only their public parts, and registers extra clients', async () => {
    const jwks = generateDemoJwks();
    const extra = { client_id: 'extra-service', client_secret: 'extra-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'api:read' };
    const custom = await startDemoProvider({ logger, jwks, clients: [extra], accessTokenTtl: 120 });
    try {
      const published = (await (await fetch(`${custom.issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
      expect(published.keys.map((k) => k.kid)).toEqual([jwks.keys[0]!.kid]);
      for (const key of published.keys) expect(Object.keys(key).filter((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(k))).toEqual([]);
      const config = await client.discovery(new URL(custom.issuer), 'extra-service', undefined, client.ClientSecretBasic('extra-secret'), {
        execute: [client.allowInsecureRequests],
      });
      const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read' });
      expect(tokens.expires_in).toBe(120);
    } finally {
      await custom.close();
    }
  });

  it('fails to start on a port that is taken, and frees its port on close even with keep-alive connections open', async () => {
    await expect(startDemoProvider({ port: demo.port, logger })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const second = await startDemoProvider({ logger });
    // fetch keeps the connection alive; close() must not wait for it.
    await fetch(`${second.issuer}/.well-known/openid-configuration`).then((r) => r.text());
    const started = Date.now();
    await second.close();
    expect(Date.now() - started).toBeLessThan(1000);
    const probe = createNetServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ host: '127.0.0.1', port: second.port }, resolve));
    await new Promise((resolve) => probe.close(resolve));
  });
});

describe.skipIf(!hasChromium)('demo provider with a real browser', () => {
  let browser: Browser;
  let app: Server;
  let appPort: number;
  beforeAll(async () => {
    browser = await launchBrowser();
    // Plays the app's loopback receiver: the port is ephemeral, unlike the registered http://127.0.0.1/callback.
    app = createServer((_req, res) => res.end('You can close this window.'));
    appPort = await listenOnLoopback(app);
  });
  afterAll(async () => {
    await browser?.close();
    if (app) await closeNow(app);
  });

  /** A code + PKCE request for offline access, with the `prompt=consent` OIDC Core §11 asks for; `extra` overrides. */
  async function authorize(config: client.Configuration, redirectUri: string, extra: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const checks = { pkceCodeVerifier: verifier, expectedState: client.randomState(), expectedNonce: client.randomNonce() };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email offline_access api:read api:write',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: checks.expectedState,
      nonce: checks.expectedNonce,
      ...extra,
    });
    return { url: url.href, checks };
  }

  it('signs in with code + PKCE on an ephemeral loopback port, narrows scope for the API on refresh, and detects refresh token reuse', async () => {
    const config = await discover();
    demo.stats.reset();
    const { url, checks } = await authorize(config, `http://127.0.0.1:${appPort}/callback`);
    const seen = await signInAtProvider(browser, url, { login: 'alice', expectLoginForm: true });
    expect(seen).toMatchObject({ sawLoginForm: true, sawConsent: true });
    expect(seen.redirectUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${appPort}/callback\\?code=`));

    const tokens = await client.authorizationCodeGrant(config, new URL(seen.redirectUrl), checks);
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope?.split(' ').sort()).toEqual(['api:read', 'api:write', 'email', 'offline_access', 'openid', 'profile']);
    expect(tokens.claims()).toMatchObject({ iss: demo.issuer, sub: 'alice', aud: DEMO_CLIENT_ID });
    const user = await client.fetchUserInfo(config, tokens.access_token, 'alice');
    expect(user).toMatchObject({ name: 'Alice', email: 'alice@demo.latchkey.test', email_verified: true, preferred_username: 'alice' });
    expect(user.picture).toMatch(/^data:image\/svg\+xml;base64,/);

    // RFC 8707 + narrowed scope on refresh: a JWT for the API with only the asked-for scope, and a rotated refresh token.
    const narrowed = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'api:read', resource: DEMO_API_RESOURCE });
    expect(narrowed.scope).toBe('api:read');
    expect(narrowed.refresh_token).toBeTruthy();
    expect(narrowed.refresh_token).not.toBe(tokens.refresh_token);
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(narrowed.access_token, jwks, { issuer: demo.issuer, audience: DEMO_API_RESOURCE });
    expect(payload).toMatchObject({ sub: 'alice', scope: 'api:read', client_id: DEMO_CLIENT_ID });

    await expect(client.refreshTokenGrant(config, narrowed.refresh_token!, { scope: 'openid address' })).rejects.toMatchObject({ error: 'invalid_scope' });
    // Reusing the rotated token revokes the whole grant (RFC 9700 §4.14.2), the new refresh token included.
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(config, narrowed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    expect(demo.stats.grants()).toBe(2);
    expect(demo.stats.grants('authorization_code')).toBe(1);
    expect(demo.stats.grants('refresh_token')).toBe(1);
    expect(demo.stats.userinfoCalls).toBe(1);
    const refreshes = demo.stats.tokenRequests.filter((r) => r.grant_type === 'refresh_token');
    expect(refreshes.map((r) => [r.scope ?? null, r.resource ?? null, r.ok, r.error ?? null])).toEqual([
      ['api:read', DEMO_API_RESOURCE, true, null],
      ['openid address', null, false, 'invalid_scope'],
      [null, null, false, 'invalid_grant'],
      [null, null, false, 'invalid_grant'],
    ]);
    const recorded = JSON.stringify(demo.stats.requests);
    for (const secret of [tokens.refresh_token!, narrowed.refresh_token!, new URL(seen.redirectUrl).searchParams.get('code')!, checks.pkceCodeVerifier]) {
      expect(recorded).not.toContain(secret);
    }
  });

  it('redirects to the private-use scheme, reuses the browser session until RP-initiated logout, and revokes refresh tokens', async () => {
    const config = await discover();
    const context = await browser.newContext();
    const first = await authorize(config, 'dev.latchkey.app:/callback');
    const one = await signInAtProvider(context, first.url, { login: 'bob' });
    expect(one.redirectUrl).toMatch(/^dev\.latchkey\.app:\/callback\?code=.*&iss=/);
    await client.authorizationCodeGrant(config, new URL(one.redirectUrl), first.checks);

    // Same context, same session: no password this time. Consent is asked again, always, for a native client:
    // anyone can claim its redirect URI, so only the user can tell it is really Latchkey (RFC 8252 §8.6).
    const second = await authorize(config, 'dev.latchkey.app:/callback');
    const two = await signInAtProvider(context, second.url, { expectLoginForm: false });
    expect(two).toMatchObject({ sawLoginForm: false, sawConsent: true });
    const tokens = await client.authorizationCodeGrant(config, new URL(two.redirectUrl), second.checks);
    expect(tokens.claims()?.sub).toBe('bob');

    // Logging out ends the browser session (the password is asked again) but not the app's refresh token.
    const logout = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, client_id: DEMO_CLIENT_ID });
    expect((await signOutAtProvider(context, logout.href)).finalUrl).toBe(`${demo.issuer}/session/end/success`);
    const third = await authorize(config, 'dev.latchkey.app:/callback');
    await signInAtProvider(context, third.url, { expectLoginForm: true, login: 'bob' });
    await context.close();

    demo.stats.reset();
    const stillValid = await client.refreshTokenGrant(config, tokens.refresh_token!);
    await client.tokenRevocation(config, stillValid.refresh_token!, { token_type_hint: 'refresh_token' });
    await expect(client.refreshTokenGrant(config, stillValid.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(demo.stats.revocations).toBe(1);
    expect(demo.stats.requests[1]).toMatchObject({ endpoint: 'revocation', client_id: DEMO_CLIENT_ID, token_type_hint: 'refresh_token', ok: true });
  });

  it('answers access_denied when the user cancels at the consent page', async () => {
    const config = await discover();
    const { url, checks } = await authorize(config, `http://127.0.0.1:${appPort}/callback`);
    const seen = await signInAtProvider(browser, url, { consent: false });
    expect(seen.sawConsent).toBe(true);
    expect(new URL(seen.redirectUrl).searchParams.get('error')).toBe('access_denied');
    await expect(client.authorizationCodeGrant(config, new URL(seen.redirectUrl), checks)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('issues refresh tokens with the library defaults: for offline_access only together with prompt=consent (OIDC Core §11)', async () => {
    const config = await discover();
    const redirect = `http://127.0.0.1:${appPort}/callback`;
    const outcomes: Record<string, boolean> = {};
    const cases: Array<[string, (params: URLSearchParams) => void]> = [
      ['no offline_access', (p) => p.set('scope', 'openid email')],
      ['offline_access, no prompt', (p) => p.delete('prompt')],
      ['offline_access, prompt=login', (p) => p.set('prompt', 'login')],
      ['offline_access, prompt=consent', () => undefined],
    ];
    for (const [label, change] of cases) {
      const { url, checks } = await authorize(config, redirect);
      const request = new URL(url);
      change(request.searchParams);
      const seen = await signInAtProvider(browser, request.href, { login: 'erin' });
      const tokens = await client.authorizationCodeGrant(config, new URL(seen.redirectUrl), checks);
      outcomes[label] = Boolean(tokens.refresh_token);
    }
    expect(outcomes).toEqual({
      'no offline_access': false,
      'offline_access, no prompt': false,
      'offline_access, prompt=login': false,
      'offline_access, prompt=consent': true,
    });
  });

  it('signs in with the device authorization grant (RFC 8628) and issues a refresh token for offline_access', async () => {
    const config = await discover();
    demo.stats.reset();
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
    expect(device.interval).toBe(1);
    const [approval, tokens] = await Promise.all([
      approveDeviceCode(browser, device.verification_uri_complete!, { login: 'carol' }),
      client.pollDeviceAuthorizationGrant(config, device),
    ]);
    expect(approval).toEqual({ sawLoginForm: true, sawConsent: true, approved: true });
    expect(tokens.claims()?.sub).toBe('carol');
    expect(tokens.refresh_token).toBeTruthy();
    expect(demo.stats.grants('urn:ietf:params:oauth:grant-type:device_code')).toBe(1);
    expect(demo.stats.requests.filter((r) => r.endpoint === 'device_authorization')).toHaveLength(1);
  });

  it('ends a denied device sign-in with access_denied', async () => {
    const config = await discover();
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    const [approval, outcome] = await Promise.all([
      approveDeviceCode(browser, device.verification_uri_complete!, { consent: false }),
      client.pollDeviceAuthorizationGrant(config, device).catch((err: unknown) => err),
    ]);
    expect(approval.approved).toBe(false);
    expect(outcome).toMatchObject({ error: 'access_denied' });
  });
});

describe('demo provider hygiene', () => {
  it('sent its development notices to the logger, never to the console, and logged no secrets', () => {
    expect(consoleLines.filter((l) => l.includes('oidc-provider'))).toEqual([]);
    expect(logLines.join('')).toMatch(/oidc-provider notice/);
    expect(logLines.join('')).not.toContain(DEMO_SERVICE_CLIENT_SECRET);
  });
});
