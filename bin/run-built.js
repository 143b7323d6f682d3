// Shared by the bin/ launchers: the commands are compiled to dist/ by `npm run build` (`npm ci` runs no scripts: see .npmrc).
// CommonJS (bin/package.json), as are the bundles it loads: tools start these on every operation, and Node 20's
// ES module loader costs more start-up time than a cached token's whole round trip (scripts/build-lean.ts).
'use strict';
const { join } = require('node:path');

exports.runBuilt = function runBuilt(name) {
  const bundle = join(__dirname, '..', 'dist', 'lean', `${name}.js`);
  try {
    require(bundle);
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(bundle)) {
      process.stderr.write(`${name}: not built yet. Run \`npm run build\` in the Latchkey folder first.\n`);
      process.exit(70);
    }
    throw err;
  }
};
