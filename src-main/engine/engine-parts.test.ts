import { describe, expect, it } from 'vitest';
import { isSubsetScope, isValidScope, normaliseScope } from './scope.js';
import { KeyedMutex, SingleFlight } from './single-flight.js';
import { accountIdFor, selectAccount } from './accounts.js';
import { browserAvailable, browserCommand } from './browser-launcher.js';
import { clientSecretAuth } from './discovery.js';
import { findFittingToken, upsertToken, MAX_TOKENS_PER_ACCOUNT } from './token-cache.js';
import { emptyVaultDocument, type AccessTokenRecord, type AccountRecord } from '../store/vault-document.js';

describe('scope sets', () => {
  it('normalises order and duplicates and checks subsets', () => {
    expect(normaliseScope(' profile openid  profile ')).toBe('openid profile');
    expect(isSubsetScope('openid', 'openid profile')).toBe(true);
    expect(isSubsetScope('openid admin', 'openid profile')).toBe(false);
    expect(isValidScope('openid "x"')).toBe(false);
    expect(isValidScope('')).toBe(false);
  });
});

describe('single flight and per-account mutex', () => {
  it('shares one run among concurrent identical calls', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    const task = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      return 42;
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => flights.run('k', task)));
    expect(runs).toBe(1);
    expect(new Set(results)).toEqual(new Set([42]));
    expect(flights.size).toBe(0);
  });

  it('runs tasks of one key strictly one after another, even when one fails', async () => {
    const mutex = new KeyedMutex();
    let active = 0;
    let maxActive = 0;
    const task = (fail: boolean) => async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
      if (fail) throw new Error('boom');
      return 1;
    };
    const all = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => mutex.lock('a', task(i % 3 === 0))));
    expect(maxActive).toBe(1);
    expect(all.filter((r) => r.status === 'rejected')).toHaveLength(7);
  });
});

describe('account selection', () => {
  const account = (provider: string, sub: string, email: string): AccountRecord => ({
    id: accountIdFor(provider, `https://${provider}.example`, sub),
    provider,
    subject: sub,
    claims: { email },
    status: 'active',
    scope: 'openid',
    tokens: [],
    createdAt: 0,
    updatedAt: 0,
  });
  const doc = emptyVaultDocument();
  doc.providers = ['a', 'b'].map((name) => ({ name, issuer: `https://${name}.example`, clientId: 'c', scope: 'openid', redirect: 'loopback' as const, kind: 'user' as const, createdAt: 0 }));
  doc.accounts = [account('a', 'alice', 'alice@x'), account('a', 'bob', 'bob@x'), account('b', 'alice', 'alice@y')];

  it('ids are stable, provider-prefixed and do not reveal the subject', () => {
    expect(accountIdFor('a', 'https://a.example', 'alice')).toBe(doc.accounts[0]!.id);
    expect(doc.accounts[0]!.id).toMatch(/^a-[0-9a-f]{10}$/);
    expect(doc.accounts[0]!.id).not.toContain('alice');
  });

  it('selects by id, email or provider and explains ambiguity and absence', () => {
    expect(selectAccount(doc, { account: 'bob@x' }).subject).toBe('bob');
    expect(selectAccount(doc, { provider: 'b' }).claims.email).toBe('alice@y');
    expect(() => selectAccount(doc, { provider: 'a' })).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringContaining('--account') }));
    expect(() => selectAccount(doc, { provider: 'zzz' })).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => selectAccount(doc, { account: 'nobody' })).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => selectAccount(emptyVaultDocument(), {})).toThrow(expect.objectContaining({ code: 'login_required' }));
  });
});

describe('token cache', () => {
  it('only returns a token for the same scope/resource/app with enough life left, and stays bounded', () => {
    const now = 1_000_000;
    const t = { accessToken: 'x', tokenType: 'Bearer', scope: 'openid', expiresAt: now + 120_000, obtainedAt: now };
    expect(findFittingToken([t], { scope: 'openid' }, now, 60_000)).toBe(t);
    expect(findFittingToken([t], { scope: 'openid' }, now, 180_000, true)).toBeUndefined();
    // A default minimum above half the token's lifetime counts as half its lifetime; an explicit one (exact) as given.
    expect(findFittingToken([t], { scope: 'openid' }, now, 180_000)).toBe(t);
    expect(findFittingToken([t], { scope: 'openid' }, now + 60_000, 180_000)).toBe(t);
    expect(findFittingToken([t], { scope: 'openid' }, now + 60_001, 180_000)).toBeUndefined();
    expect(findFittingToken([t], { scope: 'openid' }, now + 60_001, 30_000)).toBe(t);
    expect(findFittingToken([t], { scope: 'openid', tokenOwner: 'app' }, now, 0)).toBeUndefined();
    expect(findFittingToken([t], { scope: 'openid', resource: 'https://api' }, now, 0)).toBeUndefined();
    // An app's token (its owner stored as the record's appId) is found by its owner in a frozen, bucketed list, and only by it.
    const appToken = { ...t, appId: 'com.example.tool SHA256:abc' };
    const frozen = Object.freeze([t, appToken]);
    expect(findFittingToken(frozen, { scope: 'openid', tokenOwner: 'com.example.tool SHA256:abc' }, now, 0)).toBe(appToken);
    expect(findFittingToken(frozen, { scope: 'openid' }, now, 0)).toBe(t);
    expect(findFittingToken(frozen, { scope: 'openid', tokenOwner: 'com.example.tool SHA256:other' }, now, 0)).toBeUndefined();
    // A new app token replaces that app's old one, never the person's own token for the same scope.
    const renewed = { ...appToken, accessToken: 'y' };
    expect(upsertToken(frozen, renewed)).toEqual([renewed, t]);
    expect(upsertToken([t, appToken], { ...t, accessToken: 'z' })).toEqual([{ ...t, accessToken: 'z' }, appToken]);
    let list: AccessTokenRecord[] = [t];
    for (let i = 0; i < 100; i++) list = upsertToken(list, { ...t, scope: `s${i}` });
    expect(list).toHaveLength(MAX_TOKENS_PER_ACCOUNT);
  });
});

describe('browser command', () => {
  const url = 'https://idp.example/auth?a=1&b=2;rm -rf';
  it('passes the URL as a single argument, never through a shell', () => {
    expect(browserCommand(url, {}, 'linux')).toEqual(['xdg-open', url]);
    expect(browserCommand(url, {}, 'darwin')).toEqual(['open', url]);
    expect(browserCommand(url, {}, 'win32')).toEqual(['rundll32', 'url.dll,FileProtocolHandler', url]);
    expect(browserCommand(url, { BROWSER: 'firefox --new-window' }, 'linux')).toEqual(['firefox', '--new-window', url]);
    expect(browserCommand(url, { BROWSER: 'w3m %s' }, 'linux')).toEqual(['w3m', url]);
  });

  it('knows there is no browser to open on Linux without a display or $BROWSER (SSH, containers)', () => {
    expect(browserAvailable({}, 'linux')).toBe(false);
    expect(browserAvailable({ BROWSER: ' ' }, 'linux')).toBe(false);
    expect(browserAvailable({ DISPLAY: ':0' }, 'linux')).toBe(true);
    expect(browserAvailable({ WAYLAND_DISPLAY: 'wayland-0' }, 'freebsd')).toBe(true);
    expect(browserAvailable({ BROWSER: 'w3m' }, 'linux')).toBe(true);
    expect(browserAvailable({}, 'darwin')).toBe(true);
    expect(browserAvailable({}, 'win32')).toBe(true);
  });
});

describe('client secret authentication', () => {
  const authFor = async (methods: string[] | undefined) => {
    const body = new URLSearchParams();
    const headers = new Headers();
    const as = { issuer: 'https://op.example', ...(methods ? { token_endpoint_auth_methods_supported: methods } : {}) };
    await clientSecretAuth('s3cret')(as, { client_id: 'svc' }, body, headers);
    return { authorization: headers.get('authorization'), secretInBody: body.get('client_secret') };
  };

  it('uses HTTP Basic, which every provider must accept (RFC 6749 §2.3.1), unless the provider lists only the POST body', async () => {
    const basic = `Basic ${Buffer.from('svc:s3cret').toString('base64')}`;
    expect(await authFor(undefined)).toEqual({ authorization: basic, secretInBody: null });
    expect(await authFor(['client_secret_basic', 'client_secret_post'])).toEqual({ authorization: basic, secretInBody: null });
    expect(await authFor(['client_secret_post', 'none'])).toEqual({ authorization: null, secretInBody: 's3cret' });
  });

  it('form-encodes Basic credentials (RFC 6749 §2.3.1) but leaves unreserved "-", "." and "_" as they are', async () => {
    const headers = new Headers();
    await clientSecretAuth('a-b.c_d:e f')({ issuer: 'https://op.example' }, { client_id: 'svc-1' }, new URLSearchParams(), headers);
    const [id, secret] = Buffer.from(headers.get('authorization')!.replace(/^Basic /, ''), 'base64').toString().split(':');
    expect(id).toBe('svc-1');
    expect(secret).toBe('a-b.c_d%3Ae+f');
  });
});
