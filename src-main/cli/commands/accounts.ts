/** `latchkey accounts` and `latchkey logout`: the signed-in accounts, and signing one out. */
import type { Command } from 'commander';
import { accountLabel, printList } from '../output.js';
import type { CommandKit } from './command-kit.js';
import { accountOption, providerOption } from './options.js';

export function addAccountCommands(program: Command, kit: CommandKit): void {
  const { io, json, withAgent } = kit;
  program
    .command('accounts')
    .description('List signed-in accounts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { accounts } = await withAgent((c) => c.call('admin.accounts.list', {}));
      printList(io, accounts, {
        json: Boolean(o.json),
        empty: 'No accounts. Sign in with `latchkey login`.',
        header: ['ID', 'PROVIDER', 'USER', 'STATUS'],
        row: (a) => [a.id, a.provider, accountLabel(a), a.status === 'active' ? 'signed in' : 'sign-in needed'],
      });
    });

  program
    .command('logout')
    .description('Sign out: revoke tokens at the provider and delete them here')
    .addOption(accountOption())
    .addOption(providerOption())
    .option('--json', 'print JSON')
    .action(async (o: { account?: string; provider?: string; json?: boolean }) => {
      const r = await withAgent((c) => c.call('admin.logout', { ...(o.account ? { account: o.account } : {}), ...(o.provider ? { provider: o.provider } : {}) }));
      if (o.json) return json(r);
      io.stderr.write(`Signed out ${accountLabel(r.account)} (${r.account.id}); revoked: ${r.revoked.length ? r.revoked.join(', ') : 'nothing'}.\n`);
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      if (r.end_session_url) io.stderr.write(`To also end your session at the provider, open:\n  ${r.end_session_url}\n`);
    });
}
