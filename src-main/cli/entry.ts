/**
 * Process entry of `latchkey` (bin/latchkey.js imports this). The commands
 * tools run on every operation take the lean path, with the lean stdio (see
 * helpers/process-io.ts); the agent its own bundle (agent-launch.ts);
 * everything else loads the full CLI on demand.
 */
import { runLeanCommand } from '../helpers/lean-entry.js';
import { leanProcessIO } from '../helpers/process-io.js';

const argv = process.argv.slice(2);
// Open sockets or timers must not keep a finished command alive. No top-level
// await: the lean bundle is CommonJS (see scripts/build-lean.ts).
void runLeanCommand(argv, leanProcessIO())
  .then(async (lean) => {
    if (lean !== undefined) return lean;
    const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
    const agent = argv[0] === 'agent' ? await (await import('./agent-launch.js')).runAgentCommand(argv, io) : undefined;
    return agent ?? (await import('./main.js')).runCli(argv, io);
  })
  .then((code) => process.exit(code));
