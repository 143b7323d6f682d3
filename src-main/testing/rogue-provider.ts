/**
 * Test-only: a tiny OpenID Provider that misbehaves on purpose, so tests can
 * prove each bad response is rejected (by openid-client) and changes nothing.
 * Its authorization endpoint answers at once (no login page), redirecting to
 * the client's redirect_uri with a code, the state and an `iss`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, type KeyObject } from 'jose';

export type RogueMode =
  | 'ok'
  | 'bad-signature'
  | 'wrong-aud'
  | 'wrong-iss'
  | 'expired'
  | 'wrong-nonce'
  | 'wrong-iss-in-callback'
  | 'error-callback'
  | 'token-error'
  | 'malformed-json'
  | 'slow';

export interface RogueProvider {
  issuer: string;
  setMode(mode: RogueMode): void;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > 65_536) req.destroy();
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

export async function startRogueProvider(options: { clientId?: string; slowMs?: number } = {}): Promise<RogueProvider> {
  const clientId = options.clientId ?? 'rogue-client';
  const good = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const evil = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'good', alg: 'RS256', use: 'sig' };
  let mode: RogueMode = 'ok';
  const nonces = new Map<string, string | undefined>();
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const idToken = async (nonce: string | undefined) => {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { sub: 'mallory', email: 'mallory@rogue.test', auth_time: now };
    if (nonce !== undefined) claims.nonce = mode === 'wrong-nonce' ? 'not-the-nonce' : nonce;
    const key: KeyObject = mode === 'bad-signature' ? evil.privateKey : good.privateKey;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'good' })
      .setIssuer(mode === 'wrong-iss' ? 'http://127.0.0.1:1/not-the-issuer' : issuer)
      .setAudience(mode === 'wrong-aud' ? 'someone-else' : clientId)
      .setIssuedAt(mode === 'expired' ? now - 7200 : now)
      .setExpirationTime(mode === 'expired' ? now - 3600 : now + 3600)
      .sign(key);
  };

  server.on('request', async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    requests.push(url.pathname);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
          scopes_supported: ['openid', 'email'],
          authorization_response_iss_parameter_supported: true,
        });
      case '/jwks':
        return json(200, { keys: [publicJwk] });
      case '/authorize': {
        const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
        const code = randomBytes(16).toString('base64url');
        nonces.set(code, url.searchParams.get('nonce') ?? undefined);
        if (mode === 'error-callback') {
          redirect.searchParams.set('error', 'access_denied');
          redirect.searchParams.set('error_description', 'The user said no');
        } else {
          redirect.searchParams.set('code', code);
        }
        redirect.searchParams.set('state', url.searchParams.get('state') ?? '');
        redirect.searchParams.set('iss', mode === 'wrong-iss-in-callback' ? 'http://127.0.0.1:1' : issuer);
        res.writeHead(302, { location: redirect.href });
        return res.end();
      }
      case '/token': {
        const body = await readBody(req);
        if (mode === 'slow') {
          // Never answers in time; the timer is cleared on close so the test process ends.
          const t = setTimeout(() => json(500, {}), options.slowMs ?? 60_000);
          timers.add(t);
          return;
        }
        if (mode === 'token-error') return json(400, { error: 'invalid_grant', error_description: 'code expired' });
        if (mode === 'malformed-json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"access_token": "abc", ');
        }
        const nonce = nonces.get(body.get('code') ?? '');
        return json(200, {
          access_token: randomBytes(16).toString('base64url'),
          token_type: 'Bearer',
          expires_in: 3600,
          scope: 'openid email',
          id_token: await idToken(nonce),
        });
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });

  return {
    issuer,
    requests,
    setMode: (m) => void (mode = m),
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
