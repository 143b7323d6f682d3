/**
 * Test-only: the interop matrix. Latchkey's real engine (OidcEngine over
 * openid-client) against each independent provider, a real browser (Debian
 * Chromium) on the provider's real login pages. Every feature ends as pass,
 * FAIL (with why) or "unsupported by provider" (with why) — never a pass for
 * something the provider does not do.
 */
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext } from 'playwright-core';
import { captureLog } from '../capture-log.js';
import { emptyVaultDocument, type VaultDocument } from '../../store/vault-document.js';
import { MemoryStore } from '../memory-store.js';
import { SchemeCallbackRouter } from '../../engine/callback/scheme-receiver.js';
import { DiscoveryCache } from '../../engine/discovery.js';
import { OidcEngine, type AuthorizeOptions } from '../../engine/oidc-engine.js';
import { addProvider } from '../../engine/provider-registry.js';
import { approveDeviceCode, signInAtProvider, signOutAtProvider, type SignInResult } from '../browser.js';
import { FEATURES, type Feature, type InteropProvider, type ProviderFixture } from './interop-provider.js';

export type Outcome = { status: 'pass' } | { status: 'FAIL'; reason: string } | { status: 'unsupported'; reason: string };

export interface ProviderRow {
  provider: string;
  /** Set when the provider could not run here at all (package missing): its row is skipped. */
  skipped?: string;
  outcomes: Partial<Record<Feature, Outcome>>;
}

class Unsupported extends Error {}

/** Ends a feature as "unsupported by provider". */
function unsupported(reason: string): never {
  throw new Unsupported(reason);
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Starts each provider in turn, runs every feature against it, stops it. */
export async function runMatrix(fixtures: readonly ProviderFixture[], browser: Browser): Promise<ProviderRow[]> {
  const rows: ProviderRow[] = [];
  for (const fixture of fixtures) {
    const missing = fixture.missing();
    if (missing) {
      rows.push({ provider: fixture.name, skipped: missing, outcomes: {} });
      continue;
    }
    let provider: InteropProvider;
    try {
      provider = await fixture.start();
    } catch (err) {
      const reason = `the provider did not start (see above)`;
      console.error(`interop: ${fixture.name} did not start: ${(err as Error).message}`);
      rows.push({ provider: fixture.name, outcomes: Object.fromEntries(FEATURES.map((f) => [f, { status: 'FAIL', reason }])) });
      continue;
    }
    try {
      rows.push({ provider: provider.name, outcomes: await runFeatures(provider, browser) });
    } finally {
      await provider.close();
    }
  }
  return rows;
}

async function runFeatures(provider: InteropProvider, browser: Browser): Promise<Partial<Record<Feature, Outcome>>> {
  const outcomes: Partial<Record<Feature, Outcome>> = {};
  const { logger, text: logText } = captureLog();
  const secrets = new Set<string>();

  async function setup(redirect: 'loopback' | 'scheme' = 'loopback') {
    const store = new MemoryStore<VaultDocument>(emptyVaultDocument());
    const discovery = new DiscoveryCache({ timeoutSeconds: 10 });
    const schemeRouter = new SchemeCallbackRouter();
    const engine = new OidcEngine({ store, discovery, schemeRouter, logger, callbackTimeoutMs: 30_000 });
    await addProvider(store, discovery, {
      name: 'op',
      issuer: provider.issuer,
      clientId: provider.clientId,
      redirect,
      ...(provider.scope ? { scope: provider.scope } : {}),
      ...(provider.loopbackPort ? { loopbackPort: provider.loopbackPort } : {}),
    });
    const config = await discovery.get(store.read().providers[0]!);
    return { store, discovery, schemeRouter, engine, config, metadata: config.serverMetadata() };
  }
  type Ctx = Awaited<ReturnType<typeof setup>>;

  /** A browser sign-in through the engine; scheme redirects are handed over like `latchkey handle-url`. */
  async function signIn(ctx: Ctx, context: BrowserContext, opts: Partial<AuthorizeOptions> = {}): Promise<SignInResult> {
    let seen: SignInResult | undefined;
    await ctx.engine.authorize({
      provider: 'op',
      ...(provider.offlinePrompt ? { prompt: provider.offlinePrompt } : {}),
      ...opts,
      onAuthorizationUrl: async (url) => {
        const page = await context.newPage();
        try {
          seen = await signInAtProvider(page, url, { pages: provider.pages, login: provider.user.login, password: provider.user.password });
          if (!/^https?:/.test(seen.redirectUrl)) ctx.schemeRouter.deliver(seen.redirectUrl);
        } finally {
          await page.close();
        }
      },
    });
    for (const a of ctx.store.read().accounts) {
      if (a.refreshToken) secrets.add(a.refreshToken);
      if (a.idToken) secrets.add(a.idToken);
      for (const t of a.tokens) secrets.add(t.accessToken);
    }
    return seen!;
  }

  async function feature(name: Feature, run: () => Promise<void>): Promise<void> {
    const declared = provider.unsupported[name];
    if (declared) {
      outcomes[name] = { status: 'unsupported', reason: declared };
      return;
    }
    try {
      await run();
      outcomes[name] = { status: 'pass' };
    } catch (err) {
      outcomes[name] = err instanceof Unsupported ? { status: 'unsupported', reason: err.message } : { status: 'FAIL', reason: describeError(err) };
    }
  }

  const withContext = async (run: (context: BrowserContext) => Promise<void>) => {
    const context = await browser.newContext();
    try {
      await run(context);
    } finally {
      await context.close();
    }
  };

  // One loopback sign-in feeds the features that only read its result.
  let signedIn: Ctx | undefined;
  await feature('loopback sign-in + PKCE', () =>
    withContext(async (context) => {
      const ctx = await setup('loopback');
      check(ctx.metadata.code_challenge_methods_supported?.includes('S256') !== false, 'the provider does not offer PKCE S256');
      const seen = await signIn(ctx, context);
      check(seen.sawLoginForm, 'the provider did not ask for the password');
      check(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/.test(seen.redirectUrl), `unexpected redirect ${seen.redirectUrl}`);
      const account = ctx.store.read().accounts[0];
      check(account?.subject && account.tokens[0]?.accessToken, 'no account or access token was stored');
      const token = await ctx.engine.getToken({});
      check(token.accessToken === account.tokens[0].accessToken, 'the cached token was not reused');
      signedIn = ctx;
    }),
  );

  await feature('private-use scheme sign-in', () =>
    withContext(async (context) => {
      const ctx = await setup('scheme');
      const seen = await signIn(ctx, context);
      check(seen.redirectUrl.startsWith('dev.latchkey.app:/callback?'), `unexpected redirect ${seen.redirectUrl}`);
      check(ctx.store.read().accounts.length === 1, 'no account was stored');
      // A replayed authorization response must be refused.
      let replayRefused = false;
      try {
        ctx.schemeRouter.deliver(seen.redirectUrl);
      } catch {
        replayRefused = true;
      }
      check(replayRefused, 'a replayed callback was accepted');
    }),
  );

  await feature('ID token validation', async () => {
    check(signedIn, 'needs the loopback sign-in');
    const account = signedIn.store.read().accounts[0]!;
    check(account.idToken, 'no ID token was stored');
    // The engine (openid-client) already validated it; check independently with jose against the JWKS.
    const jwks = createRemoteJWKSet(new URL(signedIn.metadata.jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(account.idToken, jwks, { issuer: provider.issuer, audience: provider.clientId });
    check(protectedHeader.alg !== 'none', 'unsigned ID token');
    check(payload.sub === account.subject, 'ID token subject differs from the account');
    check(typeof payload.nonce === 'string', 'the ID token carries no nonce');
    // A token with a changed payload must fail signature validation.
    const [h, p, s] = account.idToken.split('.');
    const forged = JSON.parse(Buffer.from(p!, 'base64url').toString());
    forged.sub = 'mallory';
    const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`;
    const rejected = await jwtVerify(tampered, jwks).then(() => false, () => true);
    check(rejected, 'a tampered ID token validated');
  });

  let firstRefreshToken: string | undefined;
  let rotatedTo: string | undefined;
  await feature('refresh', async () => {
    check(signedIn, 'needs the loopback sign-in');
    const before = signedIn.store.read().accounts[0]!;
    if (!before.refreshToken) unsupported('no refresh token was issued to the public client');
    firstRefreshToken = before.refreshToken;
    // Asking for more life than the cached token has forces a refresh.
    const token = await signedIn.engine.getToken({ minTtl: 10 * 365 * 24 * 3600 });
    check(token.accessToken !== before.tokens[0]!.accessToken, 'no new access token');
    const after = signedIn.store.read().accounts[0]!;
    for (const t of after.tokens) secrets.add(t.accessToken);
    if (after.refreshToken) secrets.add(after.refreshToken);
    if (after.refreshToken !== firstRefreshToken) rotatedTo = after.refreshToken;
    const userinfo = signedIn.metadata.userinfo_endpoint ? await oidc.fetchUserInfo(signedIn.config, token.accessToken, before.subject) : undefined;
    check(!userinfo || userinfo.sub === before.subject, 'userinfo with the refreshed token names someone else');
  });

  await feature('refresh token rotation', async () => {
    check(signedIn, 'needs the loopback sign-in');
    if (!firstRefreshToken) unsupported('no refresh token was issued');
    if (!rotatedTo) unsupported('the provider keeps the refresh token on refresh (no rotation)');
    const replay = await oidc.refreshTokenGrant(signedIn.config, firstRefreshToken).then(
      () => 'accepted',
      (err: unknown) => (err as { error?: string }).error ?? String(err),
    );
    check(replay === 'invalid_grant', `the rotated-out refresh token was not refused (${replay})`);
  });

  await feature('max_age', () =>
    withContext(async (context) => {
      const ctx = await setup('loopback');
      const first = await signIn(ctx, context);
      check(first.sawLoginForm, 'the first sign-in did not ask for the password');
      const claims = JSON.parse(Buffer.from(ctx.store.read().accounts[0]!.idToken!.split('.')[1]!, 'base64url').toString()) as { auth_time?: unknown; iat: number };
      check(ctx.store.read().accounts[0]!.authTime! > claims.iat - 3600, 'the stored authentication time is not plausible');
      if (typeof claims.auth_time !== 'number' || claims.auth_time <= 0) {
        // Without a real auth_time nothing proves a re-authentication: Latchkey must refuse a max_age sign-in.
        const refused = await signIn(ctx, context, { maxAge: 1 }).then(
          () => 'accepted',
          (err: { code?: string }) => err.code ?? 'error',
        );
        check(refused === 'invalid_response', `a max_age sign-in with auth_time ${String(claims.auth_time)} was not refused (${refused})`);
        unsupported(`the ID token's auth_time is ${String(claims.auth_time)}, so max_age cannot be verified (Latchkey refuses such max_age sign-ins)`);
      }
      const again = await signIn(ctx, context);
      check(!again.sawLoginForm, 'a second sign-in without max_age asked for the password again');
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const forced = await signIn(ctx, context, { maxAge: 1 });
      check(forced.sawLoginForm, 'max_age=1 did not make the provider ask for the password again');
      const authTime = ctx.store.read().accounts[0]!.authTime!;
      check(Date.now() / 1000 - authTime < 30, 'auth_time was not renewed');
    }),
  );

  await feature('revocation', async () => {
    const ctx = await setup('loopback');
    if (!ctx.metadata.revocation_endpoint) unsupported('no revocation_endpoint in discovery');
    await withContext((context) => signIn(ctx, context).then(() => undefined));
    const account = ctx.store.read().accounts[0]!;
    const result = await ctx.engine.signOut({});
    const skipped = result.warnings.find((w) => w.includes('only from confidential clients'));
    if (skipped) unsupported(skipped);
    check(result.revoked.includes('access token'), `the access token was not revoked: ${result.warnings.join('; ')}`);
    if (account.refreshToken) {
      check(result.revoked.includes('refresh token'), `the refresh token was not revoked: ${result.warnings.join('; ')}`);
      const refused = await oidc.refreshTokenGrant(ctx.config, account.refreshToken).then(() => false, () => true);
      check(refused, 'the revoked refresh token still works');
    }
  });

  await feature('RP-initiated logout', () =>
    withContext(async (context) => {
      const ctx = await setup('loopback');
      if (!ctx.metadata.end_session_endpoint) unsupported('no end_session_endpoint in discovery');
      await signIn(ctx, context);
      const { endSessionUrl } = await ctx.engine.signOut({});
      check(endSessionUrl, 'the engine offered no logout URL');
      await signOutAtProvider(context, endSessionUrl, { pages: provider.pages });
      // The provider session is gone: the next sign-in in the same browser asks for the password.
      const next = await signIn(ctx, context);
      check(next.sawLoginForm, 'after logout the provider signed in without the password');
    }),
  );

  await feature('device grant', async () => {
    const ctx = await setup('loopback');
    if (!ctx.metadata.device_authorization_endpoint) unsupported('no device_authorization_endpoint in discovery');
    await withContext(async (context) => {
      const account = await ctx.engine.deviceAuthorize({
        provider: 'op',
        onUserCode: async (info) => {
          const url = info.verificationUriComplete ?? info.verificationUri;
          await approveDeviceCode(context, url, { pages: provider.pages, login: provider.user.login, password: provider.user.password, userCode: info.userCode });
        },
      });
      check(account.subject, 'no account from the device grant');
    });
  });

  await feature('client credentials', async () => {
    if (!provider.serviceClient) unsupported('the provider offers no client credentials grant');
    const ctx = await setup('loopback');
    await addProvider(ctx.store, ctx.discovery, {
      name: 'svc',
      issuer: provider.issuer,
      clientId: provider.serviceClient.clientId,
      clientSecret: provider.serviceClient.clientSecret,
      scope: provider.serviceClient.scope,
      service: true,
    });
    const a = await ctx.engine.getToken({ provider: 'svc' });
    const b = await ctx.engine.getToken({ provider: 'svc' });
    check(a.accessToken && a.accessToken === b.accessToken, 'the service token was not cached');
    secrets.add(a.accessToken);
  });

  // Whatever happened, no token may have reached the log.
  const log = logText();
  for (const s of secrets) {
    if (log.includes(s)) {
      for (const f of FEATURES) if (outcomes[f]?.status === 'pass') outcomes[f] = { status: 'FAIL', reason: 'a token reached the log' };
      break;
    }
  }
  return outcomes;
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const extra = err as Error & { code?: string; error?: string; error_description?: string; cause?: unknown };
  const bits = [extra.code, extra.error, extra.error_description].filter(Boolean).join(' ');
  const cause = extra.cause instanceof Error ? ` (cause: ${extra.cause.message})` : '';
  return `${bits ? `${bits}: ` : ''}${err.message}${cause}`.replace(/\s+/g, ' ').slice(0, 400);
}

/** The matrix as text: one row per provider, one column per feature, then every non-pass with its reason. */
export function formatMatrix(rows: readonly ProviderRow[]): string {
  const cell = (o: Outcome | undefined) => (o ? (o.status === 'pass' ? 'pass' : o.status === 'FAIL' ? 'FAIL' : 'unsupported') : '-');
  const width = Math.max(...FEATURES.map((f) => f.length), 'feature'.length);
  const colWidth = rows.map((r) => Math.max(r.provider.length, 'unsupported'.length));
  const lines = [['feature'.padEnd(width), ...rows.map((r, i) => r.provider.padEnd(colWidth[i]!))].join(' | ')];
  lines.push(['-'.repeat(width), ...colWidth.map((w) => '-'.repeat(w))].join('-|-'));
  for (const f of FEATURES) {
    lines.push([f.padEnd(width), ...rows.map((r, i) => (r.skipped ? 'skipped' : cell(r.outcomes[f])).padEnd(colWidth[i]!))].join(' | '));
  }
  lines.push('');
  for (const r of rows) {
    if (r.skipped) lines.push(`${r.provider}: skipped: ${r.skipped}`);
    for (const f of FEATURES) {
      const o = r.outcomes[f];
      if (o && o.status !== 'pass') lines.push(`${r.provider} / ${f}: ${o.status === 'FAIL' ? 'FAIL' : 'unsupported by provider'}: ${o.reason}`);
    }
  }
  return lines.join('\n');
}

export function countOutcomes(rows: readonly ProviderRow[]): { passed: number; failed: number; unsupported: number; skipped: number } {
  const all = rows.flatMap((r) => Object.values(r.outcomes));
  return {
    passed: all.filter((o) => o.status === 'pass').length,
    failed: all.filter((o) => o.status === 'FAIL').length,
    unsupported: all.filter((o) => o.status === 'unsupported').length,
    skipped: rows.filter((r) => r.skipped).length * FEATURES.length,
  };
}
