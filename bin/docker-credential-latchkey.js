#!/usr/bin/env node
// Docker's credential helper: `"credHelpers": {"registry.example.com": "latchkey"}` in ~/.docker/config.json.
require('./run-built.js').runBuilt('docker-credential-latchkey');
