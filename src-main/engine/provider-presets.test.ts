/** Presets turn a name and a few options into a provider, and refuse what the provider would refuse later. */
import { describe, expect, it } from 'vitest';
import { applyPreset, PRESET_NAMES, PROVIDER_PRESETS } from './provider-presets.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('provider presets', () => {
  it('build each provider from its documented issuer, scope and parameters', () => {
    const base = { name: 'p', clientId: 'client' };
    expect(applyPreset({ ...base, preset: 'google', clientSecret: 's', options: {} })).toEqual({
      ...base,
      clientSecret: 's',
      issuer: 'https://accounts.google.com',
      scope: 'openid email profile',
      authorizationParams: { access_type: 'offline' },
      refreshWithoutConsent: false,
      preset: 'google',
    });
    expect(applyPreset({ ...base, preset: 'microsoft', options: { tenant: TENANT.toUpperCase() } })).toMatchObject({
      issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`,
      scope: 'openid profile email offline_access',
      refreshWithoutConsent: true,
    });
    expect(applyPreset({ ...base, preset: 'okta', options: { domain: 'dev-1.okta.com' } }).issuer).toBe('https://dev-1.okta.com/oauth2/default');
    expect(applyPreset({ ...base, preset: 'okta', options: { domain: 'dev-1.okta.com', authorizationServer: 'aus1abc' } }).issuer).toBe('https://dev-1.okta.com/oauth2/aus1abc');
    expect(applyPreset({ ...base, preset: 'okta', options: { domain: 'dev-1.okta.com', authorizationServer: 'org' } }).issuer).toBe('https://dev-1.okta.com');
    expect(applyPreset({ ...base, preset: 'auth0', options: { domain: 'acme.eu.auth0.com', audience: 'https://api.acme.test' } })).toMatchObject({
      issuer: 'https://acme.eu.auth0.com/',
      authorizationParams: { audience: 'https://api.acme.test' },
    });
    expect(applyPreset({ ...base, preset: 'auth0', options: { domain: 'acme.auth0.com' } })).not.toHaveProperty('authorizationParams');
    expect(applyPreset({ ...base, preset: 'keycloak', options: { baseUrl: 'https://sso.acme.test/', realm: 'dev' } })).toMatchObject({
      issuer: 'https://sso.acme.test/realms/dev',
      scope: 'openid profile email offline_access',
    });
    expect(applyPreset({ ...base, preset: 'gitlab', options: {} })).toMatchObject({ issuer: 'https://gitlab.com', scope: 'openid profile email' });
    expect(applyPreset({ ...base, preset: 'gitlab', options: { baseUrl: 'https://git.acme.test' } }).issuer).toBe('https://git.acme.test');
    // --scope and --issuer replace the preset's; everything else stays.
    expect(applyPreset({ ...base, preset: 'keycloak', scope: 'openid', issuer: 'http://127.0.0.1:1/realms/x', options: { baseUrl: 'https://sso.acme.test', realm: 'x' } })).toMatchObject({
      issuer: 'http://127.0.0.1:1/realms/x',
      scope: 'openid',
      preset: 'keycloak',
    });
    for (const name of PRESET_NAMES) expect(PROVIDER_PRESETS[name].docs).toMatch(/^https:\/\//);
  });

  it.each([
    ['microsoft', {}, /--preset microsoft needs --tenant/],
    ['microsoft', { tenant: 'common' }, /not a Directory \(tenant\) ID.*"common"/],
    ['microsoft', { tenant: 'contoso.onmicrosoft.com' }, /not a Directory \(tenant\) ID/],
    ['okta', {}, /needs --domain/],
    ['okta', { domain: 'https://dev-1.okta.com' }, /not a host name/],
    ['okta', { domain: 'dev-1.okta.com', authorizationServer: '../admin' }, /not an authorization server id/],
    ['auth0', { domain: 'acme.auth0.com', tenant: TENANT }, /--tenant does not apply to --preset auth0; it takes --domain, --audience/],
    ['keycloak', { baseUrl: 'https://sso.acme.test' }, /needs --realm/],
    ['keycloak', { baseUrl: 'http://sso.acme.test', realm: 'dev' }, /must be an https URL/],
    ['keycloak', { baseUrl: 'https://sso.acme.test', realm: 'a/b' }, /not a realm name/],
    ['keycloak', { baseUrl: 'https://sso.acme.test', realm: '..' }, /not a realm name/],
    ['gitlab', { audience: 'x' }, /--audience does not apply to --preset gitlab; it takes --base-url/],
    ['google', { domain: 'x.test' }, /--domain does not apply to --preset google\./],
  ] as const)('%s with %j is a usage error', (preset, options, message) => {
    expect(() => applyPreset({ name: 'p', clientId: 'c', clientSecret: 's', preset, options })).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringMatching(message) }));
  });

  it('Google needs its installed-app client secret', () => {
    expect(() => applyPreset({ name: 'p', clientId: 'c', preset: 'google', options: {} })).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringMatching(/client secret.*--client-secret -/) }));
  });

  it('Microsoft Entra ID gets scopes for one resource per request', () => {
    const entra = (scope: string) => () => applyPreset({ name: 'p', clientId: 'c', preset: 'microsoft', scope, options: { tenant: TENANT } });
    expect(entra('openid profile offline_access api://1234/.default')).not.toThrow();
    expect(entra('openid offline_access User.Read https://graph.microsoft.com/Mail.Read')).not.toThrow();
    expect(entra('openid offline_access api://1234/.default User.Read')).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringMatching(/one resource per request.*graph.*api:\/\/1234/) }));
  });
});

describe('fixed authorization parameters', () => {
  it('may not replace what the engine sets for each sign-in (state, nonce, PKCE, prompt …); nothing is saved', async () => {
    const { addProvider } = await import('./provider-registry.js');
    const { DiscoveryCache } = await import('./discovery.js');
    const { emptyVaultDocument } = await import('../store/vault-document.js');
    const { MemoryStore } = await import('../testing/memory-store.js');
    const store = new MemoryStore(emptyVaultDocument());
    for (const name of ['state', 'nonce', 'code_challenge', 'redirect_uri', 'prompt', 'scope']) {
      await expect(addProvider(store, new DiscoveryCache(), { name: 'p', issuer: 'https://op.example', clientId: 'c', authorizationParams: { [name]: 'fixed' } })).rejects.toMatchObject({
        code: 'usage',
        message: expect.stringMatching(new RegExp(`"${name}" is set by Latchkey`)),
      });
    }
    expect(store.read().providers).toEqual([]);
  });
});
