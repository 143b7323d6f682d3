/**
 * The GitHub preset: GitHub speaks OAuth 2.0 without OpenID Connect, publishes
 * no RFC 8414 metadata, and names the signed-in user through its REST API.
 * From GitHub's documentation ("Authorizing OAuth apps", "Generating a user
 * access token for a GitHub App"):
 * - web flow at `/login/oauth/authorize` and `/login/oauth/access_token`
 *   (PKCE S256 accepted; the token request also needs the client secret);
 *   loopback redirect URIs may use any port;
 * - device flow at `/login/device/code`, once enabled in the app's settings;
 * - no refresh token unless the GitHub App opts into expiring user tokens;
 *   OAuth-app tokens carry no `expires_in` and do not expire (GitHub removes
 *   tokens unused for a year), hence {@link GITHUB_TOKEN_LIFETIME_SECONDS};
 * - no RFC 7009 revocation endpoint;
 * - granted scopes come back comma-separated (`"repo,gist"`);
 * - the user is `GET https://api.github.com/user` (`/api/v3/user` on GitHub
 *   Enterprise Server), keyed by `login`.
 * Token endpoint errors come with HTTP 200; oauth2-configuration.ts reads them
 * as errors for every plain OAuth 2.0 provider. Sign-in runs the engine's
 * ordinary flows (sign-in/): what is GitHub's own is this configuration only.
 */
import { LatchkeyError } from '../errors.js';
import type { AddProviderInput } from './provider-registry.js';

export const GITHUB_ISSUER = 'https://github.com';
/** GitHub removes OAuth-app tokens that were not used for a year. */
export const GITHUB_TOKEN_LIFETIME_SECONDS = 365 * 86_400;

/**
 * Fills in what GitHub needs. `issuer` may name a GitHub Enterprise Server
 * (`https://github.example.com`); endpoints cannot be given by hand with it.
 */
export function withGitHubPreset(input: AddProviderInput): AddProviderInput {
  const given = input.oauth2 ?? {};
  if (given.authorizationEndpoint || given.tokenEndpoint || given.deviceAuthorizationEndpoint || given.revocationEndpoint || given.userinfoEndpoint || given.accountClaim) {
    throw new LatchkeyError('usage', '--preset github fills in the endpoints; for GitHub Enterprise Server give only --issuer https://YOUR-HOST.');
  }
  if (input.service) throw new LatchkeyError('usage', 'GitHub has no client credentials grant for OAuth apps; --service does not apply.');
  const issuer = new URL(input.issuer ?? GITHUB_ISSUER).origin;
  const api = issuer === GITHUB_ISSUER ? 'https://api.github.com' : `${issuer}/api/v3`;
  return {
    ...input,
    issuer,
    oauth2: {
      authorizationEndpoint: `${issuer}/login/oauth/authorize`,
      tokenEndpoint: `${issuer}/login/oauth/access_token`,
      deviceAuthorizationEndpoint: `${issuer}/login/device/code`,
      userinfoEndpoint: `${api}/user`,
      accountClaim: 'login',
      assumedTokenLifetimeSeconds: GITHUB_TOKEN_LIFETIME_SECONDS,
      scopeDelimiter: ',',
    },
  };
}
