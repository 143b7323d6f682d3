/**
 * Consent on the agent's own terminal (`latchkey agent --foreground`). Prompts
 * are asked one at a time, so two apps can never answer each other's question.
 */
import { createInterface } from 'node:readline';
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from './consent-prompter.js';
import { consentText } from './consent-prompter.js';

export class TerminalPrompter implements ConsentPrompter {
  readonly name = 'terminal';
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream,
  ) {}

  prompt(request: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision> {
    const next = this.queue.then(() => this.ask(request, signal));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async ask(r: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision> {
    if (signal.aborted) return { decision: 'deny', reason: 'The consent prompt timed out.' };
    const rl = createInterface({ input: this.input, output: this.output, terminal: false });
    const question = (text: string) =>
      new Promise<string | undefined>((resolve) => {
        const onAbort = () => resolve(undefined);
        signal.addEventListener('abort', onAbort, { once: true });
        rl.question(text, (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer.trim().toLowerCase());
        });
      });
    try {
      this.output.write(`\n── Latchkey: ${r.warning ? 'WARNING, this may not be the app you allowed' : 'an app asks for access'} ──\n${consentText(r)}\n`);
      const seconds = Math.round(r.timeoutMs / 1000);
      // With a warning, deny comes first and a bare Enter denies: the safe answer is the easy one.
      const ask = r.warning ? `[D]eny (Enter), allow [o]nce, or [a]lways? (denied in ${seconds} s) ` : `Allow [o]nce, [a]lways, or [d]eny? (denied in ${seconds} s) `;
      for (let attempt = 0; attempt < 3; attempt++) {
        const answer = await question(ask);
        if (answer === undefined) {
          this.output.write('\nNo answer: denied.\n');
          return { decision: 'deny', reason: 'The consent prompt timed out.' };
        }
        const decision = answer.startsWith('a') ? 'always' : answer.startsWith('o') ? 'once' : answer.startsWith('d') || (r.warning && answer === '') ? 'deny' : undefined;
        if (decision === 'deny') return { decision };
        // Awaited here: the `finally` below must not close the line reader while the account question is open.
        if (decision) return await this.chooseAccount(r, decision, question);
      }
      return { decision: 'deny', reason: 'No valid answer.' };
    } finally {
      rl.close();
    }
  }

  private async chooseAccount(
    r: ConsentRequest,
    decision: 'once' | 'always',
    question: (text: string) => Promise<string | undefined>,
  ): Promise<ConsentDecision> {
    if (r.accounts.length <= 1) return r.accounts[0] ? { decision, account: r.accounts[0].id } : { decision };
    r.accounts.forEach((a, i) => this.output.write(`  ${i + 1}. ${a.email ?? a.name ?? a.subject} (${a.id})\n`));
    const answer = await question('Which account? ');
    const index = Number(answer) - 1;
    const account = r.accounts[index];
    return account ? { decision, account: account.id } : { decision: 'deny', reason: 'No account chosen.' };
  }
}
