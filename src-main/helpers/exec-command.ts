/**
 * `latchkey exec [--provider P] [--account A] [--scope S] [--resource URI] [--env NAME] -- CMD [ARGS…]`:
 * runs any program with an access token in its environment.
 *
 * Enforces:
 * - the token goes only into the child's environment (never argv, where
 *   every user of the machine can read it in `ps`);
 * - signals sent to latchkey (Ctrl-C, `kill`) are passed on to the program,
 *   and latchkey exits with the program's status (128 + signal number when a
 *   signal ended it, as a shell reports it);
 * - a program that cannot be started is exit 127 (not found) or 126 (not
 *   executable), the shell's numbers.
 */
import { constants } from 'node:os';
import { basename } from 'node:path';
import { LatchkeyError } from '../errors.js';
import type { CliIO } from '../cli/output.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { parseFlags, type FlagSpec } from './flags.js';
import { helperContext, tokenWithSignIn } from './helper-run.js';
import { tokenParams } from './token-command.js';

export const EXEC_FLAGS: FlagSpec = { account: 'string', provider: 'string', scope: 'scope', resource: 'url', 'min-ttl': 'seconds', env: 'string' };
export const DEFAULT_TOKEN_ENV = 'LATCHKEY_ACCESS_TOKEN';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Splits `exec`'s arguments at `--`; undefined when the flags before it are not all understood. */
export function parseExecArgs(argv: readonly string[]): { flags: Record<string, string | true>; command: string[] } | undefined {
  const split = argv.indexOf('--');
  if (split < 0) return undefined;
  const parsed = parseFlags(argv.slice(0, split), EXEC_FLAGS);
  return parsed ? { flags: parsed.flags, command: argv.slice(split + 1) } : undefined;
}

export async function runExecCommand(io: CliIO, paths: LatchkeyPaths, flags: Record<string, string | true>, command: readonly string[]): Promise<number> {
  const [program, ...args] = command;
  if (!program) throw new LatchkeyError('usage', 'Name the program to run after --, e.g. `latchkey exec --provider work -- ./deploy.sh`.');
  const envName = typeof flags.env === 'string' ? flags.env : DEFAULT_TOKEN_ENV;
  if (!ENV_NAME.test(envName)) throw new LatchkeyError('usage', `--env ${envName} is not an environment variable name.`);
  const params = { ...tokenParams(flags), client: 'latchkey exec', target: `program ${basename(program)}` };
  const token = await tokenWithSignIn(helperContext(io, paths), params);
  // Loaded here, not at the top: the lean bundle is shared with `latchkey token`, whose start-up it would slow.
  const { spawn } = await import('node:child_process');
  const child = spawn(program, args, { stdio: 'inherit', env: { ...io.env, [envName]: token.access_token } });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  try {
    return await new Promise<number>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        io.stderr.write(`latchkey: cannot run ${program}: ${err.code === 'ENOENT' ? 'not found' : err.message}\n`);
        resolve(err.code === 'ENOENT' ? 127 : 126);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}
