#!/usr/bin/env node
// CommonJS (bin/package.json), as is the bundle it loads: tools start these launchers on every operation, and
// each module more, or Node 20's ES module loader, is start-up time a cached token pays (scripts/build-lean.ts).
try {
  require('../dist/lean/latchkey.js');
} catch (err) {
  require('./not-built.js').explainUnbuilt('latchkey', err);
}
