/**
 * openid-client, loaded on first use. Only talking to a provider needs it
 * (discovery, sign-in, refresh, revocation, userinfo); the agent's start and
 * its cached-token path do not, and openid-client with oauth4webapi is some
 * 80 KB of the agent bundle to compile and evaluate at start (issue 10). Every
 * `oidc.Configuration` comes from {@link DiscoveryCache} after this has
 * loaded, so later callers find the promise settled. Modules that use it keep
 * `import type * as oidc from 'openid-client'` for the types only.
 */
import type * as Openid from 'openid-client';

let loading: Promise<typeof Openid> | undefined;

export function openidClient(): Promise<typeof Openid> {
  return (loading ??= import('openid-client'));
}
