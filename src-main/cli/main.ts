/**
 * Entry point of the `latchkey` command. Turns every failure into one line on
 * stderr and a stable exit code (see EXIT_CODES); stack traces only with
 * LATCHKEY_DEBUG=1.
 */
import { CommanderError } from 'commander';
import { EXIT_CODES } from '../errors.js';
import { reportFailure } from '../helpers/helper-run.js';
import { buildProgram, defaultPaths, readAllStdin } from './program.js';
import type { CliIO } from './output.js';

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const paths = defaultPaths(io.env);
  const program = buildProgram({
    io,
    paths,
    // Loaded on demand: the agent pulls in openid-client and oidc-provider, which
    // would slow down every short command such as `latchkey token`.
    runAgent: async (o) => (await import('../agent/agent-main.js')).runAgentProcess({ env: io.env, paths, ...o }),
    readStdin: readAllStdin,
    resetVault: async () => (await import('../agent/agent-vault.js')).resetVaultAt(paths, io.env),
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_CODES.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit "successfully" through exitOverride; real usage errors were already printed.
      return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    return reportFailure(io, err);
  }
}
