/**
 * Local apps getting tokens through the real agent: the SDK on one side, the
 * agent (vault, engine, broker) on the other, a real oidc-provider, and real
 * Chromium for the sign-ins the agent starts. Only the consent UI is scripted:
 * it is the one edge a person answers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import * as jose from 'jose';
import { captureLog } from '../testing/capture-log.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { RunningAgent } from '../agent/agent-main.js';
import { connectRpc, type RpcClient } from '../wire/rpc-client.js';
import { DEMO_API_RESOURCE, type DemoProvider } from '../demo/demo-provider.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import type { AppEvent, LatchkeyClient } from '../sdk/latchkey-client.js';
import { generateAppKey } from './app-key.js';
import { startBrokerHarness, type BrokerHarness } from '../testing/broker-harness.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(`SKIP broker integration tests: ${CHROMIUM_MISSING}`);


describe.skipIf(!hasChromium)('local apps get tokens through the agent, with consent', () => {
  let harness: BrokerHarness;
  let dir: string;
  let paths: LatchkeyPaths;
  let demo: DemoProvider;
  let agent: RunningAgent;
  let owner: RpcClient;
  const person = new ScriptedPerson(100);
  const captured = captureLog();
  const logLines = captured.lines;
  const seenSecrets = new Set<string>();
  const signIns: string[] = [];
  /** The agent's clock runs this far ahead of the real one (expiry and audit tests move it). */
  const clock = { offsetMs: 0 };

  function app(id: string, options: { keyPath?: string; name?: string } = {}): Promise<LatchkeyClient> {
    return harness.connectApp({ appId: id, name: options.name ?? `App ${id}`, keyPath: options.keyPath ?? join(dir, 'apps', id, 'key.json') });
  }

  beforeAll(async () => {
    harness = await startBrokerHarness({
      prefix: 'latchkey-broker-',
      logger: captured.logger,
      prompter: () => person,
      now: () => Date.now() + clock.offsetMs,
      scope: 'openid profile email offline_access api:read api:write',
      // The agent opens sign-ins for apps in "the system browser": here, Chromium signing in as the next user.
      signInAs: () => signIns.shift() ?? 'alice',
    });
    ({ dir, paths, demo, agent, owner } = harness);
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    person.answers = [];
  });

  it('first request: tryGet says consent_required, get asks once (signing in if needed), "always" is remembered', async () => {
    const tool = await app('com.example.tool', { name: 'Example Tool' });
    await expect(tool.tryGetAuthTokens({ scope: 'openid email' })).rejects.toMatchObject({ code: 'consent_required' });

    person.answers = [{ decision: 'always' }];
    signIns.push('alice');
    const asked = person.asked.length;
    const tokens = await tool.getAuthTokens({ scope: 'openid email' }, { timeoutMs: 60_000 });
    seenSecrets.add(tokens.accessToken);
    expect(tokens.tokenType).toMatch(/bearer/i);
    expect(sorted(tokens.scope)).toBe('email openid');
    expect(tokens.idToken).toBeTruthy(); // `openid` was granted
    expect(tokens.expiresAtS).toBeGreaterThan(Date.now() / 1000);
    expect(tokens).not.toHaveProperty('refreshToken');
    expect(person.asked.length).toBe(asked + 1);
    const prompt = person.asked.at(-1)!;
    expect(prompt.app).toMatchObject({ id: 'com.example.tool', name: 'Example Tool', fingerprint: tool.keyFingerprint });
    // Linux: the executable of the process on the other end (here: this test's node).
    if (process.platform === 'linux') expect(prompt.app.exePath).toBe(await realExe());

    // Remembered: silent from now on, also on a new connection.
    const again = await tool.tryGetAuthTokens({ scope: 'openid email' });
    expect(again.accessToken).toBe(tokens.accessToken);
    const reconnected = await app('com.example.tool');
    expect((await reconnected.tryGetAuthTokens({ scope: 'email' })).scope).toBe('email');
    expect(person.asked.length).toBe(asked + 1);

    const { grants } = await owner.call<{ grants: Array<Record<string, unknown>> }>('admin.apps.list', {});
    expect(grants).toEqual([expect.objectContaining({ app: 'com.example.tool', name: 'Example Tool', key_fingerprint: tool.keyFingerprint })]);
    expect(sorted(String(grants[0]!.scope))).toBe('email openid');
    // The app sees its account, and only what its scopes cover.
    const [seen] = await tool.accounts();
    expect(seen).toMatchObject({ email: 'alice@demo.latchkey.test', status: 'active' });
    expect(sorted(seen!.granted_scope)).toBe('email openid');
    expect((await tool.accounts())[0]).not.toHaveProperty('name');
  });

  it('"once" gives one token and is not remembered', async () => {
    const once = await app('com.example.once');
    person.answers = [{ decision: 'once' }];
    const t = await once.getAuthTokens({ scope: 'profile' });
    seenSecrets.add(t.accessToken);
    expect(t.scope).toBe('profile');
    expect(t.idToken).toBeUndefined(); // no `openid`, no ID token
    await expect(once.tryGetAuthTokens({ scope: 'profile' })).rejects.toMatchObject({ code: 'consent_required' });
    expect(await once.accounts()).toEqual([]);
    // A token allowed once is still the app's to give up.
    expect(await once.revokeAuthToken()).toBe(1);
  });

  it('deny: the app gets access_denied, is not asked again during the cool-down, and the audit log records it', async () => {
    const pushy = await app('com.example.pushy');
    person.answers = [{ decision: 'deny' }];
    const asked = person.asked.length;
    // Three concurrent requests share one prompt.
    const results = await Promise.allSettled([1, 2, 3].map(() => pushy.getAuthTokens({ scope: 'openid email' })));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'access_denied' });
    expect(person.asked.length).toBe(asked + 1);
    await expect(pushy.getAuthTokens({ scope: 'openid email' })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/try again in \d+ s/) });
    expect(person.asked.length).toBe(asked + 1);
    const { entries } = await owner.call<{ entries: Array<{ event: string; appId: string }> }>('admin.activity', { app: 'com.example.pushy' });
    expect(entries.map((e) => e.event)).toContain('consent_denied');
  });

  it('an unanswered prompt times out to deny; a caller can cancel its wait', async () => {
    const slow = await app('com.example.slow');
    person.answers = ['hang'];
    const controller = new AbortController();
    const waiting = slow.getAuthTokens({ scope: 'email' }, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled' });
    // The connection still works after the cancel.
    await expect(slow.tryGetAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'consent_required' });
  });

  it('scope narrowing: the provider sees the narrowed request and the token carries only the granted scope', async () => {
    const reader = await app('com.example.reader');
    person.answers = [{ decision: 'always' }];
    demo.stats.reset();
    const t = await reader.getAuthTokens({ scope: 'api:read' });
    seenSecrets.add(t.accessToken);
    expect(t.scope).toBe('api:read');
    const refreshes = demo.stats.tokenRequests.filter((r) => r.grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.scope).toBe('api:read');
    // A JWT for the demo API: its scope claim is only what was granted.
    const claims = jose.decodeJwt(t.accessToken);
    expect(String(claims.scope).split(' ')).toEqual(['api:read']);
    // Asking for more than the grant is a new question, not a silent upgrade.
    await expect(reader.tryGetAuthTokens({ scope: 'api:read api:write' })).rejects.toMatchObject({ code: 'consent_required' });
  });

  it('resource-bound tokens: the token is for the requested API (RFC 8707) and cached apart', async () => {
    const client = await app('com.example.resource');
    // The resource the sign-in was granted for (RFC 8707 §2.2: a refresh may only narrow to those).
    const resource = DEMO_API_RESOURCE;
    person.answers = [{ decision: 'always' }];
    const t = await client.getAuthTokens({ scope: 'api:write', resource });
    seenSecrets.add(t.accessToken);
    expect(t.resource).toBe(resource);
    expect(jose.decodeJwt(t.accessToken).aud).toBe(resource);
    // The grant is for that resource only.
    await expect(client.tryGetAuthTokens({ scope: 'api:write' })).rejects.toMatchObject({ code: 'consent_required' });
    await expect(client.tryGetAuthTokens({ scope: 'api:write', resource: 'not a uri' })).rejects.toMatchObject({ code: 'usage' });
  });

  it('two apps are isolated: each has its own token, and revoking one leaves the other working', async () => {
    // Opaque tokens for userinfo (`openid`, no API resource), so the provider can say whether each is still active.
    const a = await app('com.example.iso-a');
    const b = await app('com.example.iso-b');
    person.answers = [{ decision: 'always' }, { decision: 'always' }];
    const ta = await a.getAuthTokens({ scope: 'openid profile' });
    const tb = await b.getAuthTokens({ scope: 'openid profile' });
    seenSecrets.add(ta.accessToken).add(tb.accessToken);
    expect(ta.accessToken).not.toBe(tb.accessToken);

    const events: AppEvent[] = [];
    a.onEvent((e) => events.push(e));
    await a.accounts(); // the subscription is in place once a call has gone through
    demo.stats.reset();
    const revoked = await owner.call<{ revoked: unknown[] }>('admin.apps.revoke', { app: 'com.example.iso-a' });
    expect(revoked.revoked).toHaveLength(1);
    await waitFor(() => events.length > 0, 'the grant.revoked event');
    expect(events[0]).toMatchObject({ type: 'grant.revoked' });
    await expect(a.tryGetAuthTokens({ scope: 'openid profile' })).rejects.toMatchObject({ code: 'consent_required' });
    // Latchkey forgot A's token without touching the provider (which would revoke the whole grant, see
    // revokeAppTokensAtProvider); B's token still works and is still served from cache.
    expect(demo.stats.revocations).toBe(0);
    expect(await introspect(tb.accessToken)).toBe(true);
    expect((await b.tryGetAuthTokens({ scope: 'openid profile' })).accessToken).toBe(tb.accessToken);
  });

  it('a repeated tryGet on one connection is answered without the broker, until the grant is revoked', async () => {
    const broker = agent.core.broker;
    const slow = broker.tryGetReusable.bind(broker);
    let slowCalls = 0;
    broker.tryGetReusable = (...args) => (slowCalls++, slow(...args));
    try {
      const c = await app('com.example.repeat');
      person.answers = [{ decision: 'always' }];
      const granted = await c.getAuthTokens({ scope: 'openid email' });
      const first = await c.tryGetAuthTokens({ scope: 'openid email' });
      const calls = slowCalls;
      for (let i = 0; i < 5; i++) expect(await c.tryGetAuthTokens({ scope: 'openid email' })).toEqual(first);
      expect(slowCalls).toBe(calls);
      expect(first.accessToken).toBe(granted.accessToken);
      // Other params are another question; a new connection starts with nothing remembered.
      expect((await c.tryGetAuthTokens({ scope: 'email' })).scope).toBe('email');
      expect(await (await app('com.example.repeat')).tryGetAuthTokens({ scope: 'openid email' })).toEqual(first);
      expect(slowCalls).toBe(calls + 2);

      await owner.call('admin.apps.revoke', { app: 'com.example.repeat' });
      await expect(c.tryGetAuthTokens({ scope: 'openid email' })).rejects.toMatchObject({ code: 'consent_required' });
    } finally {
      broker.tryGetReusable = slow;
    }
  });

  it('the remembered tryGet answer never outlives its token: dropped, revoked, near its min TTL, or due for audit, the broker decides again', async () => {
    const broker = agent.core.broker;
    const slow = broker.tryGetReusable.bind(broker);
    let slowCalls = 0;
    broker.tryGetReusable = (...args) => (slowCalls++, slow(...args));
    const issued = () => broker.auditLog().filter((e) => e.appId === 'com.example.memo' && e.event === 'token_issued').length;
    const ask = { scope: 'openid email', minTtl: 600 };
    try {
      const c = await app('com.example.memo');
      person.answers = [{ decision: 'always' }];
      await c.getAuthTokens(ask);
      const warm = async () => {
        const t = await c.tryGetAuthTokens(ask);
        const calls = slowCalls;
        expect(await c.tryGetAuthTokens(ask)).toEqual(t);
        expect(slowCalls).toBe(calls);
        return t;
      };

      // The owner's tool reports the token rejected: the vault drops it, and the next answer is a new token.
      const t1 = await warm();
      await owner.call('admin.token.drop', { access_token: t1.accessToken });
      const t2 = await c.tryGetAuthTokens(ask);
      expect(t2.accessToken).not.toBe(t1.accessToken);

      // The app gives its tokens up on another connection: this connection's memo must not hand it out.
      await warm();
      const other = await app('com.example.memo');
      expect(await other.revokeAuthToken()).toBe(1);
      const t3 = await c.tryGetAuthTokens(ask);
      expect(t3.accessToken).not.toBe(t2.accessToken);
      seenSecrets.add(t3.accessToken);

      // Near the request's min TTL (600 s): 500 s left is not enough, so the broker refreshes.
      await warm();
      clock.offsetMs = t3.expiresAtS! * 1000 - Date.now() - 500_000;
      const t4 = await c.tryGetAuthTokens(ask);
      expect(t4.accessToken).not.toBe(t3.accessToken);
      expect(t4.expiresAtS! * 1000 - (Date.now() + clock.offsetMs)).toBeGreaterThan(600_000);
      seenSecrets.add(t4.accessToken);

      // A minute on, the same token is audited again: the memo yields to the broker once, which records it.
      await warm();
      const before = issued();
      const calls = slowCalls;
      clock.offsetMs += 61_000;
      expect((await c.tryGetAuthTokens(ask)).accessToken).toBe(t4.accessToken);
      expect(slowCalls).toBe(calls + 1);
      expect(issued()).toBe(before + 1);
    } finally {
      broker.tryGetReusable = slow;
      clock.offsetMs = 0;
    }
  });

  it('tokens.revoke: an app gives its own token up; the next request gets a fresh one silently', async () => {
    const c = await app('com.example.iso-b');
    const before = await c.tryGetAuthTokens({ scope: 'openid profile' });
    expect(await c.revokeAuthToken()).toBe(1);
    const after = await c.tryGetAuthTokens({ scope: 'openid profile' });
    seenSecrets.add(after.accessToken);
    expect(after.accessToken).not.toBe(before.accessToken);
  });

  it('impersonation: another key claiming an app id gets nothing of its grant; a key it cannot sign for is refused', async () => {
    // Same app id, different key (another program that knows the name).
    const impostor = await app('com.example.tool', { keyPath: join(dir, 'impostor', 'key.json'), name: 'Example Tool' });
    await expect(impostor.tryGetAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'consent_required' });
    expect(await impostor.accounts()).toEqual([]);
    // Even when the person allows the impostor once, it gets a token of its own, never the real app's cached one.
    const real = await (await app('com.example.tool')).tryGetAuthTokens({ scope: 'email' });
    person.answers = [{ decision: 'once' }];
    const own = await impostor.getAuthTokens({ scope: 'email' });
    seenSecrets.add(own.accessToken);
    expect(own.accessToken).not.toBe(real.accessToken);

    // The real app's public key, but no private key: the proof fails, nothing else works on that connection.
    const realKey = JSON.parse(await readFile(join(dir, 'apps', 'com.example.tool', 'key.json'), 'utf8')) as { public_key: string };
    const raw = await connectRpc(paths.socket);
    try {
      await raw.call('hello', { app_id: 'com.example.tool', name: 'Example Tool', version: '1', public_key: realKey.public_key });
      const forged = generateAppKey(); // signs with the wrong key
      const { signChallenge } = await import('./app-key.js');
      await expect(raw.call('hello.prove', { signature: signChallenge(forged.privateKeyPem, Buffer.from('anything')) })).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(raw.call('tokens.tryGet', { scope: 'email' })).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(raw.call('accounts.list', {})).rejects.toMatchObject({ code: 'unauthorized' });
    } finally {
      await raw.close();
    }
  });

  it('an app cannot use the owner methods, and a wrong owner key is refused', async () => {
    const raw = await connectRpc(paths.socket);
    try {
      await expect(raw.call('admin.token', {})).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(raw.call('admin.apps.list', {})).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(raw.call('admin.hello', { owner_key: 'guessed-guessed-guessed' })).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(raw.call('admin.token', {})).rejects.toMatchObject({ code: 'unauthorized' });
    } finally {
      await raw.close();
    }
    // A proven app cannot become the owner on the same connection, even with the key.
    const ownerKey = (await readFile(paths.ownerKey, 'utf8')).trim();
    const appConn = await connectRpc(paths.socket);
    try {
      await appConn.call('hello', { app_id: 'com.example.sneaky', name: 'Sneaky', version: '1', public_key: generateAppKey().publicKey });
      await expect(appConn.call('admin.hello', { owner_key: ownerKey })).rejects.toMatchObject({ code: 'unauthorized' });
    } finally {
      await appConn.close();
    }
  });

  it('malformed app requests get typed errors, never a crash', async () => {
    const c = await app('com.example.tool');
    const raw = await connectRpc(paths.socket);
    try {
      await expect(raw.call('hello', { app_id: 'Not Valid!', name: 'x', version: '1', public_key: 'x' })).rejects.toMatchObject({ code: 'usage' });
      await expect(raw.call('hello', { app_id: 'com.example.x', name: 'x\u202eevil', version: '1', public_key: generateAppKey().publicKey })).rejects.toMatchObject({ code: 'usage' });
      await expect(raw.call('hello', [])).rejects.toMatchObject({ code: 'usage' });
    } finally {
      await raw.close();
    }
    await expect(c.tryGetAuthTokens({ minTtl: -5 })).rejects.toMatchObject({ code: 'usage' });
    await expect(c.tryGetAuthTokens({ scope: 'email', account: 'nobody@nowhere' })).rejects.toMatchObject({ code: 'consent_required' });
  });

  it('signing out an account tells the apps that held it, and removes their grants', async () => {
    const tool = await app('com.example.tool');
    const events: AppEvent[] = [];
    tool.onEvent((e) => events.push(e));
    // Same app id, another key: it must not hear about the real app's accounts.
    const impostor = await app('com.example.tool', { keyPath: join(dir, 'impostor', 'key.json') });
    const overheard: AppEvent[] = [];
    impostor.onEvent((e) => overheard.push(e));
    await impostor.accounts();
    const [account] = await tool.accounts();
    expect(account).toBeTruthy();
    await owner.call('admin.logout', { account: account!.id });
    await waitFor(() => events.some((e) => e.type === 'account.signed_out'), 'the account.signed_out event');
    expect(events.find((e) => e.type === 'account.signed_out')).toEqual({ type: 'account.signed_out', account: account!.id });
    expect(overheard).toEqual([]);
    await expect(tool.tryGetAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'consent_required' });
    const { grants } = await owner.call<{ grants: Array<{ account: string }> }>('admin.apps.list', {});
    expect(grants.filter((g) => g.account === account!.id)).toEqual([]);
  });

  it('the audit log names app, account, scope and decision; no token, code or key reaches the log or the vault in clear', async () => {
    await agent.core.broker.flush();
    const { entries, intact } = await owner.call<{ entries: Array<Record<string, unknown>>; intact: boolean }>('admin.activity', { limit: 500 });
    expect(intact).toBe(true);
    // Kept in its own encrypted, chained file, not in the vault document (which every token write rewrites).
    expect(agent.core.store.read().audit).toEqual([]);
    const auditFile = await readFile(paths.audit, 'utf8');
    expect(auditFile).not.toContain('com.example');
    const events = new Set(entries.map((e) => e.event));
    for (const e of ['token_issued', 'consent_granted', 'consent_denied', 'grant_revoked', 'token_revoked']) expect(events).toContain(e);
    expect(entries.find((e) => e.event === 'token_issued' && e.appId === 'com.example.reader')).toMatchObject({ scope: 'api:read', account: expect.any(String) });
    // The tool was handed the same cached token twice within a minute: one entry, not one per call.
    expect(entries.filter((e) => e.event === 'token_issued' && e.appId === 'com.example.tool' && sorted(String(e.scope)) === 'email openid')).toHaveLength(1);
    const vault = await readFile(paths.vault, 'utf8');
    const log = logLines.join('');
    expect(seenSecrets.size).toBeGreaterThan(5);
    for (const s of seenSecrets) {
      expect(vault).not.toContain(s);
      expect(log).not.toContain(s);
    }
    expect(log).not.toContain((await readFile(paths.ownerKey, 'utf8')).trim());
    expect(log).not.toMatch(/PRIVATE KEY/);
  });

  it('the socket is the owner\'s alone (0600 in a 0700 directory)', async () => {
    const { stat } = await import('node:fs/promises');
    expect((await stat(paths.socket)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.ownerKey)).mode & 0o777).toBe(0o600);
    // A connection from another user is refused by the kernel: see peer-process.test.ts ("second user").
    await new Promise<void>((resolve, reject) => {
      const s = connect(paths.socket, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  });

  /** Whether the provider still accepts the token: its userinfo endpoint answers 200 or 401. */
  async function introspect(token: string): Promise<boolean> {
    const res = await fetch(`${demo.issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200 && res.status !== 401) throw new Error(`userinfo answered ${res.status}`);
    return res.status === 200;
  }

});

function sorted(scope: string): string {
  return scope.split(' ').sort().join(' ');
}

async function realExe(): Promise<string> {
  const { readlink } = await import('node:fs/promises');
  return readlink('/proc/self/exe');
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
