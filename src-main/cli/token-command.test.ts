/**
 * `latchkey token` with short-lived tokens that cannot be refreshed: the CLI
 * in-process (runCli) against a real agent whose clock the test moves, the
 * demo provider issuing 30-second access tokens, and Chromium for the sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { Browser } from 'playwright-core';
import { silentLogger } from '../log/logger.js';
import { startDemoProvider, DEMO_CLIENT_ID, type DemoProvider } from '../demo/demo-provider.js';
import { startAgent, type RunningAgent } from '../agent/agent-main.js';
import { CHROMIUM_MISSING, chromiumAvailable, launchBrowser, signInAtProvider } from '../testing/browser.js';
import { createTestHome, type TestHome } from '../testing/test-home.js';
import { runCli } from './main.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(CHROMIUM_MISSING);

async function cli(home: TestHome, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCli(args, { stdout, stderr, env: { ...home.env } });
  return { code, stdout: out, stderr: err };
}

describe.skipIf(!hasChromium)('latchkey token with a token that cannot be refreshed', () => {
  let home: TestHome;
  let demo: DemoProvider;
  let agent: RunningAgent;
  let browser: Browser;
  let offsetMs = 0;

  beforeAll(async () => {
    home = await createTestHome('lk-token-cmd-');
    [demo, browser] = await Promise.all([startDemoProvider({ logger: silentLogger(), accessTokenTtl: 30 }), launchBrowser()]);
    agent = await startAgent({ env: home.env, paths: home.paths, logger: silentLogger(), now: () => Date.now() + offsetMs });
    // No offline_access: the provider issues no refresh token.
    await agent.core.addProvider({ name: 'short', issuer: demo.issuer, clientId: DEMO_CLIENT_ID, scope: 'openid email' });
    await agent.core.engine.authorize({ provider: 'short', onAuthorizationUrl: async (url) => void (await signInAtProvider(browser, url, { login: 'ivy' })) });
  });
  afterAll(async () => {
    await agent?.stop();
    await browser?.close();
    await demo?.close();
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  it('prints the still-valid token with a warning on stderr; with --min-ttl it fails without calling the token expired', async () => {
    const fresh = await cli(home, ['token']);
    expect(fresh).toMatchObject({ code: 0, stderr: '' });
    offsetMs = 20_000;
    const late = await cli(home, ['token']);
    expect(late.code).toBe(0);
    expect(late.stdout).toBe(fresh.stdout);
    expect(late.stderr).toMatch(/^warning: This access token is valid for only \d+ s more and could not be refreshed: the provider gave no refresh token at sign-in\. Run `latchkey login --provider short`/);
    const json = await cli(home, ['token', '--json']);
    expect(JSON.parse(json.stdout)).not.toHaveProperty('warning');
    expect(json.stderr).toMatch(/^warning: /);

    const strict = await cli(home, ['token', '--min-ttl', '25']);
    expect(strict.code).toBe(3);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/is valid for \d+ s more, less than the 25 s asked for \(--min-ttl\)/);
    expect(strict.stderr).not.toMatch(/expired/);

    offsetMs = 31_000;
    const expired = await cli(home, ['token']);
    expect(expired.code).toBe(3);
    expect(expired.stderr).toMatch(/expired and none can be refreshed/);
  });
});
