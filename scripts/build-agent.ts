/**
 * Bundles the agent (`latchkey agent --foreground`, src-main/cli/agent-entry.ts)
 * into dist/agent-bundle/, so its start is one file to compile instead of some
 * 200 modules to resolve, read and link (issue 10: start to ready ≤ 300 ms).
 * cli/agent-launch.ts loads it. Run by `npm run build` after tsc.
 *
 * Kept out of the bundle: the keyring's native addon, and whatever the agent
 * loads on demand with `import()` (the demo provider, the AWS SDK), which stays
 * an import of the compiled module in dist/src-main/ or of the package.
 */
import { build, type Plugin } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The keyring's JavaScript is bundled (an ES import of a CommonJS package costs Node ≈ 50 ms of parsing to find its
  // exports); the platform packages it requires hold the native addon itself.
  external: ['@napi-rs/keyring-*'],
  // pino and its helpers are CommonJS and require Node's built-ins.
  banner: { js: "import { createRequire as latchkeyCreateRequire } from 'node:module'; const require = latchkeyCreateRequire(import.meta.url);" },
  plugins: [keepDynamicImports(outdir), withoutZodLocales],
  logLevel: 'warning',
});
