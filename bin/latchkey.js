#!/usr/bin/env node
import { runBuilt } from './run-built.js';

runBuilt('latchkey', () => import('../dist/lean/latchkey.js'));
