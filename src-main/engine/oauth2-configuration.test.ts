import { describe, expect, it } from 'vitest';
import type * as oidc from 'openid-client';
import { emptyVaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { DiscoveryCache } from './discovery.js';
import { GITHUB_TOKEN_LIFETIME_SECONDS, withGitHubPreset } from './github-preset.js';
import { assertAccountNaming } from './oauth2-account.js';
import { oauth2SettingsFrom, parseEndpointUrl, readTokenErrorsAsErrors } from './oauth2-configuration.js';
import { addProvider, listProviders } from './provider-registry.js';

const HAND = { authorizationEndpoint: 'https://auth.example.com/oauth/authorize', tokenEndpoint: 'https://auth.example.com/oauth/token' };

describe('plain OAuth 2.0 endpoints as typed', () => {
  it('accepts https anywhere and http only on loopback; refuses fragments and credentials', () => {
    expect(parseEndpointUrl('https://auth.example.com/authorize?tenant=a', '--x')).toBe('https://auth.example.com/authorize?tenant=a');
    expect(parseEndpointUrl('http://127.0.0.1:8080/token', '--x')).toBe('http://127.0.0.1:8080/token');
    for (const bad of ['http://auth.example.com/token', 'https://auth.example.com/token#frag', 'https://u:p@auth.example.com/token', 'ftp://127.0.0.1/x', 'not a url', '/token']) {
      expect(() => parseEndpointUrl(bad, '--token-endpoint'), bad).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringContaining('--token-endpoint') }));
    }
  });

  it('needs an issuer or both the authorization and token endpoints; the others only with them', () => {
    expect(() => oauth2SettingsFrom({}, undefined)).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => oauth2SettingsFrom({ authorizationEndpoint: HAND.authorizationEndpoint }, undefined)).toThrow(/both --authorization-endpoint and --token-endpoint/);
    expect(() => oauth2SettingsFrom({ revocationEndpoint: 'https://auth.example.com/revoke' }, 'https://auth.example.com')).toThrow(/need --authorization-endpoint/);
    expect(() => oauth2SettingsFrom({ accountClaim: 'login' }, 'https://auth.example.com')).toThrow(/needs --userinfo-endpoint/);
    expect(() => oauth2SettingsFrom({ userinfoEndpoint: 'https://api.example.com/me', accountClaim: 'a b' }, 'https://auth.example.com')).toThrow(/not a JSON member name/);
    expect(oauth2SettingsFrom({ ...HAND }, undefined)).toEqual({
      issuer: 'https://auth.example.com',
      settings: { metadata: { authorization_endpoint: HAND.authorizationEndpoint, token_endpoint: HAND.tokenEndpoint } },
    });
  });

  it('adds a hand-configured provider without a network request, shows it as oauth2, and stores nothing on bad input', async () => {
    const store = new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ fetch: () => Promise.reject(new Error('no network in this test')) });
    const summary = await addProvider(store, discovery, { name: 'tool', clientId: 'c1', oauth2: { ...HAND, userinfoEndpoint: 'https://api.example.com/me' } });
    expect(summary).toMatchObject({ protocol: 'oauth2', issuer: 'https://auth.example.com', scope: '', userinfoEndpoint: 'https://api.example.com/me', kind: 'user' });
    const before = JSON.stringify(store.read());
    await expect(addProvider(store, discovery, { name: 'bad', clientId: 'c1', scope: 'openid repo', oauth2: { ...HAND } })).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringContaining('drop "openid"'),
    });
    await expect(addProvider(store, discovery, { name: 'bad', clientId: 'c1', oauth2: { ...HAND, tokenEndpoint: 'http://auth.example.com/token' } })).rejects.toMatchObject({ code: 'usage' });
    expect(JSON.stringify(store.read())).toBe(before);
    expect(listProviders(store).map((p) => p.protocol)).toEqual(['oauth2']);
  });

  it('refuses a second copy of a provider under another name, after the checks of the input; keeps one that asks differently', async () => {
    const store = new MemoryStore(emptyVaultDocument());
    const discovery = new DiscoveryCache({ fetch: () => Promise.reject(new Error('no network in this test')) });
    await addProvider(store, discovery, { name: 'tool', clientId: 'c1', oauth2: { ...HAND } });
    const before = JSON.stringify(store.read());
    // A copy with a bad scope: the scope is what the person must fix, so that is what they hear.
    await expect(addProvider(store, discovery, { name: 'copy', clientId: 'c1', scope: 'openid', oauth2: { ...HAND } })).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('drop "openid"') });
    await expect(addProvider(store, discovery, { name: 'copy', clientId: 'c1', oauth2: { ...HAND } })).rejects.toMatchObject({
      code: 'already_exists',
      message: 'Provider "tool" is already https://auth.example.com with client id c1; use it, or remove it first.',
    });
    expect(JSON.stringify(store.read())).toBe(before);
    // One client, other settings: another scope, another account claim.
    await addProvider(store, discovery, { name: 'repos', clientId: 'c1', scope: 'repo', oauth2: { ...HAND } });
    await addProvider(store, discovery, { name: 'named', clientId: 'c1', oauth2: { ...HAND, userinfoEndpoint: 'https://api.example.com/me' } });
    expect(listProviders(store).map((p) => p.name)).toEqual(['tool', 'repos', 'named']);
    // Replacing a provider under its own name is not a copy of itself.
    await addProvider(store, discovery, { name: 'tool', clientId: 'c1', oauth2: { ...HAND }, replace: true });
  });

  it('asks for a name at sign-in exactly where no userinfo endpoint names the account', () => {
    const base = { name: 'p', issuer: 'https://a.example', clientId: 'c', scope: '', redirect: 'loopback', kind: 'user', createdAt: 0 } as const;
    expect(() => assertAccountNaming({ ...base, oauth2: {} }, undefined)).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringContaining('--account-name NAME') }));
    expect(() => assertAccountNaming({ ...base, oauth2: {} }, ' leading space')).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => assertAccountNaming({ ...base, oauth2: {} }, 'work')).not.toThrow();
    expect(() => assertAccountNaming({ ...base, oauth2: { userinfoEndpoint: 'https://a.example/me' } }, 'work')).toThrow(/userinfo endpoint names the account/);
    expect(() => assertAccountNaming(base, 'work')).toThrow(/ID token names the account/);
    expect(() => assertAccountNaming(base, undefined)).not.toThrow();
  });
});

describe('token endpoint errors sent with HTTP 200 (GitHub)', () => {
  const TOKEN = 'https://github.example/login/oauth/access_token';
  const answering = (status: number, body: unknown): oidc.CustomFetch => async () =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('become the 400 of RFC 6749 §5.2, keeping the body', async () => {
    const res = await readTokenErrorsAsErrors(TOKEN, answering(200, { error: 'authorization_pending', error_description: 'wait' }))(TOKEN, { method: 'POST' } as never);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'authorization_pending', error_description: 'wait' });
  });

  it('leave successes, other endpoints and real errors alone', async () => {
    const success = { access_token: 'gho_x', token_type: 'bearer', scope: '' };
    expect((await readTokenErrorsAsErrors(TOKEN, answering(200, success))(TOKEN, {} as never)).status).toBe(200);
    expect((await readTokenErrorsAsErrors(TOKEN, answering(200, { error: 'x' }))('https://api.github.example/user', {} as never)).status).toBe(200);
    expect((await readTokenErrorsAsErrors(TOKEN, answering(401, { error: 'invalid_client' }))(TOKEN, {} as never)).status).toBe(401);
  });
});

describe('the GitHub preset', () => {
  it('fills in github.com: web and device endpoints, /user keyed by login, no revocation, long-lived tokens', () => {
    const input = withGitHubPreset({ name: 'gh', clientId: 'Iv1.abc', clientSecret: 's' });
    expect(input).toEqual({
      name: 'gh',
      clientId: 'Iv1.abc',
      clientSecret: 's',
      issuer: 'https://github.com',
      oauth2: {
        authorizationEndpoint: 'https://github.com/login/oauth/authorize',
        tokenEndpoint: 'https://github.com/login/oauth/access_token',
        deviceAuthorizationEndpoint: 'https://github.com/login/device/code',
        userinfoEndpoint: 'https://api.github.com/user',
        accountClaim: 'login',
        assumedTokenLifetimeSeconds: GITHUB_TOKEN_LIFETIME_SECONDS,
        scopeDelimiter: ',',
      },
    });
  });

  it('follows a GitHub Enterprise Server host, and refuses hand-given endpoints or a service profile', () => {
    expect(withGitHubPreset({ name: 'ghe', clientId: 'c', issuer: 'https://github.example.com/' }).oauth2).toMatchObject({
      authorizationEndpoint: 'https://github.example.com/login/oauth/authorize',
      userinfoEndpoint: 'https://github.example.com/api/v3/user',
    });
    expect(() => withGitHubPreset({ name: 'gh', clientId: 'c', oauth2: { tokenEndpoint: 'https://x.example/t' } })).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => withGitHubPreset({ name: 'gh', clientId: 'c', service: true })).toThrow(expect.objectContaining({ code: 'usage' }));
  });
});
