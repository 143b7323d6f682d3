/**
 * Test-only: a tiny OpenID Provider that misbehaves on purpose, so tests can
 * prove each bad answer is rejected (by openid-client) and changes nothing.
 *
 * It has no login page: its authorization endpoint redirects at once to the
 * client's redirect_uri with a code, the given `state` and `iss` (RFC 9207).
 * Its token endpoint checks PKCE (S256) and answers like a sound provider in
 * mode `ok`, echoing the authorization request's nonce in the ID token; every
 * other mode spoils exactly one thing (see {@link RogueMode}). The mode can be
 * switched at any time and applies to the next request.
 *
 * Listens on 127.0.0.1 only, on a free port.
 */
import { createHash, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeNow, listenOnLoopback } from './net.js';
import { promisify } from 'node:util';
import { SignJWT, exportJWK } from 'jose';

export const ROGUE_MODES = [
  /** A sound provider. */
  'ok',
  /** ID token signed by a key that is not in the JWKS. */
  'bad-signature',
  /** ID token `aud` is another client. */
  'wrong-aud',
  /** ID token `iss` is another issuer. */
  'wrong-iss',
  /** ID token expired an hour ago. */
  'expired',
  /** ID token `nonce` is not the one the client sent. */
  'wrong-nonce',
  /** The authorization response's `iss` parameter names another issuer (a mix-up, RFC 9207 §2.4). */
  'wrong-iss-in-callback',
  /** The authorization response is `error=access_denied` with a description. */
  'error-callback',
  /** The code exchange answers 400 `invalid_grant`. */
  'token-error',
  /** The token endpoint answers 200 with truncated JSON. */
  'malformed-json',
  /** The token endpoint answers only after `slowMs` (or never, if closed first). */
  'slow',
  /** A refresh answers 400 `invalid_grant` (the code exchange still works). */
  'refresh-invalid-grant',
  /** The discovery document is valid JSON of {@link HUGE_RESPONSE_BYTES}, streamed without a Content-Length. */
  'huge-discovery',
  /** The token endpoint answers 200 with valid JSON of {@link HUGE_RESPONSE_BYTES}, streamed without a Content-Length. */
  'huge-token',
  /** The discovery document has only `issuer`: no endpoints, no `jwks_uri`. */
  'bare-discovery',
  /** The discovery document's `authorization_endpoint` is a `file:` URL. */
  'file-authorization-endpoint',
  /** ID token `auth_time` is 0, as Glewlwyd's token endpoint sends it (otherwise sound). */
  'auth-time-zero',
] as const;

/** 64 MiB: the size of the `huge-*` answers. */
export const HUGE_RESPONSE_BYTES = 64 * 1024 * 1024;

export type RogueMode = (typeof ROGUE_MODES)[number];

export interface RogueRequest {
  method: string;
  path: string;
  /** Token endpoint only. */
  grantType?: string;
  /** The mode the request was answered in. */
  mode: RogueMode;
  /** Bytes of a `huge-*` body the client took before it stopped reading (written with back-pressure). */
  hugeBytesSent?: number;
}

export interface RogueProviderOptions {
  /** The client the ID tokens are for (`aud`); default `rogue-client`. */
  clientId?: string;
  /** How long `slow` holds a token request, in ms; default 30 s. */
  slowMs?: number;
}

export interface RogueProvider {
  /** `http://127.0.0.1:<port>`. */
  issuer: string;
  setMode(mode: RogueMode): void;
  /** Every request answered, oldest first. */
  requests: RogueRequest[];
  /** Stops listening and drops every connection, including a held `slow` request. */
  close(): Promise<void>;
}

/** The subject of every ID token. */
export const ROGUE_SUBJECT = 'mallory';

interface IssuedCode {
  nonce: string | undefined;
  codeChallenge: string | undefined;
}

/** Starts a rogue provider in mode `ok`. */
export async function startRogueProvider(options: RogueProviderOptions = {}): Promise<RogueProvider> {
  const clientId = options.clientId ?? 'rogue-client';
  const [good, evil] = await Promise.all([rsaKeyPair(), rsaKeyPair()]);
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'good', alg: 'RS256', use: 'sig' };
  let current: RogueMode = 'ok';
  const codes = new Map<string, IssuedCode>();
  const refreshTokens = new Set<string>();
  const requests: RogueRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer();
  const issuer = `http://127.0.0.1:${await listenOnLoopback(server)}`;

  const idToken = (mode: RogueMode, nonce: string | undefined) => {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { email: 'mallory@rogue.test', auth_time: mode === 'auth-time-zero' ? 0 : now };
    if (nonce !== undefined) claims.nonce = mode === 'wrong-nonce' ? 'not-the-nonce' : nonce;
    const key: KeyObject = mode === 'bad-signature' ? evil.privateKey : good.privateKey;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'good' })
      .setSubject(ROGUE_SUBJECT)
      .setIssuer(mode === 'wrong-iss' ? 'http://127.0.0.1:1/not-the-issuer' : issuer)
      .setAudience(mode === 'wrong-aud' ? 'someone-else' : clientId)
      .setIssuedAt(mode === 'expired' ? now - 7200 : now)
      .setExpirationTime(mode === 'expired' ? now - 3600 : now + 3600)
      .sign(key);
  };

  const tokenResponse = async (mode: RogueMode, nonce: string | undefined) => {
    const refreshToken = randomBytes(16).toString('base64url');
    refreshTokens.add(refreshToken);
    return {
      access_token: randomBytes(16).toString('base64url'),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'openid email',
      refresh_token: refreshToken,
      id_token: await idToken(mode, nonce),
    };
  };

  const authorize = (mode: RogueMode, url: URL, res: ServerResponse) => {
    const redirect = URL.parse(url.searchParams.get('redirect_uri') ?? '');
    if (!redirect) return json(res, 400, { error: 'invalid_request', error_description: 'redirect_uri is missing' });
    if (mode === 'error-callback') {
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('error_description', 'The user said no');
    } else {
      const code = randomBytes(16).toString('base64url');
      codes.set(code, { nonce: url.searchParams.get('nonce') ?? undefined, codeChallenge: url.searchParams.get('code_challenge') ?? undefined });
      redirect.searchParams.set('code', code);
    }
    const state = url.searchParams.get('state');
    if (state !== null) redirect.searchParams.set('state', state);
    redirect.searchParams.set('iss', mode === 'wrong-iss-in-callback' ? 'http://127.0.0.1:1' : issuer);
    res.writeHead(302, { location: redirect.href });
    res.end();
  };

  const token = async (mode: RogueMode, body: URLSearchParams, res: ServerResponse, entry: RogueRequest) => {
    if (mode === 'huge-token') return streamHugeJson(res, { access_token: 'huge', token_type: 'Bearer', expires_in: 3600 }, entry);
    if (mode === 'token-error') return json(res, 400, { error: 'invalid_grant', error_description: 'code expired' });
    if (mode === 'malformed-json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end('{"access_token": "abc", ');
    }
    if (body.get('grant_type') === 'refresh_token') {
      const presented = body.get('refresh_token') ?? '';
      // Rotation: each refresh token works once, like a strict provider.
      if (mode === 'refresh-invalid-grant' || !refreshTokens.delete(presented)) {
        return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid' });
      }
      return json(res, 200, await tokenResponse(mode, undefined));
    }
    const issued = codes.get(body.get('code') ?? '');
    codes.delete(body.get('code') ?? '');
    const verifier = body.get('code_verifier') ?? '';
    if (!issued || issued.codeChallenge !== createHash('sha256').update(verifier).digest('base64url')) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'unknown code or PKCE mismatch' });
    }
    return json(res, 200, await tokenResponse(mode, issued.nonce));
  };

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const answeredIn = current;
    const entry: RogueRequest = { method: req.method ?? 'GET', path: url.pathname, mode: answeredIn };
    requests.push(entry);
    const handle = async () => {
      switch (url.pathname) {
        case '/.well-known/openid-configuration':
          if (answeredIn === 'huge-discovery') return streamHugeJson(res, discoveryDocument(issuer), entry);
          if (answeredIn === 'bare-discovery') return json(res, 200, { issuer });
          if (answeredIn === 'file-authorization-endpoint') return json(res, 200, { ...discoveryDocument(issuer), authorization_endpoint: 'file:///etc/passwd' });
          return json(res, 200, discoveryDocument(issuer));
        case '/jwks':
          return json(res, 200, { keys: [publicJwk] });
        case '/authorize':
          return authorize(answeredIn, url, res);
        case '/token': {
          const body = await readForm(req);
          const grantType = body.get('grant_type');
          if (grantType) entry.grantType = grantType;
          if (answeredIn !== 'slow') return token(answeredIn, body, res, entry);
          // Held, then answered soundly; close() clears the timer and drops the socket so nothing outlives the test.
          const timer = setTimeout(() => {
            timers.delete(timer);
            void token('ok', body, res, entry).catch(() => res.destroy());
          }, options.slowMs ?? 30_000);
          timers.add(timer);
          return;
        }
        default:
          res.writeHead(404);
          res.end();
      }
    };
    handle().catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });

  return {
    issuer,
    requests,
    setMode: (next) => void (current = next),
    close: () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return closeNow(server);
    },
  };
}

function discoveryDocument(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    scopes_supported: ['openid', 'email'],
    authorization_response_iss_parameter_supported: true,
  };
}

/**
 * Sends `fields` plus a `padding` string, {@link HUGE_RESPONSE_BYTES} in all,
 * in 64 KiB chunks that wait for the client to read (so the fixture itself
 * never buffers more than a chunk or two); stops when the client goes away.
 */
async function streamHugeJson(res: ServerResponse, fields: Record<string, unknown>, entry: RogueRequest): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  const head = `${JSON.stringify(fields).slice(0, -1)},"padding":"`;
  const chunk = 'x'.repeat(64 * 1024);
  entry.hugeBytesSent = 0;
  const send = (text: string): Promise<boolean> =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve(false);
      entry.hugeBytesSent! += Buffer.byteLength(text);
      if (res.write(text)) return resolve(true);
      const done = (ok: boolean) => () => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = done(true);
      const onClose = done(false);
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
  if (!(await send(head))) return;
  for (let sent = head.length; sent + chunk.length + 2 <= HUGE_RESPONSE_BYTES; sent += chunk.length) {
    if (!(await send(chunk))) return;
  }
  res.end('"}');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 65_536) req.destroy(new Error('request body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

async function rsaKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
}
