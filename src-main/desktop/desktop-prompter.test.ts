import { describe, expect, it } from 'vitest';
import type { ConsentRequest } from '../broker/consent-prompter.js';
import type { PendingConsent } from '../../src-preload/contract.js';
import { DesktopPrompter } from './desktop-prompter.js';

const request = (overrides: Partial<ConsentRequest> = {}): ConsentRequest => ({
  app: { id: 'com.example.tool', name: 'Example Tool', fingerprint: 'SHA256:abc', exePath: '/usr/bin/tool', exeSha256: 'f00' },
  provider: 'work',
  accounts: [{ id: 'work-1', provider: 'work', subject: 's', status: 'active', scope: 'openid', email: 'a@example.com' }],
  scope: 'openid email',
  timeoutMs: 30_000,
  ...overrides,
});

describe('DesktopPrompter', () => {
  it('queues a request for the UI with its deadline and plain-word scopes, and resolves with the answer', async () => {
    const prompter = new DesktopPrompter(() => 1_000);
    const seen: PendingConsent[][] = [];
    prompter.events.on('changed', (p) => seen.push(p));
    const answer = prompter.prompt(request(), new AbortController().signal);
    const [pending] = prompter.pending();
    expect(pending).toMatchObject({
      app: { id: 'com.example.tool', name: 'Example Tool', fingerprint: 'SHA256:abc', exePath: '/usr/bin/tool' },
      deadline: 31_000,
      scopeWords: ['see your email address', 'know who you are'],
    });
    // The executable's hash is for the broker, not the UI.
    expect(pending!.app).not.toHaveProperty('exeSha256');
    prompter.respond(pending!.id, { decision: 'always', account: 'work-1' });
    await expect(answer).resolves.toEqual({ decision: 'always', account: 'work-1' });
    expect(prompter.pending()).toEqual([]);
    expect(seen.map((s) => s.length)).toEqual([1, 0]);
  });

  it('an unanswered prompt leaves the queue as "deny" when its deadline passes', async () => {
    const prompter = new DesktopPrompter();
    const deadline = new AbortController();
    const answer = prompter.prompt(request(), deadline.signal);
    expect(prompter.pending()).toHaveLength(1);
    deadline.abort();
    await expect(answer).resolves.toMatchObject({ decision: 'deny', reason: expect.stringMatching(/timed out/) });
    expect(prompter.pending()).toEqual([]);
  });

  it('refuses an answer for a request that is gone, or one naming an account that was not offered', async () => {
    const prompter = new DesktopPrompter();
    void prompter.prompt(request(), new AbortController().signal);
    const id = prompter.pending()[0]!.id;
    expect(() => prompter.respond(id, { decision: 'once', account: 'someone-else' })).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(prompter.pending()).toHaveLength(1);
    prompter.respond(id, { decision: 'deny' });
    expect(() => prompter.respond(id, { decision: 'always' })).toThrow(expect.objectContaining({ code: 'not_found' }));
  });

  it('denyAll answers every waiting request with deny', async () => {
    const prompter = new DesktopPrompter();
    const answers = [1, 2].map(() => prompter.prompt(request(), new AbortController().signal));
    prompter.denyAll('quitting');
    for (const a of answers) await expect(a).resolves.toEqual({ decision: 'deny', reason: 'quitting' });
  });
});
