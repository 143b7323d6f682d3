/**
 * The agent bundle (scripts/build-agent.ts) and how an agent start loads it
 * (agent-launch.ts, agent-bundle-loader.ts). Issue 10: start to ready ≤ 300 ms.
 * Requires `npm run build`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliHome, waitFor, withOutput, type CliRun } from '../testing/cli-home.js';
import { BUNDLE_IMPORT, codeCachePathFor, type CodeCacheUse } from './agent-bundle-loader.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BUNDLE = join(ROOT, 'dist/agent-bundle/latchkey-agent.js');
const CACHE = codeCachePathFor(BUNDLE);
const skip = existsSync(BUNDLE) && existsSync(CACHE) ? undefined : 'dist/agent-bundle/ is missing; run `npm run build` (npm test does)';
if (skip) console.warn(`SKIP agent bundle: ${skip}`);
const addonBuilt = existsSync(join(ROOT, 'dist/native/peer-credentials.node'));

describe.skipIf(Boolean(skip))('the agent bundle', () => {
  it('does not carry openid-client, oauth4webapi or jose; it imports openid-client on first use', () => {
    const source = readFileSync(BUNDLE, 'utf8');
    // esbuild names each bundled module's source path in a comment.
    expect(source.match(/^\/\/ .*node_modules\/(openid-client|oauth4webapi|jose)\/.*$/gm) ?? []).toEqual([]);
    expect(source).toContain(`${BUNDLE_IMPORT}("openid-client")`);
  });
});

/** A started agent's JSON log lines. */
function logOf(run: CliRun): Array<Record<string, unknown>> {
  return run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const codeCacheOf = (run: CliRun) => logOf(run).find((entry) => entry.msg === 'agent code loaded from the bundle');

/** Waits for `agent ready`, then stops the agent with `latchkey agent stop`; its whole output. */
async function untilReadyThenStop(home: CliHome, child: ReturnType<typeof withOutput>): Promise<CliRun> {
  try {
    await waitFor(() => child.output.stderr.includes('"msg":"agent ready"') || child.exitCode !== null, 'the agent to be ready');
    expect(child.exitCode, child.output.stderr).toBeNull();
    expect((await home.run(['agent', 'stop'])).code).toBe(0);
  } finally {
    if (child.exitCode === null) setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  }
  const run = await child.done;
  expect(run.code, run.stderr).toBe(0);
  return run;
}

/** `latchkey agent --foreground` from the bundle at `bundle`, through the launcher's code (agent-launch.ts). */
function startAgentFrom(home: CliHome, bundle: string) {
  const launch = pathToFileURL(join(ROOT, 'dist/src-main/cli/agent-launch.js')).href;
  const script = `const { runAgentCommandFrom } = await import(${JSON.stringify(launch)});
process.exit(await runAgentCommandFrom(process.argv[1], process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }));`;
  const args = ['--input-type=module', '-e', script, '--', bundle, 'agent', '--foreground', '--log-format', 'json'];
  return withOutput(spawn(process.execPath, args, { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/**
 * A copy of the built bundle and its cache, changed by `change`, one level below
 * dist/ as the real one is (so it finds the packages, the native addon and the
 * compiled modules it imports the same way).
 */
async function bundleCopy(change: (copy: { bundle: string; cache: string }) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(ROOT, 'dist', 'agent-bundle-test-'));
  const bundle = join(dir, 'latchkey-agent.js');
  await copyFile(BUNDLE, bundle);
  await copyFile(CACHE, codeCachePathFor(bundle));
  await copyFile(join(BUNDLE, '..', 'package.json'), join(dir, 'package.json'));
  await change({ bundle, cache: codeCachePathFor(bundle) });
  return bundle;
}

const HASH_LENGTH = 32;

describe.skipIf(Boolean(skip))("the agent bundle's code cache", () => {
  it('`latchkey agent --foreground` runs the bundle with the code cache the build made, accepted by V8', async () => {
    const home = await CliHome.create();
    try {
      const run = await untilReadyThenStop(home, home.start(['agent', '--foreground', '--log-format', 'json']));
      expect(codeCacheOf(run)).toMatchObject({ level: 20, bundle: BUNDLE, codeCache: 'accepted' });
      // import.meta.url inside the bundle: the peer-credentials addon is found from the bundle's place.
      if (addonBuilt) expect(run.stderr).not.toContain('peers are identified through ss');
    } finally {
      await home.cleanup();
    }
  }, 60_000);

  it('an error inside the bundle keeps its code (exit 2, not internal) and its stack names the bundle file', async () => {
    const home = await CliHome.create();
    try {
      const file = join(home.dir, 'a-file');
      await writeFile(file, 'x');
      const run = await home.run(['agent', '--foreground'], { LATCHKEY_HOME: file, LATCHKEY_DEBUG: '1' });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^latchkey: LATCHKEY_HOME \(.*\) is a file, not a directory/);
      expect(run.stderr).toMatch(new RegExp(`\\(${BUNDLE.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+\\)`));
    } finally {
      await home.cleanup();
    }
  }, 60_000);

  const cases: Array<[string, CodeCacheUse, (copy: { bundle: string; cache: string }) => Promise<void>]> = [
    // Same length: V8 alone would take the old bytecode for the new source; the SHA-256 in the cache file catches it.
    ['the bundle edited after the build, same length', 'stale', async ({ bundle }) => writeFile(bundle, (await readFile(bundle, 'utf8')).replace('"use strict";', "'use strict';"))],
    ['the bundle edited after the build, longer', 'stale', async ({ bundle }) => writeFile(bundle, `${await readFile(bundle, 'utf8')}\n// edited\n`)],
    ['a cache file of random bytes', 'stale', async ({ cache }) => writeFile(cache, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)))],
    ['V8 data cut short', 'rejected', async ({ cache }) => writeFile(cache, (await readFile(cache)).subarray(0, 20_000))],
    ['V8 data replaced by garbage', 'rejected', async ({ cache }) => {
      const data = await readFile(cache);
      data.fill(0x5a, HASH_LENGTH);
      await writeFile(cache, data);
    }],
    ['no cache file', 'absent', async ({ cache }) => rm(cache)],
  ];

  it.each(cases)('%s: the cache is not used (%s) and the agent starts all the same', async (_, expected, change) => {
    const bundle = await bundleCopy(change);
    const home = await CliHome.create();
    try {
      const run = await untilReadyThenStop(home, startAgentFrom(home, bundle));
      expect(codeCacheOf(run)).toMatchObject({ bundle, codeCache: expected });
    } finally {
      await home.cleanup();
      await rm(join(bundle, '..'), { recursive: true, force: true });
    }
  }, 60_000);

  it('an unchanged copy is accepted (what the cases above change is what makes the difference)', async () => {
    const bundle = await bundleCopy(async () => {});
    const home = await CliHome.create();
    try {
      expect(codeCacheOf(await untilReadyThenStop(home, startAgentFrom(home, bundle)))).toMatchObject({ bundle, codeCache: 'accepted' });
    } finally {
      await home.cleanup();
      await rm(join(bundle, '..'), { recursive: true, force: true });
    }
  }, 60_000);

  it('no bundle: the agent starts from the compiled modules', async () => {
    const home = await CliHome.create();
    try {
      const run = await untilReadyThenStop(home, startAgentFrom(home, join(home.dir, 'no-such-bundle.js')));
      expect(codeCacheOf(run)).toBeUndefined();
      expect(logOf(run).some((entry) => entry.msg === 'agent ready')).toBe(true);
    } finally {
      await home.cleanup();
    }
  }, 60_000);
});
