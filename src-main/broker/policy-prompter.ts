/**
 * Consent from a policy file (`<data dir>/policy.json`) for servers and
 * unattended machines: pre-approved (or pre-denied) apps, each pinned to the
 * fingerprint of its key and optionally to its executable's hash. A rule
 * matches only when every field it names matches; apps without a rule fall
 * through to the next prompter.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { isSubsetScope } from '../engine/scope.js';
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from './consent-prompter.js';

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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LatchkeyError('config_invalid', `Cannot read the policy file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LatchkeyError('config_invalid', `The policy file ${path} is not valid JSON (${(err as Error).message}).`, { cause: err });
  }
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LatchkeyError('config_invalid', `The policy file ${path} is not valid at ${issue.path.join('.') || '(top level)'}: ${issue.message}.`);
  }
  return parsed.data;
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
        (rule.account === undefined || r.accounts.some((a) => a.id === rule.account || a.email === rule.account)),
    );
    if (!rule) return undefined;
    if (rule.decision === 'deny') return { decision: 'deny', reason: 'Denied by the policy file.' };
    const account = rule.account ? r.accounts.find((a) => a.id === rule.account || a.email === rule.account)?.id : undefined;
    return account ? { decision: rule.decision, account } : { decision: rule.decision };
  }
}

/**
 * The policy file as the agent uses it: read again for each prompt, so an
 * edit takes effect without a restart. A file that became invalid denies (and
 * says why in the audit log) rather than falling through to a dialog that an
 * unattended server has no one to answer.
 */
export class PolicyFilePrompter implements ConsentPrompter {
  readonly name = 'policy';
  constructor(private readonly path: string) {}

  async prompt(r: ConsentRequest): Promise<ConsentDecision | undefined> {
    let policy: Policy | undefined;
    try {
      policy = await loadPolicy(this.path);
    } catch (err) {
      return { decision: 'deny', reason: (err as Error).message };
    }
    return policy ? new PolicyPrompter(policy).prompt(r) : undefined;
  }
}
