/**
 * A {@link DocumentStore} in memory, for tests of the engine and tools that
 * need no persistence. It keeps the vault's semantics (its mutators run
 * through the vault's own vault/draft-update.ts), so a test fails where the
 * product would: updates run one at a time on an immer draft, a mutator that
 * throws changes nothing, a whole new document is copied as JSON (as the
 * vault stores it), and every document handed out is deep-frozen, so code
 * that changes stored state outside `update` throws here as it would against
 * the real vault.
 */
import { freeze } from 'immer';
import type { DocumentStore } from '../store/vault-document.js';
import { runMutator } from '../vault/draft-update.js';

export class MemoryStore<T> implements DocumentStore<T> {
  #doc: T;
  /** Tail of the update chain; never rejects, so one failed update does not block the next. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(initial: T) {
    this.#doc = freeze(structuredClone(initial), true);
  }

  read(): T {
    return this.#doc;
  }

  update(mutator: (draft: T) => T | void | Promise<T | void>): Promise<T> {
    const run = this.#queue.then(() => this.#apply(mutator));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(mutator: (draft: T) => T | void | Promise<T | void>): Promise<T> {
    const outcome = await runMutator(this.#doc, mutator);
    this.#doc = freeze('replacement' in outcome ? (outcome.replacement as T) : outcome.next, true);
    return this.#doc;
  }
}
