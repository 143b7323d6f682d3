/** `latchkey kubectl-credential --provider P [--account A] [--scope S] [--resource URI] [--id-token]` (see kubectl-credential.ts). */
import type { CliIO } from '../cli/output.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { FlagSpec, Flags } from './flags.js';
import { helperContext, personAtTerminal, tokenWithSignIn } from './helper-run.js';
import { execCredential, parseExecInfo } from './kubectl-credential.js';
import { tokenParams } from './token-command.js';

export const KUBECTL_FLAGS: FlagSpec = { provider: 'string', account: 'string', scope: 'scope', resource: 'url', 'min-ttl': 'seconds', 'id-token': 'switch' };

export async function runKubectlCredential(io: CliIO, paths: LatchkeyPaths, flags: Flags): Promise<void> {
  const info = parseExecInfo(io.env.KUBERNETES_EXEC_INFO);
  const params = { ...tokenParams(flags), client: 'kubectl', target: `cluster ${info.server ?? '(not told: set provideClusterInfo: true)'}` };
  const token = await tokenWithSignIn(helperContext(io, paths, () => info.interactive ?? personAtTerminal(io)), params);
  io.stdout.write(execCredential(info, token, flags['id-token'] === true));
}
