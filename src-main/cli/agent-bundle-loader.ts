/**
 * Loads the agent bundle (dist/agent-bundle/latchkey-agent.js, CommonJS) with
 * the V8 code cache `npm run build` made for it (scripts/build-agent.ts), so
 * an agent start neither parses and compiles the bundle's ≈ 0.9 MB again nor
 * compiles the functions its top level runs (issue 10: start to ready
 * ≤ 300 ms). Node 20 has no compile cache of its own for this
 * (`module.enableCompileCache` is Node 22).
 *
 * A code cache is trusted code: V8 checks little more than the source's
 * length and its own version and flags before running the bytecode it holds.
 * So the cache lives only beside the bundle in the install directory, written
 * at build time by whoever wrote the bundle, and is never written at run time
 * or read from a temp or cache directory: anyone who could write there could
 * run code in every agent. The cache file also starts with a SHA-256 of the
 * bundle it was made from, so a bundle changed after the build (same length
 * or not) is compiled from its source instead of paired with stale bytecode.
 *
 * What is not accepted (another Node or V8 than the build's, other V8 flags,
 * a damaged file) only costs the compile the cache would have saved.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

/** What became of the code cache: used, refused by V8, made from another bundle, or none built. */
export type CodeCacheUse = 'accepted' | 'rejected' | 'stale' | 'absent';

export interface LoadedBundle {
  /** The bundle's `module.exports`. */
  exports: unknown;
  codeCache: CodeCacheUse;
}

/** The cache of the bundle at `bundlePath`: its name is part of the build's output, like the bundle's. */
export function codeCachePathFor(bundlePath: string): string {
  return `${bundlePath}.cache`;
}

/** Bytes of the SHA-256 of the bundle that start the cache file; V8's own cached data follows. */
const HASH_LENGTH = 32;

/**
 * Compiles the bundle at `bundlePath` (with its code cache when there is a
 * matching one) and runs its top level. `undefined` when there is no bundle
 * (a build without the bundle step); any other failure is thrown.
 */
export function loadBundle(bundlePath: string): LoadedBundle | undefined {
  const source = readIfExists(bundlePath);
  if (!source) return undefined;
  const cache = readIfExists(codeCachePathFor(bundlePath));
  const matching = cache && cache.length > HASH_LENGTH && cache.subarray(0, HASH_LENGTH).equals(hashOf(source));
  const script = compileBundle(source, bundlePath, matching ? cache.subarray(HASH_LENGTH) : undefined);
  const codeCache: CodeCacheUse = !cache ? 'absent' : !matching ? 'stale' : script.cachedDataRejected ? 'rejected' : 'accepted';
  return { exports: runBundle(script, bundlePath), codeCache };
}

/**
 * The build step: compiles the bundle, runs its top level (which only defines
 * things: scripts/build-agent.ts checks that it leaves nothing running), and
 * returns the cache file's bytes. Made after running, so the functions the
 * top level compiled are in it too.
 */
export function makeCodeCache(bundlePath: string): Buffer {
  const source = readFileSync(bundlePath);
  const script = compileBundle(source, bundlePath, undefined);
  runBundle(script, bundlePath);
  return Buffer.concat([hashOf(source), script.createCachedData()]);
}

/**
 * What the bundle's code gets in place of an ES module's `import.meta.url`
 * and `import()` (scripts/build-agent.ts puts these names in their place).
 * Not V8's own `import()`: a script compiled from a code cache loses its
 * host-defined options in Node 20's V8, and with them Node's way to load
 * what `import()` asks for (it throws ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
 */
export const BUNDLE_IMPORT_META_URL = 'latchkeyImportMetaUrl';
export const BUNDLE_IMPORT = 'latchkeyImport';

/**
 * Node's CommonJS wrapper and the two names above, on the bundle's first line
 * so every other line keeps its number in stack traces. Part of what the cache
 * was made from: the build and every start wrap alike (both use this module).
 */
const WRAPPER_START = `(function (exports, require, module, __filename, __dirname, ${BUNDLE_IMPORT_META_URL}, ${BUNDLE_IMPORT}) { `;
const WRAPPER_END = '\n})';

function compileBundle(source: Buffer, filename: string, cachedData: Buffer | undefined): Script {
  // `filename`: stack traces name the bundle.
  return new Script(WRAPPER_START + source.toString('utf8') + WRAPPER_END, { filename, ...(cachedData ? { cachedData } : {}) });
}

type CommonJsWrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
  importMetaUrl: string,
  importModule: (specifier: string) => Promise<unknown>,
) => void;

function runBundle(script: Script, filename: string): unknown {
  const module = { exports: {} as unknown };
  const url = pathToFileURL(filename).href;
  // A relative specifier names a compiled module from the bundle's place (scripts/esbuild-plugins.ts); a package
  // is found from here, in the same install as the bundle.
  const importModule = (specifier: string) => import(specifier.startsWith('.') ? new URL(specifier, url).href : specifier);
  const wrapper = script.runInThisContext() as CommonJsWrapper;
  wrapper.call(module.exports, module.exports, createRequire(filename), module, filename, dirname(filename), url, importModule);
  return module.exports;
}

function hashOf(source: Buffer): Buffer {
  return createHash('sha256').update(source).digest();
}

function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
