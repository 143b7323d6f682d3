/**
 * Process entry of `latchkey` (bin/latchkey.js imports this). The commands
 * tools run on every operation take the lean path; the agent its own bundle
 * (agent-launch.ts); everything else loads the full CLI on demand.
 */
import { runLeanCommand } from '../helpers/lean-entry.js';
import type { CliIO } from './output.js';

const argv = process.argv.slice(2);
const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };
const code =
  (await runLeanCommand(argv, io)) ??
  (argv[0] === 'agent' ? await (await import('./agent-launch.js')).runAgentCommand(argv, io) : undefined) ??
  (await (await import('./main.js')).runCli(argv, io));
// Open sockets or timers must not keep a finished command alive.
process.exit(code);
