/**
 * The commands that tools run on every operation, dispatched without loading
 * the full CLI: commander, zod, pino and openid-client together take several
 * times longer to load than a cached token takes to fetch. A command line
 * this does not fully understand (`--help`, a typo, another command) returns
 * `undefined`, and entry.ts hands it to the full CLI.
 */
import type { CliIO } from '../cli/output.js';
import { resolvePaths } from '../platform/paths.js';
import { parseFlags } from './flags.js';
import { runHelper } from './helper-run.js';
import { TOKEN_FLAGS, runTokenCommand } from './token-command.js';
import { parseExecArgs, runExecCommand } from './exec-command.js';
import { KUBECTL_FLAGS, runKubectlCredential } from './kubectl-command.js';

export async function runLeanCommand(argv: readonly string[], io: CliIO): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command === 'token') {
    const parsed = parseFlags(rest, TOKEN_FLAGS);
    if (!parsed) return undefined;
    return runHelper(io, () => runTokenCommand(io, resolvePaths(io.env), parsed.flags));
  }
  if (command === 'kubectl-credential') {
    const parsed = parseFlags(rest, KUBECTL_FLAGS);
    if (!parsed) return undefined;
    return runHelper(io, () => runKubectlCredential(io, resolvePaths(io.env), parsed.flags));
  }
  if (command === 'exec') {
    const parsed = parseExecArgs(rest);
    if (!parsed) return undefined;
    return runHelper(io, () => runExecCommand(io, resolvePaths(io.env), parsed.flags, parsed.command));
  }
  return undefined;
}
