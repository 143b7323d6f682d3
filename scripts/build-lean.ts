/**
 * Bundles each command tools start on every operation (`latchkey`, the git
 * and Docker credential helpers) into one CommonJS file in dist/lean/, so a
 * cached token costs one synchronous module load (issue 9: each helper must
 * start within 1.5× `node -e 0`). CommonJS because Node 20's ES module loader
 * alone costs more start-up time than the helper's own work: it reads files
 * asynchronously, builds a facade module for every `node:` import and runs
 * the module graph through promises (`npm run bench -- --helpers` shows it).
 *
 * Only the lean path is bundled: the on-demand imports of the full CLI
 * (commander, the agent, the sign-in) stay `import()`s of the tsc output in
 * dist/src-main/, which is ESM. Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepDynamicImports } from './esbuild-plugins.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const compiled = join(root, 'dist', 'src-main');
const outdir = join(root, 'dist', 'lean');

await build({
  entryPoints: {
    latchkey: join(compiled, 'cli', 'entry.js'),
    'git-credential-latchkey': join(compiled, 'helpers', 'git-credential-main.js'),
    'docker-credential-latchkey': join(compiled, 'helpers', 'docker-credential-main.js'),
  },
  outdir,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [keepDynamicImports(outdir)],
  logLevel: 'warning',
});
// The bundles keep the `.js` names bin/ and the tests use; this tells Node they are CommonJS.
await writeFile(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
