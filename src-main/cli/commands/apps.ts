/** `latchkey apps [list]|revoke`: the apps allowed to get tokens (connected apps). */
import type { Command } from 'commander';
import { accountName } from '../../engine/account-name.js';
import { printList, relativeTime } from '../output.js';
import type { CommandKit } from './command-kit.js';

export function addAppCommands(program: Command, kit: CommandKit): void {
  const { io, withAgent } = kit;
  const apps = program.command('apps').description('Apps you allowed to get tokens (connected apps)');
  apps
    .command('list', { isDefault: true })
    .description('List remembered app grants')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const [{ grants }, { accounts }] = await withAgent(async (c) => [await c.call('admin.apps.list', {}), await c.call('admin.accounts.list', {})] as const);
      // The account as the consent prompt named it (--json keeps the id, which `apps revoke --account` takes).
      const named = (id: string) => { const a = accounts.find((x) => x.id === id); return a ? accountName(a) : id; };
      printList(io, grants, {
        json: Boolean(o.json),
        empty: 'No app has a remembered grant.',
        header: ['APP', 'NAME (CLAIMED)', 'ACCOUNT', 'SCOPE', 'LAST USED', 'KEY'],
        row: (g) => [g.app, g.name, named(g.account), g.scope + (g.resource ? ` @ ${g.resource}` : ''), g.last_used_at ? relativeTime(g.last_used_at * 1000) : 'never', g.key_fingerprint],
      });
    });
  apps
    .command('revoke')
    .description("Revoke an app's grant; Latchkey forgets its tokens (see revokeAppTokensAtProvider in config.json)")
    .argument('<app>', 'the app id, as `latchkey apps` shows it')
    .option('--account <id>', 'only for this account')
    .action(async (app: string, o: { account?: string }) => {
      const r = await withAgent((c) => c.call('admin.apps.revoke', { app, ...(o.account ? { account: o.account } : {}) }));
      io.stderr.write(`Revoked ${r.revoked.map((x) => `${x.app} for ${x.account}`).join(', ')}.\n`);
    });
}
