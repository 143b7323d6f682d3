/**
 * The broker's decisions, over an in-memory vault and the real engine: tokens
 * the app already holds are cached in the vault, so no provider is needed
 * except where a sign-in must start (the demo provider on 127.0.0.1; the
 * "browser" only records the sign-in it was asked to open). Only the person
 * at the prompt is scripted.
 *
 * Pinned here: each `get()` outcome (a grant's token, a sign-in, consent,
 * a denial's cool-down) and the cases where the broker's four copies of
 * "find an account by id or email" disagreed with the CLI's lookup.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captureLog } from '../testing/capture-log.js';
import { waitFor } from '../testing/cli-home.js';
import { createEngineHarness, type EngineHarness } from '../testing/engine-harness.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { startDemoProvider, DEMO_CLIENT_ID, type DemoProvider } from '../demo/demo-provider.js';
import { accountIdFor } from '../engine/accounts.js';
import { normaliseScope } from '../engine/scope.js';
import type { AccountRecord, GrantRecord, ProviderRecord } from '../store/vault-document.js';
import { generateAppKey, keyFingerprint } from './app-key.js';
import { TokenBroker, type BrokerApp } from './token-broker.js';

const SCOPE = normaliseScope('openid email');
const HOUR = 3600_000;

describe('TokenBroker decisions', () => {
  const { logger } = captureLog();
  let demo: DemoProvider;
  let harness: EngineHarness;
  let broker: TokenBroker;
  let person: ScriptedPerson;
  const signIns: string[] = [];
  const key = generateAppKey();
  const app: BrokerApp = { appId: 'com.example.tool', name: 'Example Tool', publicKey: key.publicKey, fingerprint: keyFingerprint(key.publicKey) };
  const owner = `${app.appId} ${app.fingerprint}`;

  function provider(name: string, issuer: string): ProviderRecord {
    return { name, issuer, clientId: DEMO_CLIENT_ID, scope: 'openid email', redirect: 'loopback', kind: 'user', createdAt: 0 };
  }

  /** An account holding a cached token minted for the app, so issuing needs no provider. */
  function account(providerName: string, subject: string, claims: AccountRecord['claims'], overrides: Partial<AccountRecord> = {}): AccountRecord {
    const now = Date.now();
    return {
      id: accountIdFor(providerName, `https://${providerName}.example`, subject),
      provider: providerName,
      subject,
      claims,
      status: 'active',
      scope: SCOPE,
      tokens: [{ accessToken: `at-${subject}`, tokenType: 'Bearer', expiresAt: now + HOUR, scope: SCOPE, appId: owner, obtainedAt: now }],
      createdAt: now,
      updatedAt: now,
      ...overrides,
    };
  }

  function grant(a: AccountRecord, lastUsedAt?: number): GrantRecord {
    return { id: `grant-${a.subject}`, appId: app.appId, appName: app.name, publicKey: app.publicKey, account: a.id, scope: SCOPE, mode: 'always', createdAt: 1, ...(lastUsedAt ? { lastUsedAt } : {}) };
  }

  const alice = account('work', 'alice', { email: 'alice@example.test', preferredUsername: 'alice' });
  // The same email at the person's other provider.
  const aliceHome = account('home', 'alice-home', { email: 'Alice@Example.test' });
  const bob = account('work', 'bob', { email: 'bob@example.test' });

  async function seed(accounts: AccountRecord[], grants: GrantRecord[]): Promise<void> {
    await harness.store.update((d) => {
      d.providers = [provider('work', demo.issuer), provider('home', demo.issuer)];
      d.accounts = accounts;
      d.grants = grants;
    });
  }

  beforeAll(async () => {
    demo = await startDemoProvider({ logger });
  });

  afterAll(async () => {
    await demo?.close();
  });

  beforeEach(() => {
    harness = createEngineHarness(logger);
    person = new ScriptedPerson();
    signIns.length = 0;
    broker = new TokenBroker({
      store: harness.store,
      engine: harness.engine,
      prompter: person,
      browser: { open: async (url) => void signIns.push(url) },
      logger,
      flushDelayMs: 60_000,
    });
  });

  describe('get(): one decision path', () => {
    it('a grant covers the request: its token, nobody asked, no sign-in', async () => {
      await seed([alice], [grant(alice)]);
      const token = await broker.get(app, {});
      expect(token).toMatchObject({ accessToken: 'at-alice', account: alice.id, scope: SCOPE });
      expect(person.asked).toHaveLength(0);
      expect(signIns).toHaveLength(0);
      expect(broker.listGrants()[0]!.lastUsedAt).toBeGreaterThan(Date.now() - 60_000);
    });

    it('a grant whose account needs a sign-in: the sign-in starts, nobody is asked (cancelled here)', async () => {
      await seed([{ ...alice, status: 'sign_in_needed' }], [grant(alice)]);
      await expect(broker.tryGet(app, {})).rejects.toMatchObject({ code: 'login_required' });
      const controller = new AbortController();
      const pending = broker.get(app, {}, controller.signal);
      await waitFor(() => signIns.length === 1, 'the sign-in to open');
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
      expect(new URL(signIns[0]!).origin).toBe(demo.issuer);
      expect(person.asked).toHaveLength(0);
    });

    it('no grant: the person is asked; "once" gives the token and remembers nothing', async () => {
      await seed([alice], []);
      await expect(broker.tryGet(app, { provider: 'work', scope: SCOPE })).rejects.toMatchObject({ code: 'consent_required' });
      person.answers = [{ decision: 'once' }];
      const token = await broker.get(app, { provider: 'work', scope: SCOPE });
      expect(token).toMatchObject({ accessToken: 'at-alice', account: alice.id });
      expect(person.asked).toHaveLength(1);
      expect(person.asked[0]!.accounts.map((a) => a.id)).toEqual([alice.id]);
      expect(broker.listGrants()).toEqual([]);
      expect(broker.auditLog().map((e) => [e.event, e.detail])).toEqual([
        ['consent_granted', 'once'],
        ['token_issued', 'allowed once'],
      ]);
    });

    it('an allowed account that lacks the scope asked for: a sign-in starts (before, the app got login_required and, with "once", was asked again forever)', async () => {
      await seed([{ ...alice, scope: 'openid' }], []);
      person.answers = [{ decision: 'once' }];
      const controller = new AbortController();
      const pending = broker.get(app, { provider: 'work', scope: SCOPE }, controller.signal);
      await waitFor(() => signIns.length === 1, 'the sign-in to open');
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
      expect(new URL(signIns[0]!).searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    });

    it('a denial: access_denied, and the same ask is refused unasked during the cool-down', async () => {
      await seed([alice], []);
      person.answers = [{ decision: 'deny' }];
      await expect(broker.get(app, { provider: 'work', scope: SCOPE })).rejects.toMatchObject({ code: 'access_denied' });
      await expect(broker.get(app, { provider: 'work', scope: SCOPE })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/recently/) });
      expect(person.asked).toHaveLength(1);
    });
  });

  describe('naming the account: the one lookup, where the broker used to disagree with the CLI', () => {
    it('an email in another case, or a user name, names the granted account (before: consent_required)', async () => {
      await seed([alice, bob], [grant(alice), grant(bob)]);
      expect(await broker.tryGet(app, { account: 'ALICE@example.TEST' })).toMatchObject({ account: alice.id });
      expect(await broker.tryGet(app, { account: 'alice' })).toMatchObject({ account: alice.id });
      expect(await broker.tryGet(app, { account: bob.id })).toMatchObject({ account: bob.id });
    });

    it('an email two granted accounts share is a usage error, not the most recently used one; the provider settles it', async () => {
      await seed([alice, aliceHome], [grant(alice, Date.now()), grant(aliceHome)]);
      await expect(broker.tryGet(app, { account: 'alice@example.test' })).rejects.toMatchObject({ code: 'usage' });
      await expect(broker.get(app, { account: 'alice@example.test' })).rejects.toMatchObject({ code: 'usage' });
      expect(await broker.tryGet(app, { account: 'alice@example.test', provider: 'home' })).toMatchObject({ account: aliceHome.id });
      expect(person.asked).toHaveLength(0);
    });

    it('an account at another provider than the one named is not found, and nobody is asked (before: a prompt for the other provider)', async () => {
      await seed([alice, aliceHome], []);
      await expect(broker.get(app, { provider: 'home', account: alice.id })).rejects.toMatchObject({ code: 'not_found' });
      await expect(broker.get(app, { account: 'nobody@example.test' })).rejects.toMatchObject({ code: 'not_found' });
      expect(person.asked).toHaveLength(0);
    });

    it('asking by a name offers the person exactly that account', async () => {
      await seed([alice, bob], []);
      person.answers = [{ decision: 'always' }];
      await broker.get(app, { account: 'Bob@Example.test', scope: SCOPE });
      expect(person.asked[0]!.accounts.map((a) => a.id)).toEqual([bob.id]);
      expect(broker.listGrants().map((g) => g.account)).toEqual([bob.id]);
    });

    it('the person revokes a grant naming the account by email (before: not_found); a shared email is a usage error', async () => {
      await seed([alice, bob, aliceHome], [grant(alice), grant(bob), grant(aliceHome)]);
      await expect(broker.revokeGrant(app.appId, 'alice@example.test')).rejects.toMatchObject({ code: 'usage' });
      expect((await broker.revokeGrant(app.appId, 'BOB@example.test')).map((g) => g.account)).toEqual([bob.id]);
      expect(broker.listGrants().map((g) => g.account).sort()).toEqual([alice.id, aliceHome.id].sort());
      await expect(broker.revokeGrant(app.appId, 'bob@example.test')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('an app gives its tokens up for an account by name; a shared email is a usage error (before: the first match)', async () => {
      await seed([alice, bob, aliceHome], [grant(alice)]);
      await expect(broker.revokeTokens(app, 'alice@example.test')).rejects.toMatchObject({ code: 'usage' });
      expect(await broker.revokeTokens(app, 'BOB@example.test')).toBe(1);
      expect(harness.store.read().accounts.find((a) => a.id === bob.id)!.tokens).toEqual([]);
      expect(harness.store.read().accounts.find((a) => a.id === alice.id)!.tokens).toHaveLength(1);
      // A name that fits no account gives nothing up.
      expect(await broker.revokeTokens(app, 'nobody@example.test')).toBe(0);
    });
  });
});
