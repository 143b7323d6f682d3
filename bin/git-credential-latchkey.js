#!/usr/bin/env node
// git's credential helper: `git config credential.https://HOST.helper "latchkey --provider NAME"`.
import { runBuilt } from './run-built.js';

runBuilt('git-credential-latchkey', () => import('../dist/lean/git-credential-latchkey.js'));
