/**
 * How the test servers standing in for git hosts, registries and clusters
 * decide whether a token is good: they ask the demo provider (RFC 7662 token
 * introspection, as the confidential service client, with openid-client), as
 * a real resource server would. Every token they were shown is remembered, so
 * tests can check which one a tool sent.
 */
import * as oidc from 'openid-client';
import { DEMO_SERVICE_CLIENT_ID, DEMO_SERVICE_CLIENT_SECRET, type DemoProvider } from '../demo/demo-provider.js';

export interface TokenChecker {
  isActive(token: string): Promise<boolean>;
  /** Every token presented, oldest first. */
  seen: string[];
}

/** `demo` is the provider itself, or just its issuer (a demo run by a CLI-started agent). */
export async function tokenChecker(demo: Pick<DemoProvider, 'issuer'>): Promise<TokenChecker> {
  // The demo runs on http://127.0.0.1; openid-client refuses plain http unless told.
  const config = await oidc.discovery(new URL(demo.issuer), DEMO_SERVICE_CLIENT_ID, DEMO_SERVICE_CLIENT_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  const seen: string[] = [];
  return {
    seen,
    async isActive(token) {
      seen.push(token);
      return (await oidc.tokenIntrospection(config, token)).active === true;
    },
  };
}

/** The token of an `Authorization: Bearer …` or `Basic` (user:token) header. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme, value] = authorization.split(' ', 2);
  if (!value) return undefined;
  if (/^bearer$/i.test(scheme!)) return value;
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}
