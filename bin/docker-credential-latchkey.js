#!/usr/bin/env node
// Docker's credential helper: `"credHelpers": {"registry.example.com": "latchkey"}` in ~/.docker/config.json.
// CommonJS, loading its bundle directly: see bin/latchkey.js.
try {
  require('../dist/lean/docker-credential-latchkey.js');
} catch (err) {
  require('./not-built.js').explainUnbuilt('docker-credential-latchkey', err);
}
