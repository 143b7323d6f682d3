/**
 * Bundles the agent (`latchkey agent --foreground`, src-main/cli/agent-entry.ts)
 * into dist/agent-bundle/, so its start is one file to compile instead of some
 * 200 modules to resolve, read and link (issue 10: start to ready ≤ 300 ms).
 * cli/agent-launch.ts loads it. Run by `npm run build` after tsc.
 *
 * Kept out of the bundle: the keyring's native addon, and whatever the agent
 * loads on demand with `import()` (the demo provider, the AWS SDK), which stays
 * an import of the compiled module in dist/src-main/ or of the package.
 *
 * CommonJS, so cli/agent-bundle-loader.ts can compile it as one `vm.Script`
 * with the V8 code cache made here (scripts/make-agent-code-cache.ts): V8
 * caches scripts, and Node 20 has no cache for ES modules. The loader hands
 * the bundle what stands in for `import.meta.url` and `import()` there.
 */
import { build, transform, type Plugin } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_IMPORT, BUNDLE_IMPORT_META_URL } from '../src-main/cli/agent-bundle-loader.js';
import { keepDynamicImports } from './esbuild-plugins.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** One level below dist/, like dist/lean/: platform/peer-credentials.ts finds its addon from there. */
const outdir = join(root, 'dist', 'agent-bundle');

/**
 * zod's `z` namespace carries every locale's error messages (≈ 370 KB of the
 * bundle, ≈ 6 MiB of RSS); the agent reports validation failures in English
 * only (its `en` default is imported by zod directly, not through this index).
 */
const withoutZodLocales: Plugin = {
  name: 'without-zod-locales',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'without-zod-locales' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'without-zod-locales' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

await build({
  entryPoints: { 'latchkey-agent': join(root, 'dist', 'src-main', 'cli', 'agent-entry.js') },
  outdir,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // The keyring's JavaScript is bundled (an ES import of a CommonJS package costs Node ≈ 50 ms of parsing to find its
  // exports); the platform packages it requires hold the native addon itself.
  external: ['@napi-rs/keyring-*'],
  // What a module finds beside it from `import.meta.url` (platform/peer-credentials.ts: its addon) is found from the bundle's place.
  define: { 'import.meta.url': BUNDLE_IMPORT_META_URL },
  plugins: [keepDynamicImports(outdir), withoutZodLocales],
  logLevel: 'warning',
});
const bundle = join(outdir, 'latchkey-agent.js');
await routeDynamicImports(bundle);
await asciiComments(bundle);
// The bundle keeps the `.js` name; this says it is CommonJS (to Node and tools). Only cli/agent-bundle-loader.ts runs it:
// a plain require() would lack the stand-ins for import() and import.meta.url.
await writeFile(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
execFileSync(process.execPath, [join(root, 'dist', 'scripts', 'make-agent-code-cache.js'), bundle], { stdio: 'inherit' });

/**
 * Makes each `import("…")` esbuild kept (keepDynamicImports) a call of the
 * loader's stand-in (see BUNDLE_IMPORT), and checks, parsing the result, that
 * none is left: one would throw whenever the code cache is used.
 */
async function routeDynamicImports(file: string): Promise<void> {
  let source = await readFile(file, 'utf8');
  for (const specifier of await dynamicImportsOf(file)) source = source.replaceAll(`import(${JSON.stringify(specifier)})`, `${BUNDLE_IMPORT}(${JSON.stringify(specifier)})`);
  await writeFile(file, source);
  const left = await dynamicImportsOf(file);
  if (left.length > 0) throw new Error(`the agent bundle still has import() of ${left.join(', ')}: write them as import('literal') for keepDynamicImports`);
}

/**
 * esbuild escapes every non-ASCII character in code (its default `charset`)
 * but keeps comments as written, and a few `—` or `§` there make the whole
 * source a two-byte string: Node decodes it ≈ 2 ms slower on every start and
 * V8 holds it at twice the size. In comments they become `\u{…}` text; that
 * nothing but comments changed is checked on the code without comments.
 */
async function asciiComments(file: string): Promise<void> {
  const source = await readFile(file, 'utf8');
  const ascii = source.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  if (ascii === source) return;
  const code = async (js: string) => (await transform(js, { loader: 'js', minifyWhitespace: true, legalComments: 'none', charset: 'utf8' })).code;
  if ((await code(ascii)) !== (await code(source))) throw new Error('the agent bundle has non-ASCII characters outside comments: escape them');
  await writeFile(file, ascii);
}

/** The specifiers of every `import()` in a built file, as esbuild's parser finds them (not in comments or strings). */
async function dynamicImportsOf(file: string): Promise<string[]> {
  const scan = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, platform: 'node', external: ['*'], logLevel: 'error' });
  return Object.values(scan.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path));
}
