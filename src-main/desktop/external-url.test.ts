import { describe, expect, it } from 'vitest';
import { gatedBrowserLauncher, isAllowedAuthorizationUrl } from './external-url.js';

const endpoint = 'https://login.example.com/oauth2/authorize';
const good = `${endpoint}?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&state=s&code_challenge=x&code_challenge_method=S256`;

describe('isAllowedAuthorizationUrl', () => {
  it('allows an authorization request to a configured endpoint, and loopback http for the demo', () => {
    expect(isAllowedAuthorizationUrl(good, [endpoint])).toBe(true);
    const demo = 'http://127.0.0.1:9555/auth';
    expect(isAllowedAuthorizationUrl(`${demo}?client_id=c&redirect_uri=r&state=s&code_challenge=x`, [demo])).toBe(true);
  });

  it.each([
    ['another path at the provider', good.replace('/authorize', '/logout')],
    ['another host', good.replace('login.example.com', 'login.example.com.evil.test')],
    ['plain http off loopback', good.replace('https:', 'http:')],
    ['a file URL', 'file:///etc/passwd'],
    ['a custom scheme', 'dev.latchkey.app:/callback?state=s'],
    ['credentials in the URL', good.replace('https://', 'https://user:pw@')],
    ['no PKCE challenge', good.replace('&code_challenge=x', '')],
    ['no state', good.replace('&state=s', '')],
    ['not a URL', 'not a url'],
  ])('refuses %s', (_what, url) => {
    expect(isAllowedAuthorizationUrl(url, [endpoint])).toBe(false);
  });

  it('refuses everything when no provider is configured', () => {
    expect(isAllowedAuthorizationUrl(good, [])).toBe(false);
  });
});

describe('gatedBrowserLauncher', () => {
  it('opens allowed URLs and refuses the rest without opening anything', async () => {
    const opened: string[] = [];
    const launcher = gatedBrowserLauncher(async (u) => void opened.push(u), async () => [endpoint]);
    await launcher.open(good);
    await expect(launcher.open('https://evil.test/?client_id=c&redirect_uri=r&state=s&code_challenge=x')).rejects.toMatchObject({ code: 'usage' });
    expect(opened).toEqual([good]);
  });
});
