/**
 * The person at the consent prompt, scripted for tests: each prompt takes the
 * next answer; "hang" never answers (the prompt's deadline ends it with no
 * opinion). A prompt nobody scripted fails the test loudly.
 */
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from '../broker/consent-prompter.js';

export class ScriptedPerson implements ConsentPrompter {
  readonly name = 'scripted';
  readonly asked: ConsentRequest[] = [];
  answers: Array<ConsentDecision | 'hang'> = [];

  /** `thinkMs`: how long the person takes, so concurrent requests arrive while the prompt is open. */
  constructor(private readonly thinkMs = 0) {}

  async prompt(r: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision | undefined> {
    this.asked.push(r);
    const answer = this.answers.shift();
    if (answer === undefined) throw new Error(`unexpected consent prompt for ${r.app.id} (${r.scope})`);
    if (answer === 'hang') return new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
    if (this.thinkMs) await new Promise((resolve) => setTimeout(resolve, this.thinkMs));
    return answer;
  }
}
