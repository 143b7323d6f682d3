/**
 * The `latchkey` command as a new user runs it: the real CLI process, a real
 * background agent, the demo provider, and Chromium standing in for the
 * system browser ($BROWSER). Requires `npm run build` (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { approveDeviceCode, chromiumAvailable, launchBrowser, signInAtProvider } from '../testing/browser.js';
import { captureLog } from '../testing/capture-log.js';
import { OAUTH2_CLIENT_ID, startOAuth2Provider } from '../testing/oauth2-provider.js';
import { CliHome as Home, cliBuilt as built, waitFor } from '../testing/cli-home.js';

if (!built) console.warn('SKIP CLI end-to-end tests: dist/ is missing; run `npm run build` (npm test does).');
if (!chromiumAvailable()) console.warn('SKIP CLI end-to-end tests: /usr/bin/chromium is not installed.');

describe.skipIf(!built || !chromiumAvailable())('latchkey CLI end to end', () => {
  let home: Home;
  let browser: Browser;
  const seenTokens: string[] = [];

  beforeAll(async () => {
    [home, browser] = await Promise.all([Home.create(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await home?.cleanup();
  });

  it('a new user: demo, login, token, accounts, status, logout', async () => {
    expect((await home.run(['status'])).stdout).toContain('not running');

    const demo = await home.run(['demo']);
    expect(demo.code).toBe(0);
    expect(demo.stderr).toMatch(/Demo provider running at http:\/\/127\.0\.0\.1:\d+/);

    const login = await home.run(['login', '--provider', 'demo']);
    expect(login.stderr).toContain('Opened your browser');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/^Signed in as Demo User <demo@demo\.latchkey\.test> — account demo-[0-9a-f]{10} \(provider demo\)\n$/);

    const token = await home.run(['token']);
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^[A-Za-z0-9_-]{20,}\n$/);
    seenTokens.push(token.stdout.trim());

    const json = JSON.parse((await home.run(['token', '--json'])).stdout);
    expect(json).toMatchObject({ access_token: token.stdout.trim(), token_type: expect.any(String), scope: expect.stringContaining('openid') });
    expect(json.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(json.id_token).toMatch(/^eyJ/);
    expect(json.refresh_token).toBeUndefined();
    seenTokens.push(json.id_token);

    const accounts = JSON.parse((await home.run(['accounts', '--json'])).stdout);
    expect(accounts).toEqual([expect.objectContaining({ provider: 'demo', email: 'demo@demo.latchkey.test', status: 'active' })]);
    expect((await home.run(['accounts'])).stdout).toMatch(/demo-[0-9a-f]{10}\s+demo\s+Demo User/);

    const status = JSON.parse((await home.run(['status', '--json'])).stdout);
    expect(status).toMatchObject({ running: true, accounts: 1, keySource: { kind: 'passphrase' } });

    const vault = await readFile(home.path('vault.json'), 'utf8');
    for (const t of seenTokens) expect(vault).not.toContain(t);

    const logout = await home.run(['logout']);
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain('revoked: refresh token, access token');
    expect(logout.stderr).toMatch(/end your session at the provider, open:\n {2}http:\/\/127\.0\.0\.1/);

    const after = await home.run(['token']);
    expect(after.code).toBe(3);
    expect(after.stderr).toContain('not signed in');
  });

  it('completes a private-use-scheme sign-in through `latchkey handle-url`, and rejects a forged one', async () => {
    const demoIssuer = JSON.parse((await home.run(['status', '--json'])).stdout).demo.issuer as string;
    const add = await home.run(['provider', 'add', 'viascheme', '--issuer', demoIssuer, '--client-id', 'latchkey-demo', '--redirect', 'scheme']);
    expect(add.code).toBe(0);
    const login = await home.run(['login', '--provider', 'viascheme'], { LATCHKEY_TEST_LOGIN: 'erin' });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('Erin <erin@demo.latchkey.test>');
    // The stand-in browser writes its trace after `handle-url` returns, which can be just after login exits.
    const browserLog = () => readFile(home.env.LATCHKEY_TEST_BROWSER_LOG!, 'utf8').catch(() => '');
    let trace = '';
    await waitFor(async () => /handle-url exit/.test((trace = await browserLog())), 'the browser trace');
    expect(trace).toMatch(/redirect scheme: dev\.latchkey\.app:\n.*handle-url exit 0/);

    const forged = await home.run(['handle-url', 'dev.latchkey.app:/callback?code=stolen&state=guessed']);
    expect(forged.code).toBe(4);
    expect(forged.stderr).toContain('No sign-in is waiting for this response');
    const junk = await home.run(['handle-url', 'https://evil.example/callback?code=x&state=y']);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toBe('latchkey: The URL is not a Latchkey sign-in callback (expected dev.latchkey.app:/callback).\n');
    expect((await home.run(['accounts', '--json'])).stdout).toContain('erin');
  });

  it('connected apps: a policy-approved app shows in `latchkey apps` and `latchkey activity`, and `apps revoke` cuts it off', async () => {
    const { LatchkeyClient } = await import('../sdk/latchkey-client.js');
    expect((await home.run(['login', '--provider', 'demo'], { LATCHKEY_TEST_LOGIN: 'gina' })).code).toBe(0);
    const account = (JSON.parse((await home.run(['accounts', '--json'])).stdout) as Array<{ id: string; email: string }>).find((a) => a.email === 'gina@demo.latchkey.test')!;
    const app = await LatchkeyClient.connect({
      appId: 'com.example.cli-app',
      name: 'CLI App',
      version: '2.0',
      keyPath: join(home.dir, 'app-key', 'key.json'),
      socket: home.path('agent.sock'),
    });
    try {
      await expect(app.tryGetAuthTokens({ scope: 'openid email', account: account.id })).rejects.toMatchObject({ code: 'consent_required' });
      // A server without a person at the screen: the policy file pre-approves this app, pinned to its key.
      const rule = { app: 'com.example.cli-app', keyFingerprint: app.keyFingerprint, scope: 'openid email', decision: 'always', account: account.id };
      await writeFile(home.path('policy.json'), JSON.stringify({ rules: [rule] }), { mode: 0o600 });
      const token = await app.getAuthTokens({ scope: 'openid email', account: account.id });
      seenTokens.push(token.accessToken);

      const list = await home.run(['apps']);
      expect(list.code).toBe(0);
      // The account as the consent prompt names it, not by its internal id; --json keeps the id for `apps revoke --account`.
      expect(list.stdout).toMatch(/com\.example\.cli-app\s+CLI App\s+gina@demo\.latchkey\.test\s+email openid/);
      expect(list.stdout).not.toContain(account.id);
      expect(JSON.parse((await home.run(['apps', '--json'])).stdout)).toEqual([expect.objectContaining({ app: 'com.example.cli-app', account: account.id })]);
      expect(list.stdout).toContain(app.keyFingerprint);
      const activity = JSON.parse((await home.run(['activity', '--app', 'com.example.cli-app', '--json'])).stdout) as Array<{ event: string; account?: string }>;
      expect(activity.map((e) => e.event)).toEqual(['consent_granted', 'token_issued']);
      expect((await home.run(['activity'])).stdout).toMatch(/com\.example\.cli-app\s+token issued/);

      const revoke = await home.run(['apps', 'revoke', 'com.example.cli-app']);
      expect(revoke.code).toBe(0);
      expect(revoke.stderr).toContain(`Revoked com.example.cli-app for ${account.id}`);
      await expect(app.tryGetAuthTokens({ scope: 'openid email', account: account.id })).rejects.toMatchObject({ code: 'consent_required' });
      expect((await home.run(['apps'])).stderr).toContain('No app has a remembered grant');

      const unknown = await home.run(['apps', 'revoke', 'com.example.nothing']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('No grant for app "com.example.nothing"');
      const badLimit = await home.run(['activity', '--limit', 'lots']);
      expect(badLimit.code).toBe(2);

      // Someone edits the audit log while the agent is stopped: Latchkey says so instead of showing a doctored history.
      expect((await home.run(['agent', 'stop'])).code).toBe(0);
      await waitFor(() => !existsSync(home.path('agent.sock')), 'the agent to stop');
      const lines = (await readFile(home.path('audit.log'), 'utf8')).trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(3);
      await writeFile(home.path('audit.log'), `${[lines[0], ...lines.slice(2)].join('\n')}\n`);
      const doctored = await home.run(['activity']);
      expect(doctored.code).toBe(0);
      expect(doctored.stderr).toContain('was changed outside Latchkey at entry 2');
    } finally {
      await app.close();
      await rm(home.path('policy.json'), { force: true });
    }
  });

  it('offline access: provider list shows how refresh tokens are asked for; a sign-in without one warns on stderr', async () => {
    const list = await home.run(['provider', 'list']);
    expect(list.stdout).toMatch(/REFRESH\s+ACCOUNTS\n/);
    expect(list.stdout).toMatch(/\ndemo\s.*\sprompt=consent\s+\d+\n/);
    const demoIssuer = JSON.parse((await home.run(['status', '--json'])).stdout).demo.issuer as string;
    // The gitlab preset with --base-url: GitLab issues refresh tokens without prompt=consent.
    const add = await home.run(['provider', 'add', 'lab', '--preset', 'gitlab', '--base-url', demoIssuer, '--client-id', 'latchkey-demo', '--scope', 'openid email offline_access']);
    expect(add.code).toBe(0);
    expect(add.stderr).toContain('from preset gitlab');
    const json = (JSON.parse((await home.run(['provider', 'list', '--json'])).stdout) as Array<Record<string, unknown>>).filter((p) => p.name === 'demo' || p.name === 'lab');
    expect(json).toEqual([
      expect.objectContaining({ name: 'demo', refreshWithoutConsent: false }),
      expect.objectContaining({ name: 'lab', refreshWithoutConsent: true, preset: 'gitlab', issuer: demoIssuer }),
    ]);
    // The demo provider is strict (OIDC Core §11): without prompt=consent it drops offline_access.
    const login = await home.run(['login', '--provider', 'lab'], { LATCHKEY_TEST_LOGIN: 'hank' });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('hank@demo.latchkey.test');
    expect(login.stderr).toMatch(/warning: Provider "lab" issued no refresh token .*latchkey login --provider lab --prompt consent/);
    const token = await home.run(['token', '--provider', 'lab']);
    expect(token.code).toBe(0);
    expect(token.stderr).toBe('');
    expect((await home.run(['logout', '--provider', 'lab'])).code).toBe(0);
    expect((await home.run(['provider', 'remove', 'lab'])).code).toBe(0);

    const bad = await home.run(['provider', 'add', 'ms', '--preset', 'microsoft', '--client-id', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--preset microsoft needs --tenant');
    const google = await home.run(['provider', 'add', 'g', '--preset', 'google', '--client-id', 'x']);
    expect(google.code).toBe(2);
    expect(google.stderr).toMatch(/client secret of its installed-app/);
    const noIssuer = await home.run(['provider', 'add', 'x', '--client-id', 'y']);
    expect(noIssuer.code).toBe(2);
    expect(noIssuer.stderr).toContain('--issuer, or a --preset');
  });

  it('--no-browser prints the URL for the user to open', async () => {
    const login = home.start(['login', '--provider', 'demo', '--no-browser']);
    await waitFor(() => /http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/.test(login.output.stderr), 'the sign-in URL');
    const url = login.output.stderr.match(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/)![0];
    expect(login.output.stderr).toContain('Open this URL in a browser');
    const page = await (await browser.newContext()).newPage();
    await signInAtProvider(page, url, { login: 'frank' });
    const done = await login.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('Frank <frank@demo.latchkey.test>');
  });

  it('--device shows a code and completes when it is approved elsewhere', async () => {
    const login = home.start(['login', '--provider', 'demo', '--device']);
    await waitFor(() => /or open (\S+)/.test(login.output.stderr), 'the device code');
    expect(login.output.stderr).toMatch(/enter the code:\n\n {4}[A-Z0-9-]+\n/);
    const complete = login.output.stderr.match(/or open (\S+)\)/)![1]!;
    await approveDeviceCode(await (await browser.newContext()).newPage(), complete, { login: 'grace' });
    const done = await login.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('grace@demo.latchkey.test');
  });

  it('Ctrl-C cancels a waiting sign-in cleanly (exit 130) and the agent carries on', async () => {
    const login = home.start(['login', '--provider', 'demo'], { BROWSER: 'true' });
    await waitFor(() => login.output.stderr.includes('Waiting for you'), 'the waiting message');
    const redirect = decodeURIComponent(login.output.stderr.match(/redirect_uri=([^&\s]+)/)![1]!);
    login.kill('SIGINT');
    const done = await login.done;
    expect(done.code).toBe(130);
    expect(done.stderr).toContain('cancelled');
    // The loopback receiver is gone, and the agent still answers.
    await waitFor(() => true, '');
    await expect(fetch(`${redirect}?state=x`)).rejects.toThrow();
    expect((await home.run(['status'])).code).toBe(0);
  });

  it('several accounts: --account picks one; ambiguity is a usage error listing the choices', async () => {
    const ambiguous = await home.run(['token', '--provider', 'demo']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/More than one account matches; choose one with --account: demo-/);
    const frank = await home.run(['token', '--account', 'frank@demo.latchkey.test']);
    expect(frank.code).toBe(0);
    seenTokens.push(frank.stdout.trim());
  });

  it('rejects bad command-line input with exit 2 and a clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['login', '--max-age', 'soon'], /expected a whole number of seconds/],
      [['token', '--scope', '"quoted"'], /expected space-separated scope names/],
      [['token', '--resource', 'not a url'], /expected an absolute URL/],
      [['provider', 'add', 'x', '--issuer', 'http://idp.example.com', '--client-id', 'y'], /must use https/],
      [['provider', 'add', 'Bad Name!', '--issuer', 'https://idp.example.com', '--client-id', 'y'], /must be 1-32 lowercase/],
      [['provider', 'add', 'x', '--issuer', 'https://idp.example.com'], /required option '--client-id/],
      [['agent', 'frobnicate'], /Unknown agent action/],
      [['login', '--prompt', 'sometimes'], /Allowed choices are none, login, consent, select_account/],
      [['vault', 'reset'], /--yes/],
    ];
    for (const [args, message] of cases) {
      const r = await home.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect((await home.run(['--help'])).stdout).toContain('Quick start');
  });

  it('plain OAuth 2.0: provider add --oauth2, list shows the protocol, accounts named by userinfo or by --account-name', async () => {
    const server = await startOAuth2Provider({ logger: captureLog().logger });
    try {
      const add = await home.run(['provider', 'add', 'plain', '--oauth2', '--issuer', server.issuer, '--client-id', OAUTH2_CLIENT_ID, '--userinfo-endpoint', server.userEndpoint, '--account-claim', 'login']);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stderr).toContain('plain OAuth 2.0');
      const list = await home.run(['provider', 'list']);
      expect(list.stdout).toMatch(/^NAME +ISSUER +CLIENT ID +PROTOCOL/);
      expect(list.stdout).toMatch(/\nplain +http:\/\/127\.0\.0\.1:\d+ +latchkey-oauth2 +oauth2 +user /);
      expect(list.stdout).toMatch(/\ndemo +\S+ +latchkey-demo +oidc /);

      const login = await home.run(['login', '--provider', 'plain', '--scope', 'email'], { LATCHKEY_TEST_LOGIN: 'heidi' });
      expect(login.code, login.stderr).toBe(0);
      expect(login.stdout).toContain('heidi@oauth2.latchkey.test');
      const token = await home.run(['token', '--account', 'heidi']);
      expect(token.code, token.stderr).toBe(0);
      seenTokens.push(token.stdout.trim());

      const byHand = await home.run(['provider', 'add', 'byhand', '--oauth2', '--authorization-endpoint', `${server.issuer}/auth`, '--token-endpoint', `${server.issuer}/token`, '--client-id', OAUTH2_CLIENT_ID]);
      expect(byHand.code, byHand.stderr).toBe(0);
      expect(byHand.stderr).toContain('--account-name NAME');
      const unnamed = await home.run(['login', '--provider', 'byhand', '--scope', 'email'], { BROWSER: 'false' });
      expect(unnamed.code).toBe(2);
      expect(unnamed.stderr).toContain('latchkey login --provider byhand --account-name NAME');

      const cases: Array<[string[], RegExp]> = [
        [['provider', 'add', 'y', '--issuer', 'https://idp.example.com', '--client-id', 'y', '--userinfo-endpoint', 'https://api.example.com/me'], /add --oauth2/],
        [['provider', 'add', 'y', '--oauth2', '--client-id', 'y', '--authorization-endpoint', 'https://idp.example.com/a', '--token-endpoint', 'http://idp.example.com/t'], /--token-endpoint: .* must use https/],
        [['provider', 'add', 'y', '--oauth2', '--client-id', 'y', '--authorization-endpoint', 'https://idp.example.com/a'], /both --authorization-endpoint and --token-endpoint/],
        [['provider', 'add', 'y', '--preset', 'nosuch', '--client-id', 'y'], /Allowed choices are .*gitlab, github\./],
      ];
      for (const [args, message] of cases) {
        const r = await home.run(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(message);
      }
    } finally {
      await server.close();
    }
  });

  it('never writes tokens, codes or verifiers to the agent log', async () => {
    const log = await readFile(home.path('agent.log'), 'utf8');
    expect(log).toContain('signed in');
    expect(seenTokens.length).toBeGreaterThan(2);
    for (const t of seenTokens) expect(log).not.toContain(t);
    expect(log).not.toMatch(/[?&](code|state|code_verifier)=[A-Za-z0-9_-]{8,}/);
  });
});

describe.skipIf(!built)('latchkey CLI: broken configuration and vaults', () => {
  it('a bad config.json stops the agent with a message naming the setting, and touches nothing', async () => {
    const home = await Home.create({ config: { minTtl: 5 } });
    try {
      const r = await home.run(['accounts']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/config\.json is not valid: .*unknown setting "minTtl"/);
      expect(existsSync(home.path('vault.json'))).toBe(false);
      await writeFile(home.path('config.json'), '{ "demoPort": ');
      const broken = await home.run(['accounts']);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain('not valid JSON');
    } finally {
      await home.cleanup();
    }
  });

  it('a wrong passphrase (or an unreadable passphrase file) is a storage error; the vault file is untouched', async () => {
    const home = await Home.create();
    try {
      expect((await home.run(['provider', 'list'])).code).toBe(0);
      expect((await home.run(['agent', 'stop'])).code).toBe(0);
      await waitFor(() => !existsSync(home.path('agent.sock')), 'the agent to stop');
      const before = await readFile(home.path('vault.json'));
      await writeFile(home.env.LATCHKEY_PASSPHRASE_FILE!, 'not the passphrase');
      const wrong = await home.run(['provider', 'list']);
      expect(wrong.code).toBe(5);
      expect(wrong.stderr).toMatch(/wrong passphrase/i);
      expect(await readFile(home.path('vault.json'))).toEqual(before);
      await chmod(home.env.LATCHKEY_PASSPHRASE_FILE!, 0o644);
      const loose = await home.run(['provider', 'list']);
      expect(loose.code).toBe(2);
      expect(loose.stderr).toContain('chmod 600');
      expect(await readFile(home.path('vault.json'))).toEqual(before);
    } finally {
      await home.cleanup();
    }
  });

  it('no keyring and no passphrase: says so plainly, exit 5, and never writes tokens in clear', async () => {
    const home = await Home.create();
    try {
      const env = { LATCHKEY_PASSPHRASE_FILE: '', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' };
      const r = await home.run(['token'], env);
      expect(r.code).toBe(5);
      expect(r.stderr).toContain('No OS keyring is available here');
      expect(r.stderr).toContain('LATCHKEY_PASSPHRASE_FILE');
      expect(existsSync(home.path('vault.json'))).toBe(false);
    } finally {
      await home.cleanup();
    }
  });
});
