/**
 * Bundles what tsc cannot: the React renderer (dist/renderer/: index.html,
 * app.js, app.css) and the sandboxed preload (dist/preload/preload.cjs —
 * sandboxed preloads cannot load modules, so it is one CommonJS file with
 * only `electron` left external). Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'dist');

await mkdir(join(out, 'renderer'), { recursive: true });
await Promise.all([
  build({
    entryPoints: { app: join(root, 'src-renderer', 'main.tsx') },
    outdir: join(out, 'renderer'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    jsx: 'automatic',
    minify: true,
    sourcemap: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  }),
  build({
    entryPoints: { app: join(root, 'src-renderer', 'styles.css') },
    outdir: join(out, 'renderer'),
    bundle: true,
    minify: true,
    logLevel: 'warning',
  }),
  build({
    entryPoints: [join(root, 'src-preload', 'preload.ts')],
    outfile: join(out, 'preload', 'preload.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['electron'],
    logLevel: 'warning',
  }),
  copyFile(join(root, 'src-renderer', 'index.html'), join(out, 'renderer', 'index.html')),
]);
