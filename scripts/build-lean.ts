/**
 * Bundles each command tools start on every operation (`latchkey`, the git
 * and Docker credential helpers) into one file in dist/lean/, so a cached
 * token costs one module load instead of a dozen (issue 9: each helper must
 * start within 1.5× `node -e 0`). Only the lean path is bundled: the
 * on-demand imports of the full CLI (commander, the agent, the sign-in) stay
 * imports of the tsc output in dist/src-main/. Run by `npm run build` after tsc.
 */
import { build, type Plugin } from 'esbuild';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const compiled = join(root, 'dist', 'src-main');
const outdir = join(root, 'dist', 'lean');

/** `import('…')` stays a dynamic import, pointed from dist/lean/ at the compiled module. */
const keepDynamicImports: Plugin = {
  name: 'keep-dynamic-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const target = relative(outdir, resolve(args.resolveDir, args.path));
      return { path: target.startsWith('.') ? target : `./${target}`, external: true };
    });
  },
};

await build({
  entryPoints: {
    latchkey: join(compiled, 'cli', 'entry.js'),
    'git-credential-latchkey': join(compiled, 'helpers', 'git-credential-main.js'),
    'docker-credential-latchkey': join(compiled, 'helpers', 'docker-credential-main.js'),
  },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [keepDynamicImports],
  logLevel: 'warning',
});
