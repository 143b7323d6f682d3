/** `latchkey handle-url`: the OS hands a dev.latchkey.app: sign-in callback to the waiting agent. */
import type { Command } from 'commander';
import { LatchkeyError } from '../../errors.js';
import type { CommandKit } from './command-kit.js';

export function addHandleUrlCommands(program: Command, kit: CommandKit): void {
  const { io, paths, withRunningAgent } = kit;
  program
    .command('handle-url')
    .description('Deliver a sign-in callback URL to the agent (run by the OS for the dev.latchkey.app: scheme)')
    .argument('<url>')
    .action(async (url: string) => {
      // Checked here, so a URL that is not ours is a usage error even when no agent runs.
      const [{ loadConfig }, { parseCallbackUrl }] = await Promise.all([import('../../platform/config.js'), import('../../engine/callback/callback-receiver.js')]);
      parseCallbackUrl(url, (await loadConfig(paths.config)).schemeRedirectUri);
      const delivered = await withRunningAgent((c) => c.call('admin.callback', { url }));
      if (!delivered) throw new LatchkeyError('callback_rejected', 'No Latchkey sign-in is waiting: the agent is not running. Start the sign-in again with `latchkey login`.');
      io.stderr.write('Sign-in response delivered to Latchkey.\n');
    });
}
