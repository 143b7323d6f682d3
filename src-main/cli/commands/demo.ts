/** `latchkey demo`: the built-in demo provider, run inside the agent. */
import type { Command } from 'commander';
import type { CommandKit } from './command-kit.js';

export function addDemoCommands(program: Command, kit: CommandKit): void {
  const { io, json, withAgent } = kit;
  program
    .command('demo')
    .description('Start the built-in demo provider in the agent and add it as provider "demo"')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await withAgent((c) => c.call('admin.demo', {}));
      if (o.json) return json(r);
      io.stderr.write(
        `Demo provider running at ${r.issuer} (inside the agent, on 127.0.0.1 only).\n` +
          `Next:\n  latchkey login --provider demo    # any user name and password are accepted\n  latchkey token --provider demo\n`,
      );
    });
}
