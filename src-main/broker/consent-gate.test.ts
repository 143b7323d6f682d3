/**
 * The consent gate on its own, with a scripted person and a controlled clock:
 * one prompt for concurrent asks, the deny cool-down (and its end), an
 * unanswered or late prompt as a denial, a caller's cancel, and the impostor
 * warning handed to the prompter and recorded.
 */
import { describe, expect, it } from 'vitest';
import { captureLog } from '../testing/capture-log.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { emptyVaultDocument, type GrantRecord } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { generateAppKey, keyFingerprint } from './app-key.js';
import { AuditRecorder } from './audit-recorder.js';
import { ConsentGate, type AskingApp, type ConsentAsk } from './consent-gate.js';
import type { ConsentDecision, ConsentPrompter } from './consent-prompter.js';

const key = generateAppKey();
const app: AskingApp = { appId: 'com.example.tool', name: 'Example Tool', publicKey: key.publicKey, fingerprint: keyFingerprint(key.publicKey) };
const ask: ConsentAsk = { provider: 'work', scope: 'email openid', resource: undefined, accounts: [] };

function gate(prompter: ConsentPrompter, options: { grants?: GrantRecord[]; promptTimeoutMs?: number } = {}) {
  let clock = 1_000_000;
  const { logger } = captureLog();
  const audit = new AuditRecorder({ store: new MemoryStore(emptyVaultDocument()), logger, now: () => clock, maxEntries: 100, onRecord: () => undefined });
  const consent = new ConsentGate({
    prompter,
    audit,
    now: () => clock,
    grants: () => options.grants ?? [],
    denyCooldownMs: 60_000,
    promptTimeoutMs: options.promptTimeoutMs ?? 30_000,
  });
  return { consent, audit, advance: (ms: number) => void (clock += ms) };
}

describe('ConsentGate', () => {
  it('concurrent asks of one app for the same thing share one prompt and its answer', async () => {
    const person = new ScriptedPerson(50);
    person.answers = [{ decision: 'always', account: 'acct-1' }];
    const { consent, audit } = gate(person);
    const answers = await Promise.all([consent.ask(app, ask), consent.ask(app, ask), consent.ask(app, ask)]);
    expect(answers).toEqual(Array(3).fill({ decision: 'always', account: 'acct-1' }));
    expect(person.asked).toHaveLength(1);
    expect(audit.entries().map((e) => [e.event, e.detail, e.account])).toEqual([['consent_granted', 'always', 'acct-1']]);
  });

  it('a denial holds for the cool-down, for this program only, and ends with it', async () => {
    const person = new ScriptedPerson();
    person.answers = [{ decision: 'deny', reason: 'not today' }];
    const { consent, advance } = gate(person);
    await expect(consent.ask(app, ask)).rejects.toMatchObject({ code: 'access_denied', message: 'not today' });
    advance(59_000);
    await expect(consent.ask(app, ask)).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/recently; try again in 1 s/) });
    expect(person.asked).toHaveLength(1);
    // Another program with the same key is asked.
    person.answers = [{ decision: 'once' }];
    expect(await consent.ask({ ...app, process: { exePath: '/usr/bin/other', exeSha256: 'ab'.repeat(32) } }, ask)).toEqual({ decision: 'once' });
    advance(1_000);
    person.answers = [{ decision: 'once' }];
    expect(await consent.ask(app, ask)).toEqual({ decision: 'once' });
    expect(person.asked).toHaveLength(3);
  });

  it('an unanswered prompt is a denial, and so is a late "allow"', async () => {
    const person = new ScriptedPerson();
    person.answers = ['hang'];
    const hanging = gate(person, { promptTimeoutMs: 50 });
    await expect(hanging.consent.ask(app, ask)).rejects.toMatchObject({ code: 'access_denied', message: 'The consent prompt timed out.' });
    const late: ConsentPrompter = {
      name: 'late',
      prompt: (_r, signal) => new Promise<ConsentDecision>((resolve) => signal.addEventListener('abort', () => resolve({ decision: 'always' }), { once: true })),
    };
    const { consent, audit } = gate(late, { promptTimeoutMs: 50 });
    await expect(consent.ask(app, ask)).rejects.toMatchObject({ code: 'access_denied', message: 'The consent prompt timed out.' });
    expect(audit.entries().map((e) => e.event)).toEqual(['consent_denied']);
  });

  it("one caller's cancel ends its own wait, not the prompt the others share", async () => {
    const person = new ScriptedPerson(50);
    person.answers = [{ decision: 'once' }];
    const { consent } = gate(person);
    const controller = new AbortController();
    const cancelled = consent.ask(app, ask, controller.signal);
    const other = consent.ask(app, ask);
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'cancelled' });
    expect(await other).toEqual({ decision: 'once' });
    expect(person.asked).toHaveLength(1);
  });

  it('an app id allowed before with another key reaches the prompt with the warning, and the log records it', async () => {
    const other = generateAppKey();
    const earlier: GrantRecord = { id: 'g1', appId: app.appId, appName: app.name, publicKey: other.publicKey, account: 'acct-1', scope: 'openid', mode: 'always', createdAt: 0 };
    const person = new ScriptedPerson();
    person.answers = [{ decision: 'deny' }];
    const { consent, audit } = gate(person, { grants: [earlier] });
    await expect(consent.ask(app, ask)).rejects.toMatchObject({ code: 'access_denied' });
    expect(person.asked[0]!.warning).toMatchObject({ kind: 'key_changed', message: expect.stringContaining(keyFingerprint(other.publicKey)) });
    expect(audit.entries().map((e) => e.event)).toEqual(['key_changed', 'consent_denied']);
  });
});
