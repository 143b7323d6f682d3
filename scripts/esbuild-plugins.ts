/**
 * esbuild plugins shared by the bundle scripts (build-lean.ts, build-agent.ts).
 */
import type { Plugin } from 'esbuild';
import { relative, resolve } from 'node:path';

/**
 * Every `import('…')` stays a dynamic import, loaded only when the code runs
 * it: a relative one points from `outdir` at the compiled module in
 * dist/src-main/, a package or `node:` built-in stays as written. What a
 * bundle loads on demand (the full CLI, the sign-in, the demo provider, the
 * AWS SDK) so costs its start nothing.
 */
export function keepDynamicImports(outdir: string): Plugin {
  return {
    name: 'keep-dynamic-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        if (!args.path.startsWith('.')) return { path: args.path, external: true };
        const target = relative(outdir, resolve(args.resolveDir, args.path));
        return { path: target.startsWith('.') ? target : `./${target}`, external: true };
      });
    },
  };
}
