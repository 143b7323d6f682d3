/** Process entry of `git-credential-latchkey` (see git-credential.ts for the protocol). */
import { resolvePaths } from '../platform/paths.js';
import { LatchkeyError } from '../errors.js';
import type { CliIO } from '../cli/output.js';
import { parseFlags } from './flags.js';
import { GIT_OPERATIONS, formatGetAnswer, parseGitAttributes, refusalFor, rejectedToken, requestedHost } from './git-credential.js';
import { helperContext, personAtTerminal, runHelper, tokenWithSignIn } from './helper-run.js';
import { lookupHost, mappingTokenParams, type HostMapping } from './host-map.js';
import { ownerCall } from './owner-call.js';
import { leanProcessIO, readInput } from './process-io.js';

const FLAGS = { provider: 'string', account: 'string', scope: 'scope', resource: 'url', username: 'string' } as const;

async function main(io: CliIO): Promise<number | void> {
  const parsed = parseFlags(process.argv.slice(2), FLAGS, GIT_OPERATIONS);
  if (!parsed || parsed.words.length !== 1) {
    throw new LatchkeyError('usage', 'usage: git-credential-latchkey [--provider NAME] [--account ID] [--scope S] [--resource URI] [--username U] get|store|erase');
  }
  const operation = parsed.words[0];
  const attributes = parseGitAttributes(await readInput());
  if (operation === 'store') return;
  const paths = resolvePaths(io.env);
  if (operation === 'erase') {
    const token = rejectedToken(attributes);
    if (token) await ownerCall(paths, 'admin.token.drop', { access_token: token }, { env: io.env });
    return;
  }
  const host = requestedHost(attributes);
  if (!host) return;
  const { flags } = parsed;
  const mapping: HostMapping | undefined =
    typeof flags.provider === 'string'
      ? (Object.fromEntries(Object.entries(flags).filter(([, v]) => typeof v === 'string')) as unknown as HostMapping)
      : lookupHost(paths.hosts, host)?.mapping;
  if (!mapping) return;
  const refusal = refusalFor(attributes);
  if (refusal) {
    io.stderr.write(`git-credential-latchkey: ${refusal}\n`);
    return;
  }
  const interactive = () => personAtTerminal(io) && io.env.GIT_TERMINAL_PROMPT !== '0';
  const token = await tokenWithSignIn(helperContext(io, paths, interactive), mappingTokenParams(mapping, 'git', `host ${host}`));
  io.stdout.write(formatGetAnswer(attributes, token, mapping.username));
}

const io = leanProcessIO();
// No top-level await: the lean bundle is CommonJS (see scripts/build-lean.ts).
void runHelper(io, () => main(io), 'git-credential-latchkey').then((code) => process.exit(code));
