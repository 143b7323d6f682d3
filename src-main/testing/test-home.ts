/**
 * A private Latchkey home for a test: a temporary directory with a 0600
 * passphrase file, the environment that points the agent at both, and the
 * paths that follow from it. The caller removes `dir` when done.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths, type LatchkeyPaths } from '../platform/paths.js';

export const TEST_PASSPHRASE = 'correct horse battery staple';

export interface TestHome {
  dir: string;
  env: { LATCHKEY_HOME: string; LATCHKEY_PASSPHRASE_FILE: string };
  paths: LatchkeyPaths;
}

/** `homeName`: the data directory's name inside `dir` (default `home`). */
export async function createTestHome(prefix: string, homeName = 'home'): Promise<TestHome> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'pass'), `${TEST_PASSPHRASE}\n`, { mode: 0o600 });
  const env = { LATCHKEY_HOME: join(dir, homeName), LATCHKEY_PASSPHRASE_FILE: join(dir, 'pass') };
  return { dir, env, paths: resolvePaths(env) };
}
