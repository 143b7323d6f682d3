// Shared by the bin/ launchers, and loaded only when their bundle is missing: the commands are
// compiled to dist/ by `npm run build` (`npm ci` runs no scripts: see .npmrc).
'use strict';

/** Exits with a line saying what to do when `err` is the launcher's bundle missing; rethrows anything else. */
exports.explainUnbuilt = function explainUnbuilt(name, err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).startsWith(`Cannot find module '../dist/lean/${name}.js'`)) {
    process.stderr.write(`${name}: not built yet. Run \`npm run build\` in the Latchkey folder first.\n`);
    process.exit(70);
  }
  throw err;
};
