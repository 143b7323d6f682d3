/**
 * What every command group gets: the CLI's context plus the few ways commands
 * talk to people and to the agent, so each group file adds commands and
 * nothing else.
 */
import { LatchkeyError } from '../../errors.js';
import type { LatchkeyPaths } from '../../platform/paths.js';
import { agentOnDemand, type AdminClient } from '../agent-connection.js';
import { jsonText, terminalOf, type CliIO } from '../output.js';

export interface CliContext {
  io: CliIO;
  paths: LatchkeyPaths;
  /** Runs the agent in this process (`latchkey agent --foreground`). */
  runAgent: (options: { backgroundChild: boolean; passphrase?: () => Promise<string>; logFormat?: 'text' | 'json' }) => Promise<void>;
  /** Reads all of stdin (for `--client-secret -`). */
  readStdin: () => Promise<string>;
  /** Moves a broken vault aside (`latchkey vault reset`). */
  resetVault: () => Promise<string | undefined>;
}

export interface CommandKit extends CliContext {
  /** Output for scripts, on stdout. */
  out: (text: string) => void;
  /** JSON for scripts, on stdout. */
  json: (value: unknown) => void;
  /** Runs `fn` with an agent connection (starting the agent unless `autoStart` is false) and closes it after. */
  withAgent: <T>(fn: (client: AdminClient) => Promise<T>, autoStart?: boolean) => Promise<T>;
  /** Like withAgent without starting one: undefined when no agent runs. */
  withRunningAgent: <T>(fn: (client: AdminClient) => Promise<T>) => Promise<T | undefined>;
}

export function commandKit(ctx: CliContext): CommandKit {
  const { io, paths } = ctx;
  const out = (text: string): void => void io.stdout.write(text);
  const withAgent = async <T>(fn: (client: AdminClient) => Promise<T>, autoStart = true): Promise<T> => {
    const terminal = terminalOf(io);
    const client = agentOnDemand(paths, { autoStart, env: io.env, ...(terminal ? { terminal } : {}) });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };
  return {
    ...ctx,
    out,
    json: (value) => out(jsonText(value)),
    withAgent,
    withRunningAgent: (fn) =>
      withAgent(fn, false).catch((err) => {
        if (err instanceof LatchkeyError && err.code === 'agent_unavailable') return undefined;
        throw err;
      }),
  };
}
