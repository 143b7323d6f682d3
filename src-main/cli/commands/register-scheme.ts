/** `latchkey register-scheme`: makes this desktop open dev.latchkey.app: sign-in links with `latchkey handle-url` (Linux). */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { CommandKit } from './command-kit.js';

export function addRegisterSchemeCommands(program: Command, kit: CommandKit): void {
  const { io, paths } = kit;
  program
    .command('register-scheme')
    .description('Make this desktop open dev.latchkey.app: sign-in links with `latchkey handle-url` (Linux)')
    .action(async () => {
      const { loadConfig } = await import('../../platform/config.js');
      const { registerUrlScheme } = await import('../../platform/url-scheme.js');
      const config = await loadConfig(paths.config);
      const entry = fileURLToPath(new URL('../entry.js', import.meta.url));
      const r = await registerUrlScheme({ redirectUri: config.schemeRedirectUri, command: [process.execPath, entry], env: io.env });
      io.stderr.write(`Wrote ${r.desktopFile}; ${r.madeDefault ? 'it is now the default handler' : 'could not run xdg-mime, so set it as the default handler yourself'} for ${config.schemeRedirectUri}\n`);
    });
}
