/** `latchkey activity`: the audit log, which app got which token when, and every consent decision. */
import { InvalidArgumentError, type Command } from 'commander';
import { shortFingerprint } from '../../broker/short-fingerprint.js';
import { printList } from '../output.js';
import type { CommandKit } from './command-kit.js';

export function addActivityCommands(program: Command, kit: CommandKit): void {
  const { io, paths, withAgent } = kit;
  program
    .command('activity')
    .description('Which app got which token, when; and every consent decision')
    .option('--app <id>', 'only this app')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many entries (default 100)', (v) => {
      if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a number from 1 to 5000.');
      return Number(v);
    })
    .option('--json', 'print JSON')
    .action(async (o: { app?: string; account?: string; limit?: number; json?: boolean }) => {
      const { entries, intact, broken_at_line: brokenAt } = await withAgent((c) => c.call('admin.activity', { ...(o.app ? { app: o.app } : {}), ...(o.account ? { account: o.account } : {}), ...(o.limit ? { limit: o.limit } : {}) }));
      if (!intact) io.stderr.write(`Warning: the audit log (${paths.audit}) was changed outside Latchkey at entry ${brokenAt}; entries from there on are not shown.\n`);
      printList(io, entries, {
        json: Boolean(o.json),
        empty: o.app || o.account ? `No activity for ${[o.app, o.account].filter(Boolean).join(' and ')}.` : 'No activity yet.',
        header: ['WHEN', 'APP', 'EVENT', 'ACCOUNT', 'SCOPE', 'KEY', 'DETAIL'],
        row: (e) => [new Date(e.at).toISOString().replace('T', ' ').slice(0, 19), e.appId, e.event.replaceAll('_', ' '), e.account ?? '-', e.scope ?? '-', e.keyFingerprint ? shortFingerprint(e.keyFingerprint) : '-', e.detail ?? ''],
      });
    });
}
