/**
 * Words for input the CLI refuses before it reaches the agent: a schema
 * failure becomes one `usage` sentence naming the option and its limit
 * (exit 2), never a raw validation array.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { LatchkeyError } from '../errors.js';

/** How each admin parameter is spelled on the command line. */
const OPTION_OF: Record<string, string> = {
  name: 'The provider name',
  issuer: '--issuer',
  client_id: '--client-id',
  client_secret: '--client-secret',
  scope: '--scope',
  provider: '--provider',
  account: '--account',
  login_hint: '--login-hint',
  resource: '--resource',
  max_age: '--max-age',
  min_ttl: '--min-ttl',
  url: 'The URL',
  app: 'The app id',
  limit: '--limit',
};

/** Parses `value` with `schema`, or throws `usage` with one sentence about the first problem. */
export function parseCliInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new LatchkeyError('usage', describeIssue(result.error.issues[0]!), { cause: result.error });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = String(issue.path[0] ?? '');
  const option = OPTION_OF[field] ?? (field ? `"${field}"` : 'The input');
  switch (issue.code) {
    case 'too_big':
      return issue.origin === 'string'
        ? `${option} is too long: at most ${String(issue.maximum)} characters.`
        : `${option} is too large: at most ${String(issue.maximum)}.`;
    case 'too_small':
      return issue.origin === 'string' ? `${option} must not be empty.` : `${option} is too small: at least ${String(issue.minimum)}.`;
    case 'unrecognized_keys':
      return `Unknown input ${issue.keys.map((k) => `"${k}"`).join(', ')}.`;
    default:
      return `${option} is not valid: ${issue.message}.`;
  }
}

/**
 * Checks the data directory can be one: it, or its nearest existing parent,
 * must be a directory. Otherwise `mkdir` fails later with a raw EEXIST/ENOTDIR.
 */
export async function assertDataHomeUsable(home: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (let path = resolve(home); ; path = dirname(path)) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) return;
    if (info) {
      const named = env.LATCHKEY_HOME ? `LATCHKEY_HOME (${home})` : `The data directory ${home}`;
      const because = path === resolve(home) ? 'is a file, not a directory' : `cannot be created: ${path} is a file, not a directory`;
      throw new LatchkeyError('config_invalid', `${named} ${because}. Point LATCHKEY_HOME at a directory.`);
    }
    if (dirname(path) === path) return;
  }
}
