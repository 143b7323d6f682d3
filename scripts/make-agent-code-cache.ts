/**
 * Writes the agent bundle's V8 code cache (see src-main/cli/agent-bundle-loader.ts)
 * beside it: `node dist/scripts/make-agent-code-cache.js <bundle>`. Run by
 * scripts/build-agent.ts in a process of its own, so the cache holds only the
 * bundle's code and not the build's, and is made by the same `node` without
 * extra flags, as the agent runs.
 *
 * Written here, at build time, into the install directory only: a code cache
 * is trusted code, so it must never be written at run time or to a place
 * others can write (a temp or cache directory).
 */
import { writeFileSync } from 'node:fs';
import { codeCachePathFor, makeCodeCache } from '../src-main/cli/agent-bundle-loader.js';

const bundle = process.argv[2];
if (!bundle) throw new Error('usage: make-agent-code-cache.js <bundle>');

// The top level runs here to put what it compiles into the cache, so it must only define things:
// anything it leaves running (a timer, a socket, a file handle, a process listener) fails the build.
const resourcesBefore = process.getActiveResourcesInfo();
const eventsBefore = process.eventNames();
const cache = makeCodeCache(bundle);
const left = [...difference(process.getActiveResourcesInfo(), resourcesBefore), ...difference(process.eventNames().map(String), eventsBefore.map(String)).map((e) => `process '${e}' listener`)];
if (left.length > 0) throw new Error(`the agent bundle's top level left something running: ${left.join(', ')}`);
writeFileSync(codeCachePathFor(bundle), cache);

/** What `after` has beyond `before`, counting repeats. */
function difference(after: readonly string[], before: readonly string[]): string[] {
  const rest = [...before];
  return after.filter((item) => {
    const i = rest.indexOf(item);
    if (i < 0) return true;
    rest.splice(i, 1);
    return false;
  });
}
