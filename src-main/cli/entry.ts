/**
 * Process entry of `latchkey` (bin/latchkey.js imports this). The commands
 * tools run on every operation take the lean path; everything else loads the
 * full CLI on demand.
 */
import { runLeanCommand } from '../helpers/lean-entry.js';
import type { CliIO } from './output.js';

const argv = process.argv.slice(2);
const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };
// Open sockets or timers must not keep a finished command alive. No top-level
// await: the lean bundle is CommonJS (see scripts/build-lean.ts).
void runLeanCommand(argv, io)
  .then(async (lean) => lean ?? (await import('./main.js')).runCli(argv, io))
  .then((code) => process.exit(code));
