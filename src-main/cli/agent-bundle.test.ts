/**
 * The agent bundle's start path (issue 10: start to ready ≤ 300 ms) leaves
 * openid-client and what it loads to the first provider request
 * (engine/openid-client.ts): they are not compiled into the bundle, only
 * imported from node_modules when the agent first talks to a provider.
 * Requires `npm run build`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE_IMPORT } from './agent-bundle-loader.js';

const BUNDLE = join(resolve(import.meta.dirname, '../..'), 'dist/agent-bundle/latchkey-agent.js');
const skip = existsSync(BUNDLE) ? undefined : 'dist/agent-bundle/ is missing; run `npm run build` (npm test does)';
if (skip) console.warn(`SKIP agent bundle contents: ${skip}`);

describe.skipIf(Boolean(skip))('the agent bundle', () => {
  it('does not carry openid-client, oauth4webapi or jose; it imports openid-client on first use', () => {
    const source = readFileSync(BUNDLE, 'utf8');
    // esbuild names each bundled module's source path in a comment.
    expect(source.match(/^\/\/ .*node_modules\/(openid-client|oauth4webapi|jose)\/.*$/gm) ?? []).toEqual([]);
    expect(source).toContain(`${BUNDLE_IMPORT}("openid-client")`);
  });
});
