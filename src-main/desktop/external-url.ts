/**
 * Which URLs the desktop app may hand to the system browser
 * (`shell.openExternal`): only authorization requests the engine built for a
 * configured provider.
 *
 * What it enforces:
 * - https, or http on loopback (the demo provider, RFC 8252 §8.3);
 * - the URL's origin and path are exactly a configured provider's
 *   `authorization_endpoint` (from discovery), so a compromised renderer or
 *   a hostile provider record cannot make the app open `file:`, a custom
 *   scheme or some other page;
 * - it carries the `client_id`, `redirect_uri`, `state` and PKCE
 *   `code_challenge` an authorization request from the engine always has.
 */
import { LatchkeyError } from '../errors.js';
import { isLoopbackUrl } from '../engine/discovery.js';
import type { BrowserLauncher } from '../engine/browser-launcher.js';

const REQUIRED_PARAMS = ['client_id', 'redirect_uri', 'state', 'code_challenge'] as const;

export function isAllowedAuthorizationUrl(raw: string, authorizationEndpoints: readonly string[]): boolean {
  const url = URL.parse(raw);
  if (!url) return false;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) return false;
  if (url.username || url.password || url.hash) return false;
  const target = `${url.origin}${url.pathname}`;
  const known = authorizationEndpoints.some((e) => {
    const endpoint = URL.parse(e);
    return endpoint !== null && `${endpoint.origin}${endpoint.pathname}` === target;
  });
  return known && REQUIRED_PARAMS.every((p) => url.searchParams.get(p));
}

/**
 * A BrowserLauncher that opens only allowed authorization URLs with `open`
 * (Electron's `shell.openExternal`); anything else is refused with `usage`.
 */
export function gatedBrowserLauncher(open: (url: string) => Promise<void>, authorizationEndpoints: () => Promise<string[]>): BrowserLauncher {
  return {
    async open(url) {
      if (!isAllowedAuthorizationUrl(url, await authorizationEndpoints())) {
        throw new LatchkeyError('usage', 'Refusing to open a URL that is not an authorization request for a configured provider.');
      }
      await open(url);
    },
  };
}
