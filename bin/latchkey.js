#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (`npm ci` runs no scripts: see .npmrc).
import('../dist/src-main/cli/entry.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('latchkey: not built yet. Run `npm run build` in the Latchkey folder first.\n');
    process.exit(70);
  }
  throw err;
});
