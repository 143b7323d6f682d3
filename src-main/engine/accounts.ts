/** Account identity, the public summary of an account, and choosing one from a selector. */
import { createHash } from 'node:crypto';
import { LatchkeyError } from '../errors.js';
import { indexDocument } from '../store/document-index.js';
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
  /** An account id, or an email / user name / subject that names exactly one account (see {@link matchAccounts}). */
  account?: string;
  provider?: string;
}

/** An account as stored, or as summarised for the UI, a prompt or a policy rule: the rule below reads either. */
type NamedAccount = AccountRecord | AccountSummary;

/**
 * The one rule for finding an account by what a person or an app calls it:
 * `--account` on the command line, an app's `account` param, a policy rule's
 * `account`. In order:
 * 1. an account id, exactly: ids are what Latchkey itself shows and hands
 *    out, and one id is one account;
 * 2. otherwise every account whose email or user name equals `wanted`
 *    ignoring case (people type `Alice@Example.com` for `alice@example.com`,
 *    and providers keep whatever case was registered), or whose subject
 *    equals it exactly (`sub` is an opaque, case-sensitive string, OIDC Core §2).
 *
 * Several matches are the caller's to report, never resolved by list order:
 * a guess could hand out another person's token. {@link findAccount} makes
 * that an error.
 */
export function matchAccounts<T extends NamedAccount>(accounts: readonly T[], wanted: string): T[] {
  const exact = accounts.find((a) => a.id === wanted);
  return exact ? [exact] : matchNames(accounts, wanted);
}

/** Step 2 of {@link matchAccounts}: the accounts called `wanted`, in list order. */
function matchNames<T extends NamedAccount>(accounts: readonly T[], wanted: string): T[] {
  const folded = wanted.toLowerCase();
  const sameName = (name: string | undefined) => name !== undefined && name.toLowerCase() === folded;
  return candidatesByName(accounts, folded).filter((a) => {
    const stored = 'claims' in a;
    return sameName(stored ? a.claims.email : a.email) || sameName(stored ? a.claims.preferredUsername : a.username) || a.subject === wanted;
  });
}

/**
 * A frozen list's accounts by each of their names, case folded, built once per
 * list: the vault hands out the same frozen document until it changes, and an
 * app naming its account by email would otherwise fold every name of every
 * account on each uncached token call. The index only narrows; the rule still decides.
 */
const nameIndexes = new WeakMap<readonly NamedAccount[], Map<string, number[]>>();

function candidatesByName<T extends NamedAccount>(accounts: readonly T[], folded: string): readonly T[] {
  if (!Object.isFrozen(accounts)) return accounts;
  let index = nameIndexes.get(accounts);
  if (!index) {
    index = new Map();
    for (const [i, a] of accounts.entries()) {
      const stored = 'claims' in a;
      const names = [stored ? a.claims.email : a.email, stored ? a.claims.preferredUsername : a.username, a.subject];
      for (const name of new Set(names.filter((n) => n !== undefined).map((n) => n.toLowerCase()))) {
        const positions = index.get(name);
        if (positions) positions.push(i);
        else index.set(name, [i]);
      }
    }
    nameIndexes.set(accounts, index);
  }
  return (index.get(folded) ?? []).map((i) => accounts[i]!);
}

/**
 * The one account `wanted` names ({@link matchAccounts}), or `undefined` when
 * none does (absence means different things to different callers). Several
 * are a `usage` error that lists none of them: the caller may be an app,
 * which must not learn of accounts it was never granted.
 */
export function findAccount<T extends NamedAccount>(accounts: readonly T[], wanted: string): T | undefined {
  return onlyOne(matchAccounts(accounts, wanted), wanted);
}

function onlyOne<T>(matches: readonly T[], wanted: string): T | undefined {
  if (matches.length > 1) throw new LatchkeyError('usage', `"${wanted}" names more than one account; name it by its account id.`);
  return matches[0];
}

/**
 * {@link findAccount} over a vault document, among `selector.provider`'s
 * accounts when it names one. The exact-id step goes through the document's
 * index: apps send back the ids they were given, on every uncached token call.
 */
export function findNamedAccount(doc: VaultDocument, selector: { account: string; provider?: string | undefined }): AccountRecord | undefined {
  const { account: wanted, provider } = selector;
  const byId = indexDocument(doc).accountsById.get(wanted);
  if (byId && (!provider || byId.provider === provider)) return byId;
  // Step 1 found no account of this provider with that id: step 2 among the provider's accounts.
  return onlyOne(matchNames(doc.accounts, wanted).filter((a) => !provider || a.provider === provider), wanted);
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
    candidates = matchAccounts(candidates, selector.account);
    if (candidates.length === 0) {
      throw new LatchkeyError('not_found', `No account "${selector.account}". See \`latchkey accounts\` for ids.`);
    }
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    const where = selector.provider ? ` with provider "${selector.provider}"` : '';
    const how = selector.provider ? `latchkey login --provider ${selector.provider}` : 'latchkey login';
    throw new LatchkeyError('login_required', `You are not signed in${where}. Run \`${how}\`.`);
  }
  // The person's own tool: the choices may be listed.
  const list = candidates.map((a) => `${a.id} (${a.claims.email ?? a.claims.preferredUsername ?? a.subject})`).join(', ');
  throw new LatchkeyError('usage', `More than one account matches; choose one with --account: ${list}`);
}
