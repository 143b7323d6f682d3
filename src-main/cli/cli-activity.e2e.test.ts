/**
 * `latchkey activity`, `apps`, `status` and the policy file as a person uses
 * them: the built CLI, a real background agent, the demo provider and
 * Chromium as the system browser. Requires `npm run build`.
 * - tokens handed to the CLI are in the log as "latchkey CLI" (once a minute);
 * - a filter that matches nothing says so;
 * - `apps` shows a use right after a token was issued;
 * - `logout` logs each grant it ended;
 * - an invalid policy.json never stops the agent; `status` shows it is ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromiumAvailable } from '../testing/browser.js';
import { cliBuilt, CliHome as Home } from '../testing/cli-home.js';
import { LatchkeyClient } from '../sdk/latchkey-client.js';

if (!cliBuilt) console.warn('SKIP CLI activity tests: dist/ is missing; run `npm run build` (npm test does).');
if (!chromiumAvailable()) console.warn('SKIP CLI activity tests: /usr/bin/chromium is not installed.');

describe.skipIf(!cliBuilt || !chromiumAvailable())('latchkey activity, apps, status and the policy file', () => {
  let home: Home;
  let accountId: string;

  beforeAll(async () => {
    home = await Home.create();
    expect((await home.run(['demo'])).code).toBe(0);
    expect((await home.run(['login', '--provider', 'demo'], { LATCHKEY_TEST_LOGIN: 'hana' })).code).toBe(0);
    accountId = (JSON.parse((await home.run(['accounts', '--json'])).stdout) as Array<{ id: string }>)[0]!.id;
  });

  afterAll(async () => {
    await home?.cleanup();
  });

  it('tokens handed to the CLI appear as "latchkey CLI", the same token once', async () => {
    const first = await home.run(['token']);
    const second = await home.run(['token']);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    const text = await home.run(['activity']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`latchkey CLI\\s+token issued\\s+${accountId}`));
    const entries = JSON.parse((await home.run(['activity', '--app', 'latchkey CLI', '--json'])).stdout) as Array<{ event: string; detail?: string }>;
    expect(entries).toEqual([expect.objectContaining({ event: 'token_issued', detail: 'to the owner' })]);
    expect(text.stdout).not.toContain(first.stdout.trim());
  });

  it('a filter that matches nothing says so', async () => {
    const none = await home.run(['activity', '--app', 'com.example.nobody']);
    expect(none.code).toBe(0);
    expect(none.stderr).toBe('No activity for com.example.nobody.\n');
  });

  it('`apps` shows a use right after the token; `logout` logs the grant it ended', async () => {
    const app = await LatchkeyClient.connect({ appId: 'com.example.reporter', name: 'Reporter', version: '1.0', keyPath: join(home.dir, 'reporter', 'key.json'), socket: home.path('agent.sock') });
    try {
      await writeFile(home.path('policy.json'), JSON.stringify({ rules: [{ app: 'com.example.reporter', keyFingerprint: app.keyFingerprint, scope: 'openid email', decision: 'always' }] }), { mode: 0o600 });
      expect((await home.run(['status'])).stdout).toMatch(/Policy:\s+.*policy\.json \(1 rule\(s\)\)/);
      await app.getAuthTokens({ scope: 'email' });
      const apps = await home.run(['apps']);
      expect(apps.stdout).toMatch(/com\.example\.reporter\s+Reporter\s+\S+\s+email\s+\d+ s ago/);
      expect(apps.stdout).not.toContain('never');

      expect((await home.run(['logout'])).code).toBe(0);
      const after = await home.run(['activity', '--app', 'com.example.reporter']);
      expect(after.stdout).toMatch(new RegExp(`grant revoked\\s+${accountId}\\s+email\\s+SHA256:\\S+…\\s+the account was signed out`));
    } finally {
      await app.close();
      await rm(home.path('policy.json'), { force: true });
    }
  });

  it('an invalid policy.json is ignored with a warning: status shows it, commands keep working, the agent restarts with it', async () => {
    await writeFile(home.path('policy.json'), JSON.stringify({ rules: [{ app: 'com.example.x', decision: 'sometimes' }] }), { mode: 0o600 });
    const status = await home.run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Policy:\s+IGNORED, apps are asked instead: .*policy\.json/);
    // Every error at once, each with its path.
    expect(status.stderr).toMatch(/Warning: The policy file .*policy\.json is not valid \(3 errors\)/);
    for (const where of ['rules.0.keyFingerprint: required, but missing', 'rules.0.scope: required, but missing', 'rules.0.decision:']) expect(status.stderr).toContain(`at ${where}`);
    const json = JSON.parse((await home.run(['status', '--json'])).stdout) as { policy: { state: string; error: string } };
    expect(json.policy).toMatchObject({ state: 'ignored', error: expect.stringContaining('rules.0.decision') });

    // A fresh agent starts anyway, and the person's own commands work (the restarted demo provider forgot hana's session).
    expect((await home.run(['agent', 'stop'])).code).toBe(0);
    expect((await home.run(['demo'])).code).toBe(0);
    expect((await home.run(['login', '--provider', 'demo'], { LATCHKEY_TEST_LOGIN: 'hana' })).code).toBe(0);
    expect((await home.run(['token'])).code).toBe(0);
    expect((await home.run(['status'])).stdout).toContain('IGNORED');
    await rm(home.path('policy.json'));
    expect((await home.run(['status'])).stdout).toMatch(/Policy:\s+none/);
  });
});
