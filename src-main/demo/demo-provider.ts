/**
 * The built-in demo OpenID Provider: the certified `oidc-provider` on
 * 127.0.0.1, with its development login and consent pages (any login name and
 * any password are accepted), a public native client for Latchkey and a
 * confidential service client. `latchkey demo` runs it inside the agent; the
 * tests use it as their real provider.
 *
 * What it enforces, on purpose, like a strict real provider:
 * - PKCE with S256 on every authorization request (RFC 7636, RFC 9700 §2.1.1);
 * - exact redirect URIs, except the loopback port of native clients (RFC 8252 §7.3);
 * - `iss` in every authorization response (RFC 9207);
 * - refresh token rotation with reuse detection (RFC 9700 §4.14.2);
 * - resource indicators under {@link DEMO_API_RESOURCE} only (RFC 8707).
 *
 * Refresh tokens follow the library's defaults: only for `offline_access`,
 * which a browser sign-in keeps only with `prompt=consent` (OIDC Core §11), and
 * tokens without `offline_access` end with the provider session.
 *
 * What it relaxes for the demo: no password check. Only ever bound to the
 * loopback interface, because it accepts any password.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  ClientMetadata,
  Configuration,
  ErrorOut,
  JWK,
  JWKS,
  KoaContextWithOIDC,
  default as Provider,
} from 'oidc-provider';
import { DEFAULT_SCHEME_REDIRECT_URI } from '../engine/callback/scheme-receiver.js';
import { createLogger, type Logger } from '../log/logger.js';

export const DEMO_CLIENT_ID = 'latchkey-demo';
export const DEMO_SERVICE_CLIENT_ID = 'latchkey-service';
/**
 * Demo only: the service client's secret is public knowledge, like the
 * provider's "any password works" rule. Never reuse it anywhere real.
 */
export const DEMO_SERVICE_CLIENT_SECRET = 'demo-service-secret-not-for-production';
/** The example API protected by the demo provider, and the default audience for its scopes (RFC 8707). */
export const DEMO_API_RESOURCE = 'https://api.demo.latchkey.test/';
export const DEMO_API_SCOPES: readonly string[] = ['api:read', 'api:write'];
export const DEMO_USER_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];
/** Registered loopback redirect; any port is accepted at run time (RFC 8252 §7.3). */
export const DEMO_LOOPBACK_REDIRECT_URI = 'http://127.0.0.1/callback';

export interface DemoProviderOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Access token lifetime in seconds (default 3600). Whole seconds, at least 1. */
  accessTokenTtl?: number;
  /** ID token lifetime in seconds (default 3600). */
  idTokenTtl?: number;
  /** Refresh token lifetime in seconds (default 14 days). */
  refreshTokenTtl?: number;
  /** Rotate refresh tokens on every use (default true); reusing a rotated one revokes the grant. */
  rotateRefreshTokens?: boolean;
  /**
   * Seconds a device flow client should wait between polls, sent as `interval`
   * (RFC 8628 §3.2; default 5, the RFC's default). Tests use 1.
   */
  devicePollInterval?: number;
  /** Extra clients, registered next to the two default ones. */
  clients?: ClientMetadata[];
  /** Offer RFC 7009 revocation (default true); false is oidc-provider's own default, and Microsoft Entra ID's. */
  revocation?: boolean;
  /**
   * Authorization parameters beyond the standard ones, with an optional
   * validator each (oidc-provider `extraParams`): tests reproduce providers
   * that need one, e.g. Auth0's `audience`.
   */
  extraParams?: Configuration['extraParams'];
  /**
   * Koa middleware run before oidc-provider's own (it must be given here: the
   * server composes the middleware once, at start). Tests use it to reproduce
   * how another provider reads a request (e.g. Google's `access_type`) or to add
   * what a real server has besides (an API, another metadata document).
   */
  middleware?: Array<(ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => Promise<unknown>>;
  /** Endpoint paths other than oidc-provider's defaults, to lay a test server out like a real one. */
  routes?: Configuration['routes'];
  /** Private signing keys; default a fresh RSA key per start. Pass the same set to keep ID tokens verifiable across restarts. */
  jwks?: JWKS;
  /** Where provider errors and development notices go; default a redacting logger on stderr. */
  logger?: Logger;
}

/** The provider endpoints whose requests are recorded. */
export type DemoEndpoint = 'token' | 'revocation' | 'userinfo' | 'introspection' | 'device_authorization';

/** One request the provider answered, with its non-secret parameters only (never codes, tokens or secrets). */
export interface DemoRequestRecord {
  endpoint: DemoEndpoint;
  client_id: string | undefined;
  /** Token endpoint only. */
  grant_type: string | undefined;
  scope: string | undefined;
  /** RFC 8707 resource indicator(s) as sent. */
  resource: string | string[] | undefined;
  /** Revocation and introspection only. */
  token_type_hint: string | undefined;
  ok: boolean;
  /** The OAuth `error` code of a failed request (RFC 6749 §5.2). */
  error?: string;
}

/** What the provider saw, so tests can assert "one refresh request with scope X". */
export interface DemoProviderStats {
  /** Every recorded request, oldest first. */
  readonly requests: readonly DemoRequestRecord[];
  /** The token endpoint requests, oldest first, successful or not. */
  readonly tokenRequests: readonly DemoRequestRecord[];
  /** Successful token endpoint grants, of one `grant_type` or of all. */
  grants(grantType?: string): number;
  /** Successful revocation requests (RFC 7009 answers 200 for unknown tokens too). */
  readonly revocations: number;
  /** Successful userinfo requests. */
  readonly userinfoCalls: number;
  /** Forgets everything recorded so far. */
  reset(): void;
}

export interface DemoProvider {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  issuer: string;
  port: number;
  stats: DemoProviderStats;
  /** The oidc-provider instance, for tests that need its models or events. */
  provider: Provider;
  /** Stops listening and drops open (keep-alive) connections, so the port is free when this resolves. */
  close(): Promise<void>;
}

type OidcProviderModule = typeof import('oidc-provider');

/**
 * Starts the demo provider on 127.0.0.1.
 *
 * Rejects with the listen error as is (e.g. `EADDRINUSE`) so callers can say
 * which port is taken.
 */
export async function startDemoProvider(options: DemoProviderOptions = {}): Promise<DemoProvider> {
  const logger = options.logger ?? createLogger({ name: 'latchkey-demo-provider' });
  const oidc = await loadOidcProvider(logger);
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // server.close() waits for keep-alive sockets (browsers hold them open); drop them so the port is free now.
      server.closeAllConnections();
    });

  try {
    const { port } = server.address() as AddressInfo;
    const issuer = `http://127.0.0.1:${port}`;
    const configuration = demoConfiguration(oidc, port, options);
    // oidc-provider prints development notices while it is built; they go to the logger at debug level.
    const provider = routeProviderNotices(logger, () => new oidc.Provider(issuer, configuration));
    const recorder = createRecorder();
    provider.use(recordRequests(recorder.record, logger, options.devicePollInterval));
    for (const middleware of options.middleware ?? []) provider.use(middleware);
    provider.on('server_error', (_ctx: unknown, err: Error) => logger.error({ err }, 'demo provider: internal error'));
    server.on('request', provider.callback());
    logger.debug({ issuer }, 'demo provider listening');
    return { issuer, port, stats: recorder.stats, provider, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A fresh RSA signing key set (RS256), private parts included, for
 * {@link DemoProviderOptions.jwks}. Generated already encoded and read back
 * into a key object of its own before the JWK export: on Node 20, exporting
 * the key object `generateKeyPairSync` returns can deadlock when a garbage
 * collection during the export destroys the finished generation job, which
 * takes the lock the export holds (the agent hung for good in `latchkey demo`
 * now and then).
 */
export function generateDemoJwks(): JWKS {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const jwk = { ...createPrivateKey(privateKey).export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' } as JWK;
  return { keys: [jwk] };
}

/** The demo user for any login name: the name is the subject. */
function demoUserClaims(login: string): Record<string, unknown> {
  const name = login === 'demo' ? 'Demo User' : login.charAt(0).toUpperCase() + login.slice(1);
  return {
    sub: login,
    name,
    preferred_username: login,
    email: `${login}@demo.latchkey.test`,
    email_verified: true,
    picture: avatar(name),
  };
}

function demoConfiguration(oidc: OidcProviderModule, port: number, options: DemoProviderOptions): Configuration {
  const accessTokenTtl = options.accessTokenTtl ?? 3600;
  const refreshTokenTtl = options.refreshTokenTtl ?? 14 * 86_400;
  const apiScopes = new Set(DEMO_API_SCOPES);
  return {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_name: 'Latchkey (demo)',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: [DEMO_LOOPBACK_REDIRECT_URI, DEFAULT_SCHEME_REDIRECT_URI],
        post_logout_redirect_uris: ['http://127.0.0.1/logged-out'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        scope: [...DEMO_USER_SCOPES, ...DEMO_API_SCOPES].join(' '),
      },
      {
        client_id: DEMO_SERVICE_CLIENT_ID,
        client_name: 'Demo service',
        client_secret: DEMO_SERVICE_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: DEMO_API_SCOPES.join(' '),
      },
      ...(options.clients ?? []),
    ],
    jwks: options.jwks ?? generateDemoJwks(),
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Cookies ignore the port (RFC 6265 §8.5): two demo providers on 127.0.0.1 would overwrite each other's session.
      names: { session: `_session_${port}`, interaction: `_interaction_${port}`, resume: `_interaction_resume_${port}` },
    },
    // The API scopes are also plain scopes, so a token for userinfo may carry them when no resource is asked for.
    scopes: [...DEMO_USER_SCOPES, ...DEMO_API_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'picture'],
      email: ['email', 'email_verified'],
    },
    responseTypes: ['code'],
    ...(options.extraParams ? { extraParams: options.extraParams } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
    async findAccount(_ctx, id) {
      return { accountId: id, claims: () => demoUserClaims(id) as { sub: string } };
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: {
        enabled: true,
        // Also shown when the code is wrong or the sign-in was aborted; `data-page` tells the two apart.
        userCodeInputSource: (ctx, form, out, err) => {
          const message = err ? `That did not work (${escapeHtml(out?.error ?? 'invalid code')}). Check the code and try again.` : 'Enter the code shown on your device.';
          renderPage(ctx, err ? 'device-error' : 'device-code-input', 'Sign in a device', `<p>${message}</p>${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: (ctx, form, client, _deviceInfo, userCode) => {
          const name = escapeHtml(client.clientName ?? client.clientId);
          renderPage(
            ctx,
            'device-code-confirm',
            'Confirm device',
            `<p><strong>${name}</strong> shows this code:</p><p><code>${escapeHtml(userCode)}</code></p>${form}` +
              '<button type="submit" form="op.deviceConfirmForm">Continue</button>' +
              '<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>',
          );
        },
        successSource: (ctx) => renderPage(ctx, 'device-success', 'Sign-in Success', '<p>You are signed in. You can close this page.</p>'),
      },
      revocation: {
        enabled: options.revocation ?? true,
        // A client may revoke only its own tokens (RFC 7009 §2.1).
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        // Public clients see only their own tokens; the confidential service may introspect any, as a resource server would.
        allowedPolicy: (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) =>
          renderPage(
            ctx,
            'logout',
            'Sign out',
            `<p>Sign out of the demo provider?</p>${form}` +
              '<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>' +
              '<button type="submit" form="op.logoutForm">No, stay signed in</button>',
          ),
        postLogoutSuccessSource: (ctx) => renderPage(ctx, 'logged-out', 'Signed out', '<p>You are signed out of the demo provider.</p>'),
      },
      resourceIndicators: {
        enabled: true,
        // Asking for an API scope without a `resource` means the demo API: the code, device code and refresh token then
        // carry that resource, so a later refresh with `resource` (and a narrowed scope) is allowed (RFC 8707 §2.2).
        defaultResource: (ctx, _client, oneOf) => {
          if (oneOf) return oneOf.includes(DEMO_API_RESOURCE) ? DEMO_API_RESOURCE : oneOf[0];
          const requested = String(ctx.oidc.params?.scope ?? '').split(' ');
          const wantsApi = ctx.oidc.params?.grant_type === 'client_credentials' || requested.some((s) => apiScopes.has(s));
          return wantsApi ? DEMO_API_RESOURCE : undefined;
        },
        // Without `resource` at the token endpoint a request that includes `openid` gets a token for userinfo (the
        // library's default); one without `openid` gets the API token.
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (!resourceIndicator.startsWith(DEMO_API_RESOURCE)) {
            throw new oidc.errors.InvalidTarget(`only resources under ${DEMO_API_RESOURCE} are known here`);
          }
          // JWT so that apps can read `aud` and `scope`; the catch is that a JWT cannot be revoked or introspected
          // (oidc-provider answers unsupported_token_type), it simply expires.
          return { scope: DEMO_API_SCOPES.join(' '), audience: resourceIndicator, accessTokenFormat: 'jwt' };
        },
      },
    },
    pkce: { required: () => true },
    rotateRefreshToken: options.rotateRefreshTokens ?? true,
    clientBasedCORS: () => false,
    renderError: (ctx, out: ErrorOut) =>
      renderPage(ctx, 'error', 'Sign-in error', `<p><code>${escapeHtml(out.error)}</code></p><p>${escapeHtml(out.error_description ?? '')}</p>`),
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      IdToken: options.idTokenTtl ?? 3600,
      RefreshToken: refreshTokenTtl,
      // The grant bounds every token issued from it; never let it end before the refresh token does.
      Grant: Math.max(refreshTokenTtl, 14 * 86_400),
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 86_400,
    },
  };
}

/** Records each answered request at the endpoints in {@link DemoEndpoint}, and adds the device flow `interval`. */
function recordRequests(record: (entry: DemoRequestRecord) => void, logger: Logger, devicePollInterval: number | undefined) {
  const endpoints = new Set<string>(['token', 'revocation', 'userinfo', 'introspection', 'device_authorization']);
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
    await next();
    const route = ctx.oidc?.route;
    if (!route || !endpoints.has(route)) return;
    // The form body is what the client sent; params are what oidc-provider kept of it.
    const sent = { ...(ctx.oidc.params ?? {}), ...(ctx.oidc.body ?? {}) } as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const body = ctx.body as Record<string, unknown> | undefined;
    const ok = ctx.status < 400;
    const entry: DemoRequestRecord = {
      endpoint: route as DemoEndpoint,
      client_id: ctx.oidc.client?.clientId ?? text(sent.client_id),
      grant_type: text(sent.grant_type),
      scope: text(sent.scope),
      resource: Array.isArray(sent.resource) ? sent.resource.map(String) : text(sent.resource),
      token_type_hint: text(sent.token_type_hint),
      ok,
    };
    if (!ok && typeof body?.error === 'string') entry.error = body.error;
    record(entry);
    logger.debug({ endpoint: entry.endpoint, grant_type: entry.grant_type, scope: entry.scope, ok, error: entry.error }, 'demo provider request');
    // oidc-provider leaves `interval` out, so clients wait the RFC 8628 default of 5 s between polls.
    if (route === 'device_authorization' && ok && body && devicePollInterval !== undefined) body.interval = devicePollInterval;
  };
}

function createRecorder() {
  const requests: DemoRequestRecord[] = [];
  const count = (predicate: (r: DemoRequestRecord) => boolean) => requests.filter(predicate).length;
  const stats: DemoProviderStats = {
    requests,
    get tokenRequests() {
      return requests.filter((r) => r.endpoint === 'token');
    },
    grants: (grantType) => count((r) => r.endpoint === 'token' && r.ok && (grantType === undefined || r.grant_type === grantType)),
    get revocations() {
      return count((r) => r.endpoint === 'revocation' && r.ok);
    },
    get userinfoCalls() {
      return count((r) => r.endpoint === 'userinfo' && r.ok);
    },
    reset: () => void requests.splice(0),
  };
  return { stats, record: (entry: DemoRequestRecord) => void requests.push(entry) };
}

let loading: Promise<OidcProviderModule> | undefined;

/** Loads oidc-provider once, on first use: the CLI should not pay for it unless the demo runs. */
function loadOidcProvider(logger: Logger): Promise<OidcProviderModule> {
  // The import itself warns that Node 20 is unsupported (it wants 22); it works for everything used here.
  loading ??= routeProviderNotices(logger, () => import('oidc-provider'));
  return loading;
}

const NOTICE = /^(?:\x1b\[[\d;]*m)?oidc-provider (?:WARNING|NOTICE): /;

/**
 * Runs `fn` (until its promise settles, if it returns one) with oidc-provider's
 * console notices sent to the logger at debug level; anything else still prints.
 * Only used around the one-time import and the synchronous constructor, so two
 * calls never overlap and the console is always restored.
 */
function routeProviderNotices<T>(logger: Logger, fn: () => T): T {
  const { warn, info } = console;
  const route =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      if (typeof args[0] === 'string' && NOTICE.test(args[0])) logger.debug({ notice: args[0].replace(NOTICE, '') }, 'oidc-provider notice');
      else original.apply(console, args);
    };
  console.warn = route(warn);
  console.info = route(info);
  const restore = () => {
    console.warn = warn;
    console.info = info;
  };
  try {
    const result = fn();
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  } catch (err) {
    restore();
    throw err;
  }
}

/** Our own pages instead of oidc-provider's defaults, which load Google Fonts and print notices. */
function renderPage(ctx: KoaContextWithOIDC, page: string, title: string, body: string): void {
  ctx.type = 'html';
  ctx.body =
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:3rem auto}button{display:block;width:100%;margin:.5rem 0;padding:.5rem}</style>' +
    `</head><body data-page="${page}"><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round SVG avatar with the user's initial, inline so no request leaves the machine. */
function avatar(name: string): string {
  const initial = escapeHtml(name.charAt(0).toUpperCase() || '?');
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="32" fill="#3b6ea5"/>' +
    `<text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">${initial}</text></svg>`;
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
