/**
 * One run of an update's mutator, as the vault defines it: on an immer draft
 * of the current document; a mutator that throws leaves nothing behind; a
 * whole new document it returns is copied out as JSON, since it may hold
 * pieces of the draft, which are revoked when the draft is finished. The
 * in-memory store for tests (testing/memory-store.ts) runs mutators through
 * here too, so tests see the same semantics as the vault.
 */
import { createDraft, enablePatches, finishDraft, type Objectish, type Patch } from 'immer';
import type { Mutator } from './vault.js';

enablePatches();

/** Either a whole new document (plain JSON, not yet validated), or the changed draft with the patches that made it. */
export type DraftOutcome<T> = { replacement: unknown } | { next: T; patches: Patch[] };

export async function runMutator<T>(doc: T, mutator: Mutator<T>): Promise<DraftOutcome<T>> {
  const draft = createDraft(doc as Objectish) as T;
  let result: T | void;
  try {
    result = await mutator(draft);
  } catch (err) {
    finishDraft(draft);
    throw err;
  }
  if (result !== undefined && result !== draft) {
    const replacement: unknown = JSON.parse(JSON.stringify(result));
    finishDraft(draft);
    return { replacement };
  }
  let patches: Patch[] = [];
  const next = finishDraft(draft, (p) => void (patches = p)) as T;
  return { next, patches };
}
