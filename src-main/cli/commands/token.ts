/** `latchkey token`: usually served by the lean entry (helpers/token-command.ts); here for `--help`, usage errors and runCli. */
import { Option, type Command } from 'commander';
import { ADMIN_PARAMS } from '../../wire/owner-contract.js';
import { TOKEN_FORMATS, runTokenCommand, tokenParams } from '../../helpers/token-command.js';
import { parseCliInput } from '../input-errors.js';
import type { CommandKit } from './command-kit.js';
import { accountOption, providerOption, resourceOption, scopeOption, seconds } from './options.js';

export function addTokenCommands(program: Command, kit: CommandKit): void {
  const { io, paths } = kit;
  program
    .command('token')
    .description('Print an access token (refreshed when needed)')
    .addOption(accountOption())
    .addOption(providerOption('pick the account by provider; for a service profile, use client credentials'))
    .addOption(scopeOption())
    .addOption(resourceOption())
    .option('--min-ttl <seconds>', 'refresh unless the token is valid at least this long', seconds)
    .option('--max-age <seconds>', 'fail with exit 3 unless you authenticated within this time', seconds)
    .option('--json', 'print JSON with access_token, token_type, expires_at, scope, id_token (same as --format json)')
    .addOption(new Option('--format <format>', '"header" prints `Bearer <token>` (for cargo and pnpm token helpers)').choices(TOKEN_FORMATS).default('plain'))
    .action(async (o: { account?: string; provider?: string; scope?: string; resource?: string; minTtl?: number; maxAge?: number; json?: boolean; format: string }) => {
      // Usually not reached: entry.ts runs `token` on the lean path; this serves runCli and anything the lean parser declined.
      const flags: Record<string, string | true> = { format: o.format };
      for (const [name, value] of [['account', o.account], ['provider', o.provider], ['scope', o.scope], ['resource', o.resource], ['min-ttl', o.minTtl], ['max-age', o.maxAge]] as const) {
        if (value !== undefined) flags[name] = String(value);
      }
      if (o.json) flags.json = true;
      // The lean path leaves long values here: one sentence naming the option, before any agent starts.
      parseCliInput(ADMIN_PARAMS['admin.token'], tokenParams(flags));
      await runTokenCommand(io, paths, flags);
    });
}
