/**
 * Asking the person whether an app may have a token. The rules:
 * - concurrent asks of one app (id, key and program) for the same provider,
 *   scope and resource share one prompt;
 * - a denial holds for a cool-down: the same ask is refused at once, unasked;
 *   denying one program does not silence another with the same key;
 * - a prompt not answered in time is a denial (a late "allow" too);
 * - whether the app looks like an impostor (impostor-check.ts) is worked out
 *   once, handed to the prompter and recorded;
 * - a caller's cancel ends its own wait's outcome, never the shared prompt;
 * - every decision is recorded.
 */
import { LatchkeyError } from '../errors.js';
import type { AccountSummary } from '../engine/accounts.js';
import { SingleFlight } from '../engine/single-flight.js';
import type { GrantRecord } from '../store/vault-document.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from './consent-prompter.js';
import { impostorWarning } from './impostor-check.js';

/** The app asking, as proven on its connection. */
export interface AskingApp {
  appId: string;
  name: string;
  version?: string;
  publicKey: string;
  fingerprint: string;
  process?: { exePath: string; exeSha256: string };
}

/** What the person is asked to allow. */
export interface ConsentAsk {
  provider: string;
  scope: string;
  resource: string | undefined;
  /** The accounts to choose from; empty when a sign-in will follow. */
  accounts: AccountSummary[];
}

export type Allowed = Extract<ConsentDecision, { decision: 'once' | 'always' }>;

export interface ConsentGateOptions {
  prompter: ConsentPrompter;
  audit: AuditRecorder;
  now: () => number;
  /** The remembered grants now, to tell an impostor. */
  grants: () => readonly GrantRecord[];
  denyCooldownMs: number;
  promptTimeoutMs: number;
}

/** Apps choose the keys of the denial table, so it is capped. */
const MAX_DENIALS = 1000;

export class ConsentGate {
  private readonly prompts = new SingleFlight<ConsentDecision>();
  private readonly deniedUntil = new Map<string, number>();

  constructor(private readonly options: ConsentGateOptions) {}

  /** The person's "once" or "always"; a denial, a timeout or a cool-down is `access_denied`, a cancelled wait `cancelled`. */
  async ask(app: AskingApp, ask: ConsentAsk, signal?: AbortSignal): Promise<Allowed> {
    const key = JSON.stringify([app.appId, app.publicKey, app.process?.exeSha256 ?? null, ask.provider, ask.scope, ask.resource ?? null]);
    const now = this.options.now();
    const until = this.deniedUntil.get(key) ?? 0;
    if (until > now) {
      throw new LatchkeyError('access_denied', `The user denied "${app.name}" access recently; try again in ${Math.ceil((until - now) / 1000)} s.`);
    }
    const decision = await this.prompts.run(key, () => this.prompt(app, ask, key));
    if (signal?.aborted) throw new LatchkeyError('cancelled', 'The request was cancelled.');
    if (decision.decision === 'deny') throw new LatchkeyError('access_denied', decision.reason ?? `The user denied "${app.name}" access.`);
    return decision;
  }

  /** One prompt, shared by every waiting caller: so only its own deadline ends it, not one caller's cancel. */
  private async prompt(app: AskingApp, ask: ConsentAsk, key: string): Promise<ConsentDecision> {
    const { audit, promptTimeoutMs: timeoutMs } = this.options;
    const timeout = AbortSignal.timeout(timeoutMs);
    const warning = impostorWarning(this.options.grants(), app);
    if (warning) audit.impostorSuspected(app, ask.scope, ask.resource, warning);
    const request: ConsentRequest = {
      app: {
        id: app.appId,
        name: app.name,
        fingerprint: app.fingerprint,
        ...(app.version ? { version: app.version } : {}),
        ...(app.process ? { exePath: app.process.exePath, exeSha256: app.process.exeSha256 } : {}),
      },
      provider: ask.provider,
      accounts: ask.accounts,
      scope: ask.scope,
      timeoutMs,
      ...(ask.resource ? { resource: ask.resource } : {}),
      ...(warning ? { warning } : {}),
    };
    const answer = await this.options.prompter.prompt(request, timeout);
    // Past the deadline, anything but an explicit "deny" (a late "allow", or a prompter settling with no opinion) is the timeout.
    const final: ConsentDecision = timeout.aborted && answer?.decision !== 'deny' ? { decision: 'deny', reason: 'The consent prompt timed out.' } : (answer ?? { decision: 'deny' });
    audit.consentDecided(app, ask.scope, ask.resource, final);
    if (final.decision === 'deny') this.noteDenial(key);
    return final;
  }

  /** Remembers a denial for the cool-down; expired ones are dropped and the table is capped. */
  private noteDenial(key: string): void {
    const now = this.options.now();
    if (this.deniedUntil.size >= MAX_DENIALS) {
      for (const [k, until] of this.deniedUntil) if (until <= now) this.deniedUntil.delete(k);
      // Still full of live denials: forget the oldest; the worst case is one prompt sooner.
      while (this.deniedUntil.size >= MAX_DENIALS) this.deniedUntil.delete(this.deniedUntil.keys().next().value!);
    }
    this.deniedUntil.set(key, now + this.options.denyCooldownMs);
  }
}
