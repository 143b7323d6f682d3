/** `latchkey agent [start|stop]`: the agent in the background, in this terminal (`--foreground`), or stopped. */
import { Option, type Command } from 'commander';
import { LatchkeyError } from '../../errors.js';
import { startBackgroundAgent } from '../agent-connection.js';
import { runForegroundAgent } from '../agent-foreground.js';
import { terminalOf } from '../output.js';
import type { CommandKit } from './command-kit.js';

export function addAgentCommands(program: Command, kit: CommandKit): void {
  const { io, paths, withAgent, withRunningAgent } = kit;
  program
    .command('agent')
    .description('Run the Latchkey agent, which owns the vault (started automatically when needed)')
    .argument('[action]', '"start" (default) or "stop"', 'start')
    .option('--foreground', 'run in this terminal instead of the background')
    .addOption(new Option('--log-format <format>', 'with --foreground: log lines as text (default on a terminal) or json').choices(['text', 'json']))
    .addOption(new Option('--background-child').hideHelp())
    .addOption(new Option('--passphrase-stdin', 'the CLI that starts the agent passes the vault passphrase on stdin').hideHelp())
    .action(async (action: string, opts: { foreground?: boolean; backgroundChild?: boolean; passphraseStdin?: boolean; logFormat?: 'text' | 'json' }) => {
      if (action === 'stop') {
        const stopped = await withRunningAgent((c) => c.call('admin.stop', {}));
        io.stderr.write(stopped ? 'Latchkey agent stopping.\n' : 'The Latchkey agent is not running.\n');
        return;
      }
      if (action !== 'start') throw new LatchkeyError('usage', `Unknown agent action "${action}"; use "start" or "stop".`);
      if (opts.foreground) {
        const foreground = { backgroundChild: Boolean(opts.backgroundChild), ...(opts.passphraseStdin ? { readPassphrase: kit.readStdin } : {}), ...(opts.logFormat ? { logFormat: opts.logFormat } : {}) };
        return runForegroundAgent(io, paths, foreground, kit.runAgent);
      }
      const running = await withAgent((c) => c.call('admin.status', {}), false).catch(() => undefined);
      if (running) {
        io.stderr.write(`The Latchkey agent is already running (pid ${running.pid}).\n`);
        return;
      }
      const terminal = terminalOf(io);
      const pid = await startBackgroundAgent(paths, { env: io.env, ...(terminal ? { terminal } : {}) });
      io.stderr.write(`Latchkey agent started (pid ${pid}); logs in ${paths.log}\n`);
    });
}
