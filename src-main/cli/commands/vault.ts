/** `latchkey vault reset`: moves a vault that can no longer be opened aside. */
import type { Command } from 'commander';
import { LatchkeyError } from '../../errors.js';
import type { CommandKit } from './command-kit.js';

export function addVaultCommands(program: Command, kit: CommandKit): void {
  const { io, withAgent } = kit;
  const vault = program.command('vault').description('Vault maintenance');
  vault
    .command('reset')
    .description('Move the vault aside and start empty (for a vault that can no longer be opened)')
    .option('--yes', 'confirm: all accounts and providers will be forgotten')
    .action(async (o: { yes?: boolean }) => {
      if (!o.yes) throw new LatchkeyError('usage', 'This forgets all providers and accounts. Run again with --yes to confirm.');
      const running = await withAgent((c) => c.call('admin.status', {}), false).catch(() => undefined);
      if (running) throw new LatchkeyError('agent_running', `Stop the agent first (latchkey agent stop; pid ${running.pid}).`);
      const moved = await kit.resetVault();
      io.stderr.write(moved ? `The old vault was kept at ${moved}. A new one is created on next use.\n` : 'There was no vault to reset.\n');
    });
}
