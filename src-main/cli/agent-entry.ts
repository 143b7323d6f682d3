/**
 * What the agent bundle (dist/agent-bundle/latchkey-agent.js, built by
 * scripts/build-agent.ts) runs: `latchkey agent [start] --foreground`, the
 * command every background agent is started with, without commander and the
 * other commands. A command line this does not fully understand (a typo,
 * `--help`, `stop`, `--passphrase-stdin`) returns `undefined`, and the full
 * CLI takes it.
 */
import { runAgentProcess, type AgentCodeOrigin } from '../agent/agent-main.js';
import { parseFlags } from '../helpers/flags.js';
import { runHelper } from '../helpers/helper-run.js';
import { resolvePaths } from '../platform/paths.js';
import { runForegroundAgent } from './agent-foreground.js';
import type { CliIO } from './output.js';

const AGENT_FLAGS = { foreground: 'switch', 'background-child': 'switch', 'log-format': 'string' } as const;
const LOG_FORMATS: ReadonlySet<string> = new Set(['text', 'json']);

/** `origin`: the bundle this runs from and what became of its code cache (agent-launch.ts), for the agent's debug log. */
export async function runAgentCommand(argv: readonly string[], io: CliIO, origin?: AgentCodeOrigin): Promise<number | undefined> {
  const [command, ...rest] = argv;
  const parsed = command === 'agent' ? parseFlags(rest, AGENT_FLAGS, ['start']) : undefined;
  if (!parsed?.flags.foreground || parsed.words.length > 1) return undefined;
  const logFormat = parsed.flags['log-format'];
  if (logFormat !== undefined && !(typeof logFormat === 'string' && LOG_FORMATS.has(logFormat))) return undefined;
  const paths = resolvePaths(io.env);
  const options = { backgroundChild: parsed.flags['background-child'] === true, ...(logFormat ? { logFormat: logFormat as 'text' | 'json' } : {}) };
  return runHelper(io, () => runForegroundAgent(io, paths, options, (o) => runAgentProcess({ env: io.env, paths, ...o, ...(origin ? { origin } : {}) })));
}
