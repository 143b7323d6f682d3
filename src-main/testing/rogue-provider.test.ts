/**
 * Proves the rogue provider produces what each mode promises: openid-client
 * accepts `ok` and rejects every spoiled answer, for the reason the mode names.
 * Engine tests rely on this when they assert "rejected and nothing stored".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { ROGUE_SUBJECT, startRogueProvider, type RogueMode, type RogueProvider } from './rogue-provider.js';

describe('rogue provider', () => {
  let rogue: RogueProvider;
  let config: client.Configuration;
  beforeAll(async () => {
    rogue = await startRogueProvider({ slowMs: 2000 });
    config = await discover([client.enableNonRepudiationChecks]);
  });
  afterAll(() => rogue?.close());

  /** Like the engine: openid-client checks ID token signatures from the token endpoint only when asked to. */
  function discover(extra: Array<(config: client.Configuration) => void> = []) {
    return client.discovery(new URL(rogue.issuer), 'rogue-client', undefined, client.None(), {
      execute: [client.allowInsecureRequests, ...extra],
      timeout: 1,
    });
  }

  /** Plays the browser: follows the authorization redirect, then exchanges the code the way the engine does. */
  async function signIn(mode: RogueMode, cfg = config) {
    rogue.setMode(mode);
    const verifier = client.randomPKCECodeVerifier();
    const checks = { pkceCodeVerifier: verifier, expectedState: client.randomState(), expectedNonce: client.randomNonce() };
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: 'http://127.0.0.1:1/callback',
      scope: 'openid email',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: checks.expectedState,
      nonce: checks.expectedNonce,
    });
    const res = await fetch(url, { redirect: 'manual' });
    const callback = new URL(res.headers.get('location')!);
    const tokens = await client.authorizationCodeGrant(cfg, callback, checks);
    return { tokens, checks };
  }

  it('answers soundly in mode ok: openid-client accepts it and the ID token carries our nonce', async () => {
    const { tokens, checks } = await signIn('ok');
    expect(tokens.claims()).toMatchObject({ iss: rogue.issuer, aud: 'rogue-client', sub: ROGUE_SUBJECT, nonce: checks.expectedNonce });
    expect(tokens.refresh_token).toBeTruthy();
  });

  /** [mode, openid-client's error code, what its message (or its cause's) says, the provider's OAuth error]. */
  const spoiled: Array<[RogueMode, string, RegExp, string?]> = [
    ['bad-signature', 'OAUTH_INVALID_RESPONSE', /JWT signature verification failed/],
    ['wrong-aud', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', /"aud"/],
    ['wrong-iss', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', /"iss"/],
    ['expired', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', /"exp"/],
    ['wrong-nonce', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', /"nonce"/],
    ['wrong-iss-in-callback', 'OAUTH_INVALID_RESPONSE', /"iss" \(issuer\) response parameter/],
    ['error-callback', 'OAUTH_AUTHORIZATION_RESPONSE_ERROR', /authorization response/, 'access_denied'],
    ['token-error', 'OAUTH_RESPONSE_BODY_ERROR', /error in the response body/, 'invalid_grant'],
    ['malformed-json', 'OAUTH_PARSE_ERROR', /parse "response" body as JSON/],
    ['slow', 'OAUTH_TIMEOUT', /timed out|timeout/],
  ];
  it.each(spoiled)('mode %s is rejected by openid-client with %s', async (mode, code, reason, providerError) => {
    const error = await signIn(mode).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message: string; error?: string; cause?: { message?: string } },
    );
    expect(error?.code).toBe(code);
    expect(`${error?.message} / ${error?.cause?.message ?? ''}`).toMatch(reason);
    expect(error?.error).toBe(providerError);
  });

  it('bad-signature passes openid-client unless non-repudiation checks are on (why the engine turns them on)', async () => {
    const lax = await discover();
    const { tokens } = await signIn('bad-signature', lax);
    expect(tokens.claims()?.sub).toBe(ROGUE_SUBJECT);
  });

  it('rotates refresh tokens, and answers invalid_grant to a refresh in mode refresh-invalid-grant', async () => {
    const { tokens } = await signIn('ok');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe(ROGUE_SUBJECT);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    rogue.setMode('refresh-invalid-grant');
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(rogue.requests.filter((r) => r.grantType === 'refresh_token').map((r) => r.mode)).toEqual(['ok', 'ok', 'refresh-invalid-grant']);
  });

  it('lets close() end a held slow request at once', async () => {
    const other = await startRogueProvider({ slowMs: 60_000 });
    other.setMode('slow');
    const pending = fetch(`${other.issuer}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code' }) });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });
});
