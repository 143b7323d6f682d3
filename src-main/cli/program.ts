/**
 * The `latchkey` command line. Each command is a thin call to the agent; the
 * agent owns the vault. Output for people goes to stderr, output for scripts
 * (a token, JSON) to stdout, so `$(latchkey token)` captures just the token.
 * Each command group lives in commands/; this file sets up the root and lists
 * the groups in the order `latchkey --help` shows them.
 */
import { Command } from 'commander';
import { LatchkeyError } from '../errors.js';
import { resolvePaths, type LatchkeyPaths } from '../platform/paths.js';
import { LATCHKEY_VERSION } from '../version.js';
import { commandKit, type CliContext, type CommandKit } from './commands/command-kit.js';
import { addAgentCommands } from './commands/agent.js';
import { addProviderCommands } from './commands/providers.js';
import { addSignInCommands } from './commands/sign-in.js';
import { addTokenCommands } from './commands/token.js';
import { addHostCommands } from './commands/hosts.js';
import { addHelperCommands } from './commands/helpers.js';
import { addAccountCommands } from './commands/accounts.js';
import { addStatusCommands } from './commands/status.js';
import { addHandleUrlCommands } from './commands/handle-url.js';
import { addDemoCommands } from './commands/demo.js';
import { addAppCommands } from './commands/apps.js';
import { addActivityCommands } from './commands/activity.js';
import { addRegisterSchemeCommands } from './commands/register-scheme.js';
import { addVaultCommands } from './commands/vault.js';

export type { CliContext } from './commands/command-kit.js';

/** The command groups, in help order (commander lists commands as they are added). */
const COMMAND_GROUPS: ReadonlyArray<(program: Command, kit: CommandKit) => void> = [
  addAgentCommands,
  addProviderCommands,
  addSignInCommands,
  addTokenCommands,
  addHostCommands,
  addHelperCommands,
  addAccountCommands,
  addStatusCommands,
  addHandleUrlCommands,
  addDemoCommands,
  addAppCommands,
  addActivityCommands,
  addRegisterSchemeCommands,
  addVaultCommands,
];

export function buildProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command('latchkey')
    .description('Sign in to OpenID Connect providers and hand tokens to local apps, with your consent.')
    .version(LATCHKEY_VERSION, '-V, --version')
    .showHelpAfterError('(run `latchkey help` or add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // One error style: commander's own "error: …" reads like every other failure, "latchkey: …".
      outputError: (s, write) => write(s.replace(/^error: /, 'latchkey: ')),
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Quick start:
  latchkey demo                       start the built-in demo provider
  latchkey login --provider demo      sign in (any user name and password work)
  latchkey token                      print an access token

Environment:
  LATCHKEY_HOME             data directory (vault, config, logs)
  LATCHKEY_SOCKET           agent socket path
  LATCHKEY_PASSPHRASE_FILE  use a passphrase from this file instead of the OS keyring
  BROWSER                   command used to open sign-in pages

Exit codes: 0 ok, 1 failure, 2 usage or config, 3 sign-in needed, 4 provider error,
            5 vault or key error, 6 agent unavailable, 7 denied, 130 cancelled.`,
  );

  const kit = commandKit(ctx);
  for (const addGroup of COMMAND_GROUPS) addGroup(program, kit);
  return program;
}

export function defaultPaths(env: NodeJS.ProcessEnv): LatchkeyPaths {
  return resolvePaths(env);
}

export async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new LatchkeyError('usage', 'Pipe the secret into stdin, e.g. `latchkey provider add … --client-secret - < secret.txt`.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new LatchkeyError('usage', 'The secret on stdin is larger than 64 KiB; that is not a client secret.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
