/** `latchkey status`: the agent, key source, vault, providers, accounts and policy, without starting an agent. */
import type { Command } from 'commander';
import { relativeTime, table } from '../output.js';
import type { CommandKit } from './command-kit.js';

export function addStatusCommands(program: Command, kit: CommandKit): void {
  const { io, paths, out, json, withRunningAgent } = kit;
  program
    .command('status')
    .description('Show the agent, key source, providers and accounts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await withRunningAgent((c) => c.call('admin.status', {}));
      // A broken config.json stops the next agent start: report it now (exit 2), not at the next command.
      const configError = await import('../../platform/config.js').then(({ loadConfig }) => loadConfig(paths.config)).then(() => undefined, (err: unknown) => err);
      if (o.json) json(s ? { running: true, ...s } : { running: false, socket: paths.socket });
      else if (!s) out(`Agent:      not running (socket ${paths.socket}); it starts on the next command that needs it\n`);
      else out(
        table([
          ['Agent:', `running, pid ${s.pid}, version ${s.version}, up ${relativeTime(s.startedAt).replace(' ago', '')}`],
          ['Key source:', `${s.keySource.description}`],
          ['Vault:', s.vault],
          ['Socket:', s.socket],
          ['Providers:', s.providers.length ? s.providers.map((p) => p.name).join(', ') : 'none'],
          ['Accounts:', String(s.accounts)],
          ...(s.demo ? [['Demo:', `running at ${s.demo.issuer}`]] : []),
          ['Policy:', s.policy.state === 'active' ? `${s.policy.path} (${s.policy.rules} rule(s))` : s.policy.state === 'absent' ? 'none' : `IGNORED, apps are asked instead: ${s.policy.path}`],
        ]),
      );
      if (s?.policy.state === 'ignored' && !o.json) io.stderr.write(`Warning: ${s.policy.error}\n`);
      if (configError) throw configError;
    });
}
