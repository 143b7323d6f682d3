/**
 * Loads the agent for `latchkey agent …`: the bundled agent when it is built
 * (one file to compile instead of some 200 modules to find and load: the
 * agent's start-to-ready time is mostly module loading), else the same code
 * from the compiled modules (a build without the bundle step, tests from
 * source).
 */
import { fileURLToPath } from 'node:url';
import type { CliIO } from './output.js';

type AgentEntry = typeof import('./agent-entry.js');

/** From dist/src-main/cli/, where this module runs when built. */
const BUNDLE = new URL('../../agent-bundle/latchkey-agent.js', import.meta.url).href;

export async function runAgentCommand(argv: readonly string[], io: CliIO): Promise<number | undefined> {
  const entry = await (import(BUNDLE) as Promise<AgentEntry>).catch((err: unknown) => {
    // Only the bundle itself missing means "not built"; a bundle that fails to load is a bug to see.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !(err as Error).message.includes(fileURLToPath(BUNDLE))) throw err;
    return import('./agent-entry.js');
  });
  return entry.runAgentCommand(argv, io);
}
