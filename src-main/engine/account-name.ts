import type { AccountSummary } from './accounts.js';

/**
 * An account as a person knows it: its email, else its name, and only then
 * Latchkey's internal id. The consent prompt, `latchkey apps` and the desktop's
 * Connected apps name an account the same way, so one can be matched to another.
 */
export function accountName(a: Pick<AccountSummary, 'id' | 'email' | 'name'>): string {
  return a.email ?? a.name ?? a.id;
}
