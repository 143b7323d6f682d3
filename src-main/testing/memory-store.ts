/**
 * A {@link DocumentStore} in memory, for tests of the engine and tools that
 * need no persistence. It keeps the vault's semantics (vault/vault.ts), so a
 * test fails where the product would: updates run one at a time on an immer
 * draft, a mutator that throws changes nothing, a whole new document is
 * copied as JSON (as the vault stores it), and every document handed out is
 * deep-frozen, so code that changes stored state outside `update` throws here
 * as it would against the real vault.
 */
import { createDraft, finishDraft, freeze, type Objectish } from 'immer';
import type { DocumentStore } from '../store/vault-document.js';

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
    const draft = createDraft(this.#doc as Objectish) as T;
    let result: T | void;
    try {
      result = await mutator(draft);
    } catch (err) {
      finishDraft(draft);
      throw err;
    }
    if (result !== undefined && result !== draft) {
      // A whole new document may hold pieces of the draft: copy it out before the draft is finished.
      const replacement = JSON.parse(JSON.stringify(result)) as T;
      finishDraft(draft);
      this.#doc = freeze(replacement, true);
    } else {
      this.#doc = freeze(finishDraft(draft) as T, true);
    }
    return this.#doc;
  }
}
