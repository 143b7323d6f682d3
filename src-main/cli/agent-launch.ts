/**
 * Loads the agent for `latchkey agent …`: the bundled agent when it is built
 * (one file to compile instead of some 200 modules to find and load: the
 * agent's start-to-ready time is mostly module loading), with the code cache
 * the build made for it (agent-bundle-loader.ts), else the same code from the
 * compiled modules (a build without the bundle step, tests from source).
 */
import { fileURLToPath } from 'node:url';
import { loadBundle } from './agent-bundle-loader.js';
import type { CliIO } from './output.js';

type AgentEntry = typeof import('./agent-entry.js');

/** From dist/src-main/cli/, where this module runs when built. */
export const AGENT_BUNDLE = fileURLToPath(new URL('../../agent-bundle/latchkey-agent.js', import.meta.url));

export function runAgentCommand(argv: readonly string[], io: CliIO): Promise<number | undefined> {
  return runAgentCommandFrom(AGENT_BUNDLE, argv, io);
}

/** {@link runAgentCommand} with the bundle at `bundle` (tests: a copy beside the real one). */
export async function runAgentCommandFrom(bundle: string, argv: readonly string[], io: CliIO): Promise<number | undefined> {
  const loaded = loadBundle(bundle);
  if (!loaded) return (await import('./agent-entry.js')).runAgentCommand(argv, io);
  return (loaded.exports as AgentEntry).runAgentCommand(argv, io, { bundle, codeCache: loaded.codeCache });
}
