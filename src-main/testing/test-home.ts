/**
 * Temporary directories for tests, and the one way to make a private Latchkey
 * home in one: a data directory, a 0600 passphrase file, the environment that
 * points the agent at both, and the paths that follow from it. In-process
 * tests, helper tests and the CLI end-to-end tests (cli-home.ts) all start here.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { resolvePaths, type LatchkeyPaths } from '../platform/paths.js';

export const TEST_PASSPHRASE = 'correct horse battery staple';

/** A fresh temp directory, removed when the current test finishes. Call it in a test or a `beforeEach`, not in `beforeAll`. */
export async function tempDir(prefix = 'latchkey-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temp directory for a whole `describe` block, for set-up its tests share:
 * made before the block's first `beforeAll` that comes after this call, removed
 * after its last test. Call it in the block's body; the returned function gives
 * the directory (from that `beforeAll` or a test on).
 */
export function suiteTempDir(prefix = 'latchkey-test-'): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('suiteTempDir: the directory is made in a beforeAll; read it from a later beforeAll or a test');
    return dir;
  };
}

export interface TestHomeOptions {
  /** The data directory's name inside `dir`; default `home`. */
  homeName?: string;
  /** Give the agent a passphrase file (default true); without one a new vault needs a keyring or a person. */
  passphraseFile?: boolean;
  /** Written as the data directory's config.json (the data directory is then created, 0700). */
  config?: Record<string, unknown>;
}

export interface TestHome {
  /** The temp directory holding everything; the caller removes it when done. */
  dir: string;
  env: { LATCHKEY_HOME: string; LATCHKEY_PASSPHRASE_FILE?: string };
  paths: LatchkeyPaths;
}

export async function createTestHome(prefix: string, options: TestHomeOptions = {}): Promise<TestHome> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const env: TestHome['env'] = { LATCHKEY_HOME: join(dir, options.homeName ?? 'home') };
  if (options.passphraseFile ?? true) {
    env.LATCHKEY_PASSPHRASE_FILE = join(dir, 'passphrase');
    await writeFile(env.LATCHKEY_PASSPHRASE_FILE, `${TEST_PASSPHRASE}\n`, { mode: 0o600 });
  }
  if (options.config) {
    await mkdir(env.LATCHKEY_HOME, { recursive: true, mode: 0o700 });
    await writeFile(join(env.LATCHKEY_HOME, 'config.json'), JSON.stringify(options.config));
  }
  return { dir, env, paths: resolvePaths(env) };
}
