/** Process entry of `docker-credential-latchkey` (see docker-credential.ts for the protocol). */
import { LatchkeyError } from '../errors.js';
import type { CliIO } from '../cli/output.js';
import { resolvePaths } from '../platform/paths.js';
import { LATCHKEY_VERSION } from '../version.js';
import { CREDENTIALS_NOT_FOUND, DOCKER_OPERATIONS, getAnswer, listAnswer } from './docker-credential.js';
import { helperContext, runHelper, tokenWithSignIn } from './helper-run.js';
import { lookupHost, mappingTokenParams, readHostMap } from './host-map.js';
import { leanProcessIO, readInput } from './process-io.js';

async function main(io: CliIO): Promise<number | void> {
  const [operation, ...extra] = process.argv.slice(2);
  if (!operation || extra.length > 0 || !(DOCKER_OPERATIONS as readonly string[]).includes(operation)) {
    throw new LatchkeyError('usage', `usage: docker-credential-latchkey ${DOCKER_OPERATIONS.join('|')} (Docker runs it; see \`latchkey host add\`)`);
  }
  const paths = resolvePaths(io.env);
  if (operation === 'version') return void io.stdout.write(`docker-credential-latchkey (Latchkey) ${LATCHKEY_VERSION}\n`);
  if (operation === 'list') return void io.stdout.write(listAnswer(readHostMap(paths.hosts)));
  const input = await readInput();
  if (operation !== 'get') return;
  const serverUrl = input.trim();
  const found = lookupHost(paths.hosts, serverUrl);
  if (!found) {
    io.stdout.write(`${CREDENTIALS_NOT_FOUND}\n`);
    return 1;
  }
  const { host, mapping } = found;
  const params = mappingTokenParams(mapping, 'docker', `registry ${host}`);
  const token = await tokenWithSignIn(helperContext(io, paths), params);
  io.stdout.write(getAnswer(serverUrl, token, mapping.username));
}

const io = leanProcessIO();
// No top-level await: the lean bundle is CommonJS (see scripts/build-lean.ts).
void runHelper(io, () => main(io), 'docker-credential-latchkey').then((code) => process.exit(code));
