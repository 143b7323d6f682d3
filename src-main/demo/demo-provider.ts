/**
 * The built-in demo OpenID Provider: the certified `oidc-provider` on
 * 127.0.0.1, with its development login and consent pages (any user name and
 * password are accepted), a public native client for Latchkey and a
 * confidential service client. `latchkey demo` runs it inside the agent; the
 * tests use it as their real provider.
 *
 * Only ever bound to the loopback interface: it accepts any password.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log/logger.js';

export const DEMO_CLIENT_ID = 'latchkey-demo';
export const DEMO_SERVICE_CLIENT_ID = 'latchkey-service';
/** Demo only: the service client's secret is public knowledge, like the provider's password rule. */
export const DEMO_SERVICE_CLIENT_SECRET = 'demo-service-secret-not-for-production';
/** An example API protected by the demo provider (RFC 8707 resource indicator). */
export const DEMO_API_RESOURCE = 'https://api.demo.latchkey.test/';
export const DEMO_API_SCOPES = ['api:read', 'api:write'];

export interface DemoProviderOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  idTokenTtl?: number;
  refreshTokenTtl?: number;
  /** Rotate refresh tokens on every use (default true). */
  rotateRefreshTokens?: boolean;
  logger?: Logger;
}

/** What the provider saw at its token endpoint: never the secrets themselves. */
export interface TokenRequestRecord {
  grant_type: string;
  client_id: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
  ok: boolean;
  error?: string;
}

export interface DemoProviderStats {
  tokenRequests: TokenRequestRecord[];
  reset(): void;
}

export interface DemoProvider {
  issuer: string;
  port: number;
  stats: DemoProviderStats;
  provider: Provider;
  close(): Promise<void>;
}

function displayName(login: string): string {
  if (login === 'demo') return 'Demo User';
  return login.charAt(0).toUpperCase() + login.slice(1);
}

export async function startDemoProvider(options: DemoProviderOptions = {}): Promise<DemoProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  // A fresh signing key per start: oidc-provider's built-in development key is the same everywhere.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

  const configuration: Configuration = {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // RFC 8252 §7.3: oidc-provider lets native clients use any port on a loopback redirect.
        redirect_uris: ['http://127.0.0.1/callback', 'dev.latchkey.app:/callback'],
        post_logout_redirect_uris: ['http://127.0.0.1/logged-out'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        scope: ['openid', 'offline_access', 'profile', 'email', ...DEMO_API_SCOPES].join(' '),
      },
      {
        client_id: DEMO_SERVICE_CLIENT_ID,
        client_secret: DEMO_SERVICE_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: DEMO_API_SCOPES.join(' '),
      },
    ],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'email', ...DEMO_API_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'picture'],
      email: ['email', 'email_verified'],
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            name: displayName(id),
            preferred_username: id,
            email: `${id}@demo.latchkey.test`,
            email_verified: true,
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Client credentials need an audience; user tokens without `resource` are for userinfo.
        defaultResource: (ctx: KoaContextWithOIDC) => (ctx.oidc.params?.grant_type === 'client_credentials' ? DEMO_API_RESOURCE : undefined) as string,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: KoaContextWithOIDC, resourceIndicator: string) => {
          if (!resourceIndicator.startsWith(DEMO_API_RESOURCE)) throw new Error('unknown resource');
          return { scope: DEMO_API_SCOPES.join(' '), audience: resourceIndicator, accessTokenFormat: 'jwt', accessTokenTTL: options.accessTokenTtl ?? 3600 };
        },
      },
    },
    pkce: { required: () => true },
    // Refresh tokens without offline_access + prompt=consent: the demo is about trying Latchkey, not that rule.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: options.rotateRefreshTokens ?? true,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      IdToken: options.idTokenTtl ?? 3600,
      RefreshToken: options.refreshTokenTtl ?? 14 * 86_400,
      ClientCredentials: options.accessTokenTtl ?? 3600,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 86_400,
      Grant: 14 * 86_400,
    },
  };

  const provider = new Provider(issuer, configuration);
  const tokenRequests: TokenRequestRecord[] = [];
  const record = (ctx: KoaContextWithOIDC, ok: boolean, error?: string) => {
    const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
    const entry: TokenRequestRecord = {
      grant_type: String(params.grant_type ?? ''),
      client_id: ctx.oidc?.client?.clientId,
      scope: typeof params.scope === 'string' ? params.scope : undefined,
      resource: typeof params.resource === 'string' ? params.resource : undefined,
      ok,
    };
    if (error) entry.error = error;
    tokenRequests.push(entry);
  };
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => record(ctx, true));
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: { error?: string }) => record(ctx, false, err.error));
  provider.on('server_error', (_ctx: unknown, err: Error) => options.logger?.error({ err }, 'demo provider error'));

  server.on('request', provider.callback());
  return {
    issuer,
    port,
    provider,
    stats: {
      tokenRequests,
      reset: () => void tokenRequests.splice(0),
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
