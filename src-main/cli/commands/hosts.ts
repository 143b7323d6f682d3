/** `latchkey host add|list|remove`: which provider serves a host, read by the git and Docker credential helpers. */
import type { Command } from 'commander';
import { addHost, listHosts, removeHost } from '../host-command.js';
import type { CommandKit } from './command-kit.js';
import { accountOption, resourceOption, scopeOption } from './options.js';

export function addHostCommands(program: Command, kit: CommandKit): void {
  const { io, paths, withAgent } = kit;
  const host = program.command('host').description('Which provider serves a host, for the git and Docker credential helpers');
  host
    .command('add')
    .description('Map a host (or registry) to a provider and account')
    .argument('<host>', 'host, host:port or URL, e.g. git.example.com or registry.example.com:5000')
    .requiredOption('--provider <name>', 'the provider whose tokens the host accepts')
    .addOption(accountOption())
    .addOption(scopeOption())
    .addOption(resourceOption())
    .option('--username <name>', 'user name to send with the token (Docker then uses Basic auth instead of an identity token)')
    .action(async (name: string, o: { provider: string; account?: string; scope?: string; resource?: string; username?: string }) => {
      const mapping = { provider: o.provider, ...(o.account ? { account: o.account } : {}), ...(o.scope ? { scope: o.scope } : {}), ...(o.resource ? { resource: o.resource } : {}), ...(o.username ? { username: o.username } : {}) };
      const added = await withAgent((c) => addHost(paths, c, name, mapping));
      io.stderr.write(`Mapped ${added} to provider "${o.provider}".\n`);
    });
  host
    .command('list')
    .description('List mapped hosts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => listHosts(paths, io, Boolean(o.json)));
  host
    .command('remove')
    .description('Forget a host mapping')
    .argument('<host>')
    .action(async (name: string) => {
      io.stderr.write(`Removed the mapping for ${await removeHost(paths, name)}.\n`);
    });
}
