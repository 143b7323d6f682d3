/**
 * `latchkey agent --foreground`: the agent in this process. Shared by the full
 * CLI (program.ts) and the bundled agent entry (agent-entry.ts), which starts
 * the agent without loading commander and the other commands.
 */
import type { LatchkeyPaths } from '../platform/paths.js';
import { passphraseForAgent } from './agent-passphrase.js';
import { assertPathsUsable } from './input-errors.js';
import { terminalOf, type CliIO } from './output.js';
import type { CliContext } from './program.js';

export interface ForegroundAgentOptions {
  backgroundChild: boolean;
  /** The CLI that started this agent hands the passphrase on stdin (`--passphrase-stdin`). */
  readPassphrase?: () => Promise<string>;
  logFormat?: 'text' | 'json';
}

/** Checks the paths, finds the passphrase the vault needs (if any), then runs the agent until it stops. */
export async function runForegroundAgent(io: CliIO, paths: LatchkeyPaths, options: ForegroundAgentOptions, runAgent: CliContext['runAgent']): Promise<void> {
  await assertPathsUsable(paths, io.env);
  const passphrase = options.readPassphrase ? await options.readPassphrase() : await passphraseForAgent(paths, io.env, terminalOf(io));
  const given = passphrase === undefined ? {} : { passphrase: async () => passphrase.replace(/\r?\n$/, '') };
  return runAgent({ backgroundChild: options.backgroundChild, ...given, ...(options.logFormat ? { logFormat: options.logFormat } : {}) });
}
