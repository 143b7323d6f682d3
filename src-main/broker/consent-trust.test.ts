/**
 * What a person needs to trust the consent prompt and the activity log,
 * through the real agent, SDK clients, the demo provider and Chromium for
 * sign-ins (only the person at the prompt is scripted):
 * - an app id with a changed key, or an allowed app's name on a new app id,
 *   reaches the prompt with the broker's warning, and the log records it;
 * - the genuine app asking again (for more) gets no warning;
 * - `apps` shows the last use right after "always allow";
 * - tokens handed to the owner (the CLI) are logged as "latchkey CLI", once a minute;
 * - an "allow" with no account while several are signed in fails at once, never starting a sign-in;
 * - signing out logs each grant it ended.
 * The changed-program warning is checked with real binaries in consent-binding.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { captureLog } from '../testing/capture-log.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { RunningAgent } from '../agent/agent-main.js';
import type { RpcClient } from '../wire/rpc-client.js';
import { loginThroughOwner } from '../testing/owner-login.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { chromiumAvailable, CHROMIUM_MISSING, signInAtProvider } from '../testing/browser.js';
import type { LatchkeyClient } from '../sdk/latchkey-client.js';
import { startBrokerHarness, type BrokerHarness } from '../testing/broker-harness.js';
import type { AuditEntry } from '../store/vault-document.js';
import { OWNER_AUDIT_NAME } from './audit-recorder.js';
import { ChainPrompter } from './consent-prompter.js';
import { PolicyFilePrompter } from './policy-prompter.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(`SKIP consent trust tests: ${CHROMIUM_MISSING}`);

describe.skipIf(!hasChromium)('a consent prompt and an activity log a person can trust', () => {
  let harness: BrokerHarness;
  let dir: string;
  let paths: LatchkeyPaths;
  let browser: Browser;
  let agent: RunningAgent;
  let owner: RpcClient;
  const person = new ScriptedPerson();
  const browserOpens: string[] = [];
  const clients: LatchkeyClient[] = [];
  const { logger } = captureLog();

  async function app(id: string, name: string, key = id): Promise<LatchkeyClient> {
    const c = await harness.connectApp({ appId: id, name, keyPath: join(dir, 'keys', `${key}.json`) });
    clients.push(c);
    return c;
  }

  async function activity(params: { app?: string } = {}): Promise<AuditEntry[]> {
    await agent.core.broker.flush();
    return (await owner.call<{ entries: AuditEntry[] }>('admin.activity', params)).entries;
  }

  /**
   * The owner signs in another user, as `latchkey login` does: with no chosen
   * prompt, so the engine asks for consent and the demo provider issues a
   * refresh token (OIDC Core §11). Each sign-in gets a fresh browser context,
   * so the provider has no session to reuse and asks who signs in.
   */
  async function ownerLogin(login: string): Promise<{ id: string }> {
    const { account } = await loginThroughOwner(owner, 'work', (url) => signInAtProvider(browser, url, { login }));
    return account;
  }

  beforeAll(async () => {
    harness = await startBrokerHarness({
      prefix: 'latchkey-trust-',
      logger,
      // The policy file first, as in the agent's default chain; then the (scripted) person.
      prompter: (paths) => new ChainPrompter([new PolicyFilePrompter(paths.policy, logger), person]),
      scope: 'openid profile email offline_access api:read',
      signInAs: (url) => {
        browserOpens.push(url);
        return 'alice';
      },
    });
    ({ dir, paths, browser, agent, owner } = harness);
    // The genuine app is allowed, always; the agent signs alice in for it.
    const notes = await app('com.example.notes', 'Example Notes');
    person.answers = [{ decision: 'always' }];
    await notes.getAuthTokens({ scope: 'email' }, { timeoutMs: 60_000 });
    expect(person.asked[0]!.warning).toBeUndefined();
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    person.answers = [];
  });

  it('"always allow" counts as a use: `apps` shows a last use at once, not "never"', async () => {
    const { grants } = await owner.call<{ grants: Array<{ app: string; last_used_at?: number }> }>('admin.apps.list', {});
    const notes = grants.find((g) => g.app === 'com.example.notes')!;
    expect(notes.last_used_at).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('the same app id with another key: the prompt warns of a key change, and the log records it', async () => {
    const genuine = clients[0]!;
    const impostor = await app('com.example.notes', 'Example Notes', 'impostor');
    expect(impostor.keyFingerprint).not.toBe(genuine.keyFingerprint);
    person.answers = [{ decision: 'deny' }];
    await expect(impostor.getAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'access_denied' });
    expect(person.asked.at(-1)!.warning).toEqual({
      kind: 'key_changed',
      message: `com.example.notes was allowed before with a different key (${genuine.keyFingerprint}); this may be another program pretending to be it.`,
    });
    const entries = await activity({ app: 'com.example.notes' });
    expect(entries).toContainEqual(expect.objectContaining({ event: 'key_changed', keyFingerprint: impostor.keyFingerprint, detail: person.asked.at(-1)!.warning!.message }));
    // Each entry names the key that acted: the impostor's denial is not the genuine app's.
    expect(entries).toContainEqual(expect.objectContaining({ event: 'consent_denied', keyFingerprint: impostor.keyFingerprint }));
    expect(entries).toContainEqual(expect.objectContaining({ event: 'consent_granted', keyFingerprint: genuine.keyFingerprint }));
  });

  it('a new app id claiming the name of an allowed app: the prompt says another app already uses this name', async () => {
    const namesake = await app('com.evil.notes', 'Example Notes');
    person.answers = [{ decision: 'deny' }];
    await expect(namesake.getAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'access_denied' });
    expect(person.asked.at(-1)!.warning).toMatchObject({ kind: 'name_clash', message: expect.stringContaining('Another app already uses the name "Example Notes": com.example.notes') });
    expect(await activity({ app: 'com.evil.notes' })).toContainEqual(expect.objectContaining({ event: 'name_clash', keyFingerprint: namesake.keyFingerprint }));
  });

  it('the genuine app asking for more is asked plainly, with no warning', async () => {
    person.answers = [{ decision: 'once' }];
    await clients[0]!.getAuthTokens({ scope: 'email api:read' });
    expect(person.asked.at(-1)!.warning).toBeUndefined();
  });

  it('tokens handed to the owner are logged as "latchkey CLI", the same token once a minute', async () => {
    const before = (await activity({ app: OWNER_AUDIT_NAME })).length;
    const first = await owner.call<{ access_token: string }>('admin.token', {});
    const second = await owner.call<{ access_token: string }>('admin.token', {});
    expect(second.access_token).toBe(first.access_token);
    const entries = await activity({ app: OWNER_AUDIT_NAME });
    expect(entries.length).toBe(before + 1);
    expect(entries.at(-1)).toMatchObject({ appId: 'latchkey CLI', event: 'token_issued', account: expect.any(String) });
    expect(JSON.stringify(entries)).not.toContain(first.access_token);
  });

  it('several accounts and an "allow" that names none: fails at once, and no sign-in starts', async () => {
    const bob = await ownerLogin('bob');
    const job = await app('com.example.job', 'Example Job');
    const opens = browserOpens.length;
    // A policy rule without "account" has no opinion among several accounts: the person is asked (and here says "once" without choosing).
    await writeFile(paths.policy, JSON.stringify({ rules: [{ app: 'com.example.job', keyFingerprint: job.keyFingerprint, scope: 'email', decision: 'always' }] }));
    person.answers = [{ decision: 'once' }];
    const started = Date.now();
    await expect(job.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/2 work accounts are signed in and the answer named none/) });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(browserOpens.length).toBe(opens);
    expect(person.asked.at(-1)!.accounts).toHaveLength(2);
    // The rule naming an account needs nobody.
    await writeFile(paths.policy, JSON.stringify({ rules: [{ app: 'com.example.job', keyFingerprint: job.keyFingerprint, scope: 'email', decision: 'once', account: bob.id }] }));
    await expect(job.getAuthTokens({ scope: 'email', account: bob.id }, { timeoutMs: 20_000 })).resolves.toMatchObject({ scope: 'email' });
    await rm(paths.policy);
  });

  it('signing out logs each grant it ended', async () => {
    const notesGrant = (await owner.call<{ grants: Array<{ app: string; account: string }> }>('admin.apps.list', {})).grants.find((g) => g.app === 'com.example.notes')!;
    await owner.call('admin.logout', { account: notesGrant.account });
    expect(await activity({ app: 'com.example.notes' })).toContainEqual(
      expect.objectContaining({ event: 'grant_revoked', account: notesGrant.account, detail: 'the account was signed out', keyFingerprint: clients[0]!.keyFingerprint }),
    );
  });
});
