import { describe, expect, it } from 'vitest';
import { APP_PARAMS } from './app-contract.js';
import { ADMIN_PARAMS } from './owner-contract.js';
import { fromWireTokenRequest, toWireToken, toWireTokenRequest } from './wire-token.js';

describe('fromWireTokenRequest', () => {
  it('reads every field of a token request, seconds staying seconds', () => {
    const params = { provider: 'work', account: 'a@example.com', scope: 'openid api:read', resource: 'https://api.example.com/', min_ttl: 60, max_age: 0 };
    expect(fromWireTokenRequest(params)).toEqual({ provider: 'work', account: 'a@example.com', scope: 'openid api:read', resource: 'https://api.example.com/', minTtl: 60, maxAge: 0 });
  });

  it('leaves out what was not asked, and never carries the app owner tag', () => {
    expect(fromWireTokenRequest({})).toEqual({});
    const fromOwner = ADMIN_PARAMS['admin.token'].parse({ scope: 'openid', client: 'git', target: 'example.com' });
    expect(fromWireTokenRequest(fromOwner)).toEqual({ scope: 'openid' });
  });
});

describe('the token request schemas of apps and owner', () => {
  const app = APP_PARAMS['tokens.get'];
  const owner = ADMIN_PARAMS['admin.token'];

  it('share their field limits', () => {
    for (const bad of [{ provider: 'p'.repeat(65) }, { account: '' }, { scope: ' ' }, { min_ttl: -1 }, { max_age: 1.5 }, { unknown: 1 }]) {
      expect(app.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
      expect(owner.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('refuse a resource with a fragment from apps (RFC 8707 §2) but keep the owner on the URL check it always had', () => {
    expect(app.safeParse({ resource: 'https://api.example.com/#x' }).success).toBe(false);
    expect(owner.safeParse({ resource: 'https://api.example.com/#x' }).success).toBe(true);
    expect(owner.safeParse({ resource: 'not a url' }).success).toBe(false);
  });
});

describe('toWireToken', () => {
  it('writes snake_case with expires_at in epoch seconds (rounded down), and nothing the result lacks', () => {
    const wire = toWireToken({ accessToken: 'at', tokenType: 'Bearer', scope: 'openid', expiresAtMs: 1_700_000_000_999, account: 'acc-1' });
    expect(JSON.stringify(wire)).toBe('{"access_token":"at","token_type":"Bearer","scope":"openid","expires_at":1700000000,"account":"acc-1"}');
    expect(toWireToken({ accessToken: 'at', tokenType: 'Bearer', scope: '' })).toEqual({ access_token: 'at', token_type: 'Bearer', scope: '' });
  });

  it('never passes on a warning meant for the person', () => {
    expect(toWireToken({ accessToken: 'at', tokenType: 'Bearer', scope: 's', warning: 'could not refresh' })).not.toHaveProperty('warning');
  });
});

describe('toWireTokenRequest', () => {
  it('writes what fromWireTokenRequest reads back unchanged, and leaves out what was not asked', () => {
    const asked = { provider: 'work', account: 'alice@example.com', scope: 'openid api:read', resource: 'https://api.example.com', minTtl: 0, maxAge: 300 };
    const wire = toWireTokenRequest(asked);
    expect(wire).toEqual({ provider: 'work', account: 'alice@example.com', scope: 'openid api:read', resource: 'https://api.example.com', min_ttl: 0, max_age: 300 });
    expect(fromWireTokenRequest(APP_PARAMS['tokens.get'].parse(wire))).toEqual(asked);
    expect(toWireTokenRequest({})).toEqual({});
  });
});
