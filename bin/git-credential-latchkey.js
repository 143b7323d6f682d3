#!/usr/bin/env node
// git's credential helper: `git config credential.https://HOST.helper "latchkey --provider NAME"`.
// CommonJS, loading its bundle directly: see bin/latchkey.js.
try {
  require('../dist/lean/git-credential-latchkey.js');
} catch (err) {
  require('./not-built.js').explainUnbuilt('git-credential-latchkey', err);
}
