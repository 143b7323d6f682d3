#!/usr/bin/env node
// git's credential helper: `git config credential.https://HOST.helper "latchkey --provider NAME"`.
require('./run-built.js').runBuilt('git-credential-latchkey');
