/**
 * Asking the person whether an app may have tokens. Consent only ever comes
 * from a UI the agent controls — its own terminal, a desktop dialog it starts,
 * a policy file in its data directory, or (later) the desktop app's window —
 * never from a socket client.
 *
 * Prompters are chained: the first one with an answer wins, so a policy can
 * pre-approve or pre-deny apps on servers and everything else is asked.
 */
import type { AccountSummary } from '../engine/accounts.js';
import { accountName } from '../engine/account-name.js';
import { parseScope } from '../engine/scope.js';
import type { ConsentWarning } from './impostor-check.js';

export interface ConsentRequest {
  app: {
    id: string;
    /** As the app claimed it; only the key and the executable are verified. */
    name: string;
    version?: string;
    /** Fingerprint of the app key that the app proved it holds. */
    fingerprint: string;
    /** Linux: the executable of the process on the other end of the socket. */
    exePath?: string;
    exeSha256?: string;
  };
  provider: string;
  /** Accounts the person may choose from; empty means a sign-in will follow. */
  accounts: AccountSummary[];
  scope: string;
  resource?: string;
  /** How long the prompt may stay open before it counts as "deny". */
  timeoutMs: number;
  /** Set when the app looks like another program pretending to be one already allowed (impostor-check.ts). */
  warning?: ConsentWarning;
}

export type ConsentDecision = { decision: 'once' | 'always'; account?: string } | { decision: 'deny'; reason?: string };

export interface ConsentPrompter {
  readonly name: string;
  /**
   * Returns the person's decision, or `undefined` when this prompter has no
   * opinion (a policy without a matching rule) so the next one is asked.
   * Must settle promptly when `signal` aborts.
   */
  prompt(request: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision | undefined>;
}

const SCOPE_WORDS: Record<string, string> = {
  openid: 'know who you are',
  profile: 'see your name and picture',
  email: 'see your email address',
  offline_access: 'stay signed in while you are away',
  address: 'see your postal address',
  phone: 'see your phone number',
};

/** Scopes in plain words, for prompts; unknown scopes are quoted as they are. */
export function describeScopes(scope: string): string[] {
  return parseScope(scope).map((s) => {
    const known = SCOPE_WORDS[s];
    if (known) return known;
    const api = /^([a-z0-9_-]+):(read|write)$/i.exec(s);
    if (api) return `${api[2] === 'read' ? 'read' : 'change'} your ${api[1]} data ("${s}")`;
    return `use the permission "${s}"`;
  });
}

/** One paragraph a person can decide on: who asks, what for, and what is verified. */
export function consentText(r: ConsentRequest): string {
  const who = `"${r.app.name}" (app id ${r.app.id}${r.app.version ? `, version ${r.app.version}` : ''})`;
  const verified = [`key ${r.app.fingerprint}`, r.app.exePath ? `program ${r.app.exePath}` : undefined].filter(Boolean).join(', ');
  const account =
    r.accounts.length === 1 ? `your ${r.provider} account ${accountName(r.accounts[0]!)}` : `your ${r.provider} account`;
  return [
    ...(r.warning ? [`WARNING: ${r.warning.message}`, ''] : []),
    `${who} wants to use ${account}${r.resource ? ` for ${r.resource}` : ''} to:`,
    ...describeScopes(r.scope).map((d) => `  • ${d}`),
    `Verified: ${verified}. The name is as the app claims it.`,
  ].join('\n');
}

/** Asks each prompter in turn; the first answer wins. No answer at all is a denial. */
export class ChainPrompter implements ConsentPrompter {
  readonly name: string;
  constructor(private readonly prompters: ConsentPrompter[]) {
    this.name = prompters.map((p) => p.name).join(' → ') || 'none';
  }

  async prompt(request: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision> {
    for (const p of this.prompters) {
      // Past the deadline nobody else is asked: the answer is "deny", whatever the next prompter would say.
      if (signal.aborted) return { decision: 'deny', reason: 'The consent prompt timed out.' };
      const decision = await p.prompt(request, signal);
      if (decision) return decision;
    }
    return { decision: 'deny', reason: 'Latchkey has no way to ask you here (no terminal, no desktop, no policy rule). Add the app to the policy file, or run the agent in a terminal.' };
  }
}
