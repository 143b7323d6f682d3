#!/usr/bin/env node
// Docker's credential helper: `"credHelpers": {"registry.example.com": "latchkey"}` in ~/.docker/config.json.
import { runBuilt } from './run-built.js';

runBuilt('docker-credential-latchkey', () => import('../dist/lean/docker-credential-latchkey.js'));
