#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` via `prepare`).
import('../dist/src-main/cli/entry.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('latchkey: not built yet. Run `npm ci` (or `npm run build`) in the Latchkey folder first.\n');
    process.exit(70);
  }
  throw err;
});
