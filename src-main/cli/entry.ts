/** Process entry of `latchkey` (bin/latchkey.js imports this). */
import { runCli } from './main.js';

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Open sockets or timers must not keep a finished command alive.
process.exit(code);
