/**
 * Test-only: a plain OAuth 2.0 authorization server, the way GitHub and many
 * developer services look to a client. It is the demo provider's
 * `oidc-provider` with one more client, registered without `openid` among its
 * scopes, so it never gets an ID token. oidc-provider (v9) serves its RFC 8414
 * metadata at `/.well-known/oauth-authorization-server` itself, next to
 * `openid-configuration`. Added is what such servers have besides:
 * - a GitHub-style "who am I" API at `/user` (`{ login, id, name, email }`,
 *   `401 Bad credentials` without a valid access token), and at
 *   `/user-garbage` one that answers 200 with an HTML page, as a misconfigured
 *   URL would.
 * Deviations that can be asked for, each reproducing real servers:
 * `layout: 'github'` (GitHub's paths, client secret and quirks: token errors
 * with HTTP 200 where RFC 6749 §5.2 says 400, comma-separated scopes) and
 * `withoutRfc8414Metadata` (servers that publish only OpenID discovery).
 * Everything else is the demo provider's configuration.
 */
import { createHash } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { startDemoProvider, type DemoProvider, type DemoProviderOptions } from '../demo/demo-provider.js';
import { DEFAULT_SCHEME_REDIRECT_URI } from '../engine/callback/scheme-receiver.js';

export const OAUTH2_CLIENT_ID = 'latchkey-oauth2';
/**
 * The scopes the plain OAuth 2.0 client may ask for: no `openid`. oidc-provider
 * refuses a request that ends with no scope granted (GitHub does not), so a
 * sign-in asks for at least one of these.
 */
export const OAUTH2_CLIENT_SCOPE = 'email offline_access';

export interface OAuth2ProviderOptions extends Pick<DemoProviderOptions, 'logger' | 'accessTokenTtl' | 'devicePollInterval'> {
  /**
   * `github`: laid out like GitHub (Enterprise Server) for the GitHub preset:
   * its endpoint paths, the user API at `/api/v3/user`, token errors with
   * HTTP 200, granted scopes comma-separated, and a confidential client
   * ({@link GITHUB_LIKE_CLIENT_SECRET}, sent in the body) as GitHub's web
   * flow needs.
   */
  layout?: 'github';
  /** Serve no RFC 8414 metadata, only OpenID discovery. */
  withoutRfc8414Metadata?: boolean;
}

export interface OAuth2Provider extends DemoProvider {
  /** The GitHub-style user API (`/user`, or `/api/v3/user` in the GitHub layout). */
  userEndpoint: string;
  /** A "user API" that answers 200 with an HTML page. */
  garbageUserEndpoint: string;
}

/** Test only, like the demo's service secret. */
export const GITHUB_LIKE_CLIENT_SECRET = 'github-like-secret-not-for-production';
/** GitHub's paths (docs: "Authorizing OAuth apps"). */
const GITHUB_ROUTES = {
  authorization: '/login/oauth/authorize',
  token: '/login/oauth/access_token',
  device_authorization: '/login/device/code',
  code_verification: '/login/device',
};

type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<unknown>;

export async function startOAuth2Provider(options: OAuth2ProviderOptions = {}): Promise<OAuth2Provider> {
  let demo: DemoProvider | undefined;
  const github = options.layout === 'github';
  const userPath = github ? '/api/v3/user' : '/user';
  const middleware: Middleware[] = [(ctx, next) => userApi(ctx, next, demo!, userPath)];
  if (github) middleware.push(tokenErrorsWithStatus200, commaSeparatedScope);
  if (options.withoutRfc8414Metadata) middleware.push(withoutRfc8414Metadata);
  const { logger, accessTokenTtl, devicePollInterval } = options;
  demo = await startDemoProvider({
    ...(logger ? { logger } : {}),
    ...(accessTokenTtl ? { accessTokenTtl } : {}),
    ...(devicePollInterval ? { devicePollInterval } : {}),
    clients: [
      {
        client_id: OAUTH2_CLIENT_ID,
        client_name: 'Latchkey (plain OAuth 2.0)',
        application_type: 'native',
        ...(github ? { client_secret: GITHUB_LIKE_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post' } : { token_endpoint_auth_method: 'none' }),
        redirect_uris: ['http://127.0.0.1/callback', DEFAULT_SCHEME_REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        scope: OAUTH2_CLIENT_SCOPE,
      },
    ],
    middleware,
    ...(github ? { routes: GITHUB_ROUTES } : {}),
  });
  return { ...demo, userEndpoint: `${demo.issuer}${userPath}`, garbageUserEndpoint: `${demo.issuer}/user-garbage` };
}

async function userApi(ctx: KoaContextWithOIDC, next: () => Promise<unknown>, demo: DemoProvider, userPath: string): Promise<unknown> {
  if (ctx.method !== 'GET' || (ctx.path !== userPath && ctx.path !== '/user-garbage')) return next();
  if (ctx.path === '/user-garbage') {
    ctx.type = 'html';
    ctx.body = '<!DOCTYPE html><html><body>Welcome! Please sign in.</body></html>';
    return;
  }
  const bearer = /^Bearer (\S+)$/i.exec(ctx.get('authorization'))?.[1];
  const token = bearer ? await demo.provider.AccessToken.find(bearer) : undefined;
  if (!token?.accountId || token.isExpired) {
    ctx.status = 401;
    ctx.body = { message: 'Bad credentials' };
    return;
  }
  const login = token.accountId;
  // GitHub's numeric user id; here a stable number derived from the login.
  const id = createHash('sha256').update(login).digest().readUInt32BE(0);
  ctx.body = { login, id, name: login.charAt(0).toUpperCase() + login.slice(1), email: `${login}@oauth2.latchkey.test`, avatar_url: null };
}

/** GitHub's quirk: token endpoint errors (e.g. `authorization_pending` while polling) come with HTTP 200. */
const tokenErrorsWithStatus200: Middleware = async (ctx, next) => {
  await next();
  const body = ctx.body as { error?: unknown } | undefined;
  if (ctx.oidc?.route === 'token' && ctx.status === 400 && typeof body?.error === 'string') ctx.status = 200;
};

const withoutRfc8414Metadata: Middleware = async (ctx, next) => {
  if (ctx.path === '/.well-known/oauth-authorization-server') ctx.status = 404;
  else await next();
};

/** GitHub's quirk: the granted `scope` of a token response is comma-separated. */
const commaSeparatedScope: Middleware = async (ctx, next) => {
  await next();
  const body = ctx.body as { access_token?: unknown; scope?: unknown } | undefined;
  if (ctx.oidc?.route === 'token' && typeof body?.access_token === 'string' && typeof body.scope === 'string') body.scope = body.scope.split(' ').join(',');
};
