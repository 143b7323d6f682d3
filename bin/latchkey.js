#!/usr/bin/env node
require('./run-built.js').runBuilt('latchkey');
