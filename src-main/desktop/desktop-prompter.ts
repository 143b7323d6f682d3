/**
 * Consent in the desktop app: each request the broker asks about waits in a
 * queue the UI shows, until the person answers or its deadline passes.
 *
 * What it enforces:
 * - an answer is only accepted for a request still waiting, once;
 * - an account chosen in the answer must be one the request offered;
 * - a request whose deadline passes (the broker aborts `signal`) leaves the
 *   queue and counts as "deny", so an unattended prompt never allows anything.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LatchkeyError } from '../errors.js';
import { describeScopes, type ConsentDecision, type ConsentPrompter, type ConsentRequest } from '../broker/consent-prompter.js';
import type { PendingConsent } from '../../src-preload/contract.js';

interface Waiting {
  view: PendingConsent;
  request: ConsentRequest;
  settle: (decision: ConsentDecision) => void;
}

export class DesktopPrompter implements ConsentPrompter {
  readonly name = 'desktop app';
  /** Emits the whole queue whenever it changes. */
  readonly events = new EventEmitter<{ changed: [PendingConsent[]] }>();
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly now: () => number = Date.now) {}

  prompt(request: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision> {
    if (signal.aborted) return Promise.resolve({ decision: 'deny', reason: 'The consent prompt timed out.' });
    const id = randomUUID();
    return new Promise<ConsentDecision>((resolve) => {
      const onAbort = () => this.settle(id, { decision: 'deny', reason: 'The consent prompt timed out.' });
      this.waiting.set(id, {
        view: toView(id, request, this.now() + request.timeoutMs),
        request,
        settle: (decision) => {
          signal.removeEventListener('abort', onAbort);
          resolve(decision);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      this.emitChanged();
    });
  }

  /** The queue, oldest first. */
  pending(): PendingConsent[] {
    return [...this.waiting.values()].map((w) => w.view);
  }

  /** The person's answer from the UI. */
  respond(id: string, answer: { decision: 'once' | 'always' | 'deny'; account?: string }): void {
    const entry = this.waiting.get(id);
    if (!entry) throw new LatchkeyError('not_found', 'That consent request is no longer waiting (it was answered or timed out).');
    if (answer.account && !entry.request.accounts.some((a) => a.id === answer.account)) {
      throw new LatchkeyError('usage', `Account "${answer.account}" was not offered for this request.`);
    }
    this.settle(
      id,
      answer.decision === 'deny'
        ? { decision: 'deny', reason: `You denied "${entry.request.app.name}" access.` }
        : { decision: answer.decision, ...(answer.account ? { account: answer.account } : {}) },
    );
  }

  /** Denies everything still waiting (the app is quitting). */
  denyAll(reason: string): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, { decision: 'deny', reason });
  }

  private settle(id: string, decision: ConsentDecision): void {
    const entry = this.waiting.get(id);
    if (!entry) return;
    this.waiting.delete(id);
    entry.settle(decision);
    this.emitChanged();
  }

  private emitChanged(): void {
    this.events.emit('changed', this.pending());
  }
}

function toView(id: string, r: ConsentRequest, deadline: number): PendingConsent {
  return {
    id,
    app: { id: r.app.id, name: r.app.name, fingerprint: r.app.fingerprint, ...(r.app.version ? { version: r.app.version } : {}), ...(r.app.exePath ? { exePath: r.app.exePath } : {}) },
    provider: r.provider,
    accounts: r.accounts,
    scope: r.scope,
    scopeWords: describeScopes(r.scope),
    ...(r.resource ? { resource: r.resource } : {}),
    ...(r.warning ? { warning: r.warning } : {}),
    deadline,
  };
}
