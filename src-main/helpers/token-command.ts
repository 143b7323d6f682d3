/**
 * `latchkey token`, on the lean path: the command people put in `$(…)`, in
 * cargo's `token-from-stdout` and pnpm's `tokenHelper`, so its cached case
 * must start as fast as Node itself (see `npm run bench`).
 */
import type { AdminParams, WireToken } from '../wire/owner-contract.js';
import { LatchkeyError } from '../errors.js';
import type { FlagSpec, Flags } from './flags.js';
import { helperContext, tokenWithSignIn } from './helper-run.js';
import type { CliIO } from '../cli/output.js';
import type { LatchkeyPaths } from '../platform/paths.js';

export const TOKEN_FORMATS = ['plain', 'header', 'json'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

export const TOKEN_FLAGS: FlagSpec = {
  account: 'string',
  provider: 'string',
  scope: 'scope',
  resource: 'url',
  'min-ttl': 'seconds',
  'max-age': 'seconds',
  json: 'switch',
  format: 'string',
};

/** The token as printed: the bare token, an `Authorization` header value, or JSON. */
export function formatToken(t: WireToken, format: TokenFormat): string {
  switch (format) {
    case 'plain':
      return `${t.access_token}\n`;
    // cargo (`cargo:token-from-stdout`) and pnpm (`tokenHelper`) send the line as the whole Authorization header.
    case 'header':
      return `Bearer ${t.access_token}\n`;
    case 'json':
      return `${JSON.stringify(t, null, 2)}\n`;
  }
}

/** The `admin.token` params for the shared selection flags (`--account`, `--provider`, `--scope`, …). */
export function tokenParams(flags: Flags): AdminParams<'admin.token'> {
  const text = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  const params: AdminParams<'admin.token'> = {};
  if (text('account')) params.account = text('account')!;
  if (text('provider')) params.provider = text('provider')!;
  if (text('scope')) params.scope = text('scope')!;
  if (text('resource')) params.resource = text('resource')!;
  if (text('min-ttl')) params.min_ttl = Number(text('min-ttl'));
  if (text('max-age')) params.max_age = Number(text('max-age'));
  return params;
}

export function tokenFormat(flags: Flags): TokenFormat {
  const format = flags.json ? 'json' : (flags.format ?? 'plain');
  if (!(TOKEN_FORMATS as readonly string[]).includes(format as string)) {
    throw new LatchkeyError('usage', `Unknown --format "${String(format)}"; use ${TOKEN_FORMATS.join(', ')}.`);
  }
  return format as TokenFormat;
}

export async function runTokenCommand(io: CliIO, paths: LatchkeyPaths, flags: Flags): Promise<void> {
  const format = tokenFormat(flags);
  const { warning, ...token } = (await tokenWithSignIn(helperContext(io, paths), tokenParams(flags))) as WireToken & { warning?: string };
  // For the person only (a still-valid token that could not be refreshed): stdout stays the token alone.
  if (warning) io.stderr.write(`warning: ${warning}\n`);
  io.stdout.write(formatToken(token, format));
}
