/** Account identity, the public summary of an account, and choosing one from a selector. */
import { createHash } from 'node:crypto';
import { LatchkeyError } from '../errors.js';
import type { AccountRecord, VaultDocument } from '../store/vault-document.js';

/**
 * Stable, short, non-secret account id: the provider name plus a digest of
 * issuer and subject, so the same person at the same provider is one account
 * and ids never reveal the `sub`.
 */
export function accountIdFor(provider: string, issuer: string, subject: string): string {
  const digest = createHash('sha256').update(`${issuer}\0${subject}`).digest('hex').slice(0, 10);
  return `${provider}-${digest}`;
}

/** What may be shown to the user, the UI and (filtered) to apps: no tokens. */
export interface AccountSummary {
  id: string;
  provider: string;
  subject: string;
  name?: string;
  email?: string;
  username?: string;
  picture?: string;
  status: 'active' | 'sign_in_needed';
  scope: string;
  /** Epoch seconds of the last authentication at the provider. */
  authTime?: number;
}

export function summariseAccount(a: AccountRecord): AccountSummary {
  const s: AccountSummary = { id: a.id, provider: a.provider, subject: a.subject, status: a.status, scope: a.scope };
  if (a.claims.name) s.name = a.claims.name;
  if (a.claims.email) s.email = a.claims.email;
  if (a.claims.preferredUsername) s.username = a.claims.preferredUsername;
  if (a.claims.picture) s.picture = a.claims.picture;
  if (a.authTime !== undefined) s.authTime = a.authTime;
  return s;
}

export interface AccountSelector {
  /** An account id, or an email / username / subject that names exactly one account. */
  account?: string;
  provider?: string;
}

/** Picks one account; ambiguity and absence are usage errors that list the choices. */
export function selectAccount(doc: VaultDocument, selector: AccountSelector): AccountRecord {
  let candidates = doc.accounts;
  if (selector.provider) {
    if (!doc.providers.some((p) => p.name === selector.provider)) {
      throw new LatchkeyError('not_found', `No provider named "${selector.provider}". See \`latchkey provider list\`.`);
    }
    candidates = candidates.filter((a) => a.provider === selector.provider);
  }
  if (selector.account) {
    const wanted = selector.account;
    const exact = candidates.find((a) => a.id === wanted);
    if (exact) return exact;
    candidates = candidates.filter(
      (a) => a.claims.email === wanted || a.claims.preferredUsername === wanted || a.subject === wanted,
    );
    if (candidates.length === 0) {
      throw new LatchkeyError('not_found', `No account "${wanted}". See \`latchkey accounts\` for ids.`);
    }
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    const where = selector.provider ? ` with provider "${selector.provider}"` : '';
    const how = selector.provider ? `latchkey login --provider ${selector.provider}` : 'latchkey login';
    throw new LatchkeyError('login_required', `You are not signed in${where}. Run \`${how}\`.`);
  }
  const list = candidates.map((a) => `${a.id} (${a.claims.email ?? a.claims.preferredUsername ?? a.subject})`).join(', ');
  throw new LatchkeyError('usage', `More than one account matches; choose one with --account: ${list}`);
}
