/**
 * What Latchkey accepts from a provider beyond what openid-client checks: no
 * response body past the size limit (streamed and counted, so memory stays
 * bounded), and no metadata without the fields its flows need or with an
 * endpoint that is not https (http on loopback). Each is refused with an error
 * that names the limit or the field, at `provider add` and at re-discovery,
 * and leaves the store untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log/logger.js';
import { emptyVaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { HUGE_RESPONSE_BYTES, startRogueProvider, type RogueMode, type RogueProvider } from '../testing/rogue-provider.js';
import { SchemeCallbackRouter } from './callback/scheme-receiver.js';
import { DiscoveryCache } from './discovery.js';
import { OidcEngine } from './oidc-engine.js';
import { addProvider } from './provider-registry.js';
import { limitResponseSize, MAX_PROVIDER_RESPONSE_BYTES, ResponseTooLargeError } from './provider-fetch.js';
import { validateProviderMetadata } from './provider-metadata.js';

const MiB = 1024 * 1024;

describe('provider responses and metadata', () => {
  let rogue: RogueProvider;
  beforeAll(async () => {
    rogue = await startRogueProvider();
  });
  afterAll(() => rogue?.close());

  function setup(discovery = new DiscoveryCache({ timeoutSeconds: 10 })) {
    const store = new MemoryStore(emptyVaultDocument());
    const engine = new OidcEngine({ store, discovery, schemeRouter: new SchemeCallbackRouter(), logger: silentLogger(), callbackTimeoutMs: 10_000 });
    const add = () => addProvider(store, discovery, { name: 'rogue', issuer: rogue.issuer, clientId: 'rogue-client', scope: 'openid email' });
    return { store, engine, add };
  }

  /** Signs in, playing the browser; records whether the browser was sent anywhere. */
  async function signIn(engine: OidcEngine) {
    const visited: string[] = [];
    const error = await engine
      .authorize({
        provider: 'rogue',
        onAuthorizationUrl: async (url) => {
          visited.push(url);
          const res = await fetch(url, { redirect: 'manual' });
          void fetch(res.headers.get('location')!).catch(() => undefined);
        },
      })
      .then(
        () => undefined,
        (err: unknown) => err as { code: string; message: string },
      );
    return { error, visited };
  }

  function lastRequest(path: string, mode: RogueMode) {
    return rogue.requests.filter((r) => r.path === path && r.mode === mode).at(-1);
  }

  it(`refuses a ${HUGE_RESPONSE_BYTES / MiB} MiB discovery document at the limit, reading only about the limit`, async () => {
    const { store, add } = setup();
    const before = JSON.stringify(store.read());
    const heapBefore = process.memoryUsage().heapUsed;
    rogue.setMode('huge-discovery');
    try {
      await expect(add()).rejects.toMatchObject({ code: 'provider_error', message: expect.stringMatching(/"rogue" sent a response larger than 1 MiB during discovery/) });
    } finally {
      rogue.setMode('ok');
    }
    expect(JSON.stringify(store.read())).toBe(before);
    // The provider could push only what the limit plus the socket buffers let through before the client hung up.
    const sent = lastRequest('/.well-known/openid-configuration', 'huge-discovery')?.hugeBytesSent ?? Infinity;
    console.log(`[huge discovery] the provider got ${(sent / MiB).toFixed(1)} MiB out before the connection was dropped`);
    expect(sent).toBeLessThan(16 * MiB);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * MiB);
  });

  it(`refuses a ${HUGE_RESPONSE_BYTES / MiB} MiB token response at the limit and stores nothing`, async () => {
    const { store, engine, add } = setup();
    await add();
    const before = JSON.stringify(store.read());
    rogue.setMode('huge-token');
    try {
      const { error } = await signIn(engine);
      expect(error).toMatchObject({ code: 'provider_error', message: expect.stringMatching(/sent a response larger than 1 MiB/) });
    } finally {
      rogue.setMode('ok');
    }
    expect(JSON.stringify(store.read())).toBe(before);
    expect(lastRequest('/token', 'huge-token')?.hugeBytesSent ?? Infinity).toBeLessThan(16 * MiB);
  });

  it('refuses a body whose declared Content-Length is over the limit before reading it, and passes one within it', async () => {
    let pulled = 0;
    const body = (n: number) =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled++;
          controller.enqueue(new Uint8Array(n));
          controller.close();
        },
      }, { highWaterMark: 0 });
    const over = limitResponseSize(async () => new Response(body(10), { headers: { 'content-length': '10' } }), 5);
    await expect(over('https://op.example/token', {} as never)).rejects.toBeInstanceOf(ResponseTooLargeError);
    expect(pulled).toBe(0);
    const within = limitResponseSize(async () => new Response('{"ok":true}', { status: 201, headers: { 'content-type': 'application/json' } }), 64);
    const res = await within('https://op.example/token', {} as never);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: true });
    expect(MAX_PROVIDER_RESPONSE_BYTES).toBe(MiB);
  });

  it('refuses at provider add a discovery document with only issuer, naming the missing field', async () => {
    const { store, add } = setup();
    rogue.setMode('bare-discovery');
    try {
      await expect(add()).rejects.toMatchObject({ code: 'invalid_response', message: expect.stringMatching(/"rogue" has unusable metadata .*no token_endpoint, which sign-in \(authorization code flow\) needs/) });
    } finally {
      rogue.setMode('ok');
    }
    expect(store.read().providers).toEqual([]);
  });

  it('refuses a file: authorization endpoint at provider add, and at re-discovery before any browser is opened', async () => {
    let now = 0;
    const { store, engine, add } = setup(new DiscoveryCache({ timeoutSeconds: 10, ttlMs: 1000, now: () => now }));
    rogue.setMode('file-authorization-endpoint');
    try {
      await expect(add()).rejects.toMatchObject({ code: 'invalid_response', message: expect.stringMatching(/authorization_endpoint uses file: \(file:\/\/\/etc\/passwd\); endpoints must use https/) });
      expect(store.read().providers).toEqual([]);

      rogue.setMode('ok');
      await add();
      rogue.setMode('file-authorization-endpoint');
      now += 2000; // past the discovery TTL: the next use discovers again
      const { error, visited } = await signIn(engine);
      expect(error).toMatchObject({ code: 'invalid_response', message: expect.stringMatching(/authorization_endpoint uses file:/) });
      expect(visited).toEqual([]);
    } finally {
      rogue.setMode('ok');
    }
  });
});

describe('validateProviderMetadata', () => {
  const base = {
    issuer: 'https://op.example',
    authorization_endpoint: 'https://op.example/authorize',
    token_endpoint: 'https://op.example/token',
    jwks_uri: 'https://op.example/jwks',
    response_types_supported: ['code'],
  };
  const signIn = { flows: ['authorization_code', 'refresh_token'], openid: true } as const;
  const check = (metadata: Record<string, unknown>, needs: Parameters<typeof validateProviderMetadata>[1] = signIn) => () => validateProviderMetadata(metadata, needs, 'op');

  it('accepts complete metadata, and http endpoints on loopback only', () => {
    expect(check(base)).not.toThrow();
    expect(check({ ...base, token_endpoint: 'http://127.0.0.1:8080/token', userinfo_endpoint: 'http://localhost/userinfo' })).not.toThrow();
    expect(check({ ...base, token_endpoint: 'http://op.example/token' })).toThrow(/token_endpoint uses http:/);
  });

  it.each([
    ['authorization_endpoint', 'javascript:alert(1)', /authorization_endpoint uses javascript:/],
    ['jwks_uri', 'data:application/json,{}', /jwks_uri uses data:/],
    ['end_session_endpoint', 'file:///tmp/x', /end_session_endpoint uses file:/],
    ['userinfo_endpoint', 'not a url', /userinfo_endpoint is not an absolute URL/],
    ['revocation_endpoint', 42, /revocation_endpoint is not an absolute URL/],
  ])('refuses %s = %j', (field, value, message) => {
    expect(check({ ...base, [field]: value })).toThrow(expect.objectContaining({ code: 'invalid_response', message: expect.stringMatching(message) }));
  });

  it('names the field each flow is missing', () => {
    const without = (field: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== field));
    expect(check(without('authorization_endpoint'))).toThrow(/no authorization_endpoint, which sign-in/);
    expect(check(without('jwks_uri'))).toThrow(/no jwks_uri, which checking ID token signatures needs/);
    expect(check(without('response_types_supported'))).toThrow(/no response_types_supported/);
    expect(check({ ...base, response_types_supported: ['id_token'] })).toThrow(/response_types_supported does not list "code"/);
    expect(check(base, { flows: ['device_code'], openid: true })).toThrow(/no device_authorization_endpoint, which device sign-in \(RFC 8628\) needs/);
    // A service profile (client credentials, RFC 8414 metadata) needs only the token endpoint.
    expect(check({ issuer: base.issuer, token_endpoint: base.token_endpoint }, { flows: ['client_credentials'], openid: false })).not.toThrow();
    expect(check({ issuer: base.issuer }, { flows: ['client_credentials'], openid: false })).toThrow(/no token_endpoint, which the client credentials grant needs/);
  });
});
