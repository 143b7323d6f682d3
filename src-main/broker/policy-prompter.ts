/**
 * Consent from a policy file (`<data dir>/policy.json`) for servers and
 * unattended machines: pre-approved (or pre-denied) apps, each pinned to the
 * fingerprint of its key and optionally to its executable's hash. A rule
 * matches only when every field it names matches; apps without a rule fall
 * through to the next prompter.
 *
 * What it enforces:
 * - every error in the file is reported at once, each with its path;
 * - an invalid file is ignored, never fatal: the agent starts, logs a warning
 *   that `latchkey status` shows too, and every decision falls through to the
 *   person (fail closed for the policy, not for the whole product);
 * - an "allow" rule that names no account never picks one among several
 *   signed-in accounts: the person is asked which.
 */
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { readJsonFile } from '../platform/json-file.js';
import type { Logger } from '../log/logger.js';
import { isSubsetScope } from '../engine/scope.js';
import { matchAccounts, type AccountSummary } from '../engine/accounts.js';
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from './consent-prompter.js';
import type { PolicyStatus } from '../wire/owner-contract.js';

const RuleSchema = z
  .object({
    app: z.string().min(1),
    keyFingerprint: z.string().startsWith('SHA256:'),
    exeSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    provider: z.string().optional(),
    account: z.string().optional(),
    /** The most the app may ask for; a request outside it is not covered by the rule. */
    scope: z.string().min(1),
    resource: z.string().optional(),
    decision: z.enum(['once', 'always', 'deny']),
  })
  .strict();

export const PolicySchema = z.object({ rules: z.array(RuleSchema).max(1000) }).strict();
export type Policy = z.infer<typeof PolicySchema>;

export async function loadPolicy(path: string): Promise<Policy | undefined> {
  const raw = await readJsonFile(path, `the policy file ${path}`);
  if (raw === undefined) return undefined;
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `at ${i.path.join('.') || '(top level)'}: ${describeIssue(i)}`);
    throw new LatchkeyError('config_invalid', `The policy file ${path} is not valid (${issues.length === 1 ? '1 error' : `${issues.length} errors`}): ${issues.join('; ')}.`);
  }
  return parsed.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // A required field left out is the commonest mistake: say it in those words.
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return 'required, but missing';
  if (issue.code === 'unrecognized_keys') return `${issue.message} (${issue.keys.join(', ')})`;
  return issue.message;
}

export async function policyStatus(path: string): Promise<PolicyStatus> {
  try {
    const policy = await loadPolicy(path);
    return policy ? { path, state: 'active', rules: policy.rules.length } : { path, state: 'absent' };
  } catch (err) {
    return { path, state: 'ignored', error: (err as Error).message };
  }
}

export class PolicyPrompter implements ConsentPrompter {
  readonly name = 'policy';
  constructor(private readonly policy: Policy) {}

  async prompt(r: ConsentRequest): Promise<ConsentDecision | undefined> {
    const rule = this.policy.rules.find(
      (rule) =>
        rule.app === r.app.id &&
        rule.keyFingerprint === r.app.fingerprint &&
        (rule.exeSha256 === undefined || rule.exeSha256 === r.app.exeSha256) &&
        (rule.provider === undefined || rule.provider === r.provider) &&
        (rule.resource ?? undefined) === (r.resource ?? undefined) &&
        isSubsetScope(r.scope, rule.scope) &&
        (rule.account === undefined || ruleAccount(rule.account, r) !== undefined),
    );
    if (!rule) return undefined;
    if (rule.decision === 'deny') return { decision: 'deny', reason: 'Denied by the policy file.' };
    // Which of several accounts is the person's choice, not the first one found; and never a sign-in nobody asked for.
    if (!rule.account && r.accounts.length > 1) return undefined;
    const account = rule.account ? ruleAccount(rule.account, r)?.id : undefined;
    return account ? { decision: rule.decision, account } : { decision: rule.decision };
  }
}

/**
 * The offered account a rule's `account` names, by the one rule of
 * engine/accounts.ts; a name that fits several offered accounts names none,
 * so the rule does not apply and the person is asked.
 */
function ruleAccount(wanted: string, r: ConsentRequest): AccountSummary | undefined {
  const matches = matchAccounts(r.accounts, wanted);
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * The policy file as the agent uses it: read again for each prompt, so an
 * edit takes effect without a restart. An invalid file is ignored with a
 * warning and the person is asked, as if there were no policy; where nobody
 * can be asked, the chain denies.
 */
export class PolicyFilePrompter implements ConsentPrompter {
  readonly name = 'policy';
  constructor(
    private readonly path: string,
    private readonly logger?: Logger,
  ) {}

  async prompt(r: ConsentRequest): Promise<ConsentDecision | undefined> {
    let policy: Policy | undefined;
    try {
      policy = await loadPolicy(this.path);
    } catch (err) {
      this.logger?.warn({ path: this.path, error: (err as Error).message }, 'the policy file is invalid and was ignored; asking the person instead');
      return undefined;
    }
    return policy ? new PolicyPrompter(policy).prompt(r) : undefined;
  }
}
