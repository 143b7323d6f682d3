/**
 * The first minutes on a fresh machine, as a person (or a script) meets them:
 * no keyring, no display, mistyped input. The real CLI process in an
 * environment built from scratch — no D-Bus session, no $DISPLAY — and, for
 * the person, a real pseudo-terminal. Requires `npm run build`.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromiumAvailable } from '../testing/browser.js';
import { CliHome, cliBuilt, terminalAvailable, waitFor } from '../testing/cli-home.js';

if (!cliBuilt) console.warn('SKIP CLI first-run tests: dist/ is missing; run `npm run build` (npm test does).');
if (!terminalAvailable()) console.warn('SKIP CLI first-run terminal tests: `script` (util-linux) is not installed.');

/** What a person picks for a new vault on a machine without a keyring. */
const CHOSEN = 'a long enough passphrase';

async function withHome<T>(options: Parameters<typeof CliHome.create>[0], fn: (home: CliHome) => Promise<T>): Promise<T> {
  const home = await CliHome.create(options);
  try {
    return await fn(home);
  } finally {
    await home.cleanup();
  }
}

async function agentStopped(home: CliHome): Promise<void> {
  expect((await home.run(['agent', 'stop'])).code).toBe(0);
  await waitFor(() => !existsSync(home.path('agent.sock')), 'the agent to stop');
}

describe.skipIf(!cliBuilt)('latchkey on a machine without a keyring', () => {
  it('without a terminal: one short message naming LATCHKEY_PASSPHRASE_FILE and `agent --foreground`, exit 5, nothing written', async () => {
    await withHome({ passphraseFile: false }, async (home) => {
      for (const env of [{}, { LATCHKEY_KEY_SOURCE: 'passphrase' }]) {
        const r = await home.run(['demo'], env);
        expect(r.code, JSON.stringify(env)).toBe(5);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(/^latchkey: .*LATCHKEY_PASSPHRASE_FILE.*`latchkey agent --foreground`/);
        expect(r.stderr).not.toMatch(/DBus|D-Bus|dbus/);
        expect(existsSync(home.path('vault.json'))).toBe(false);
        expect(existsSync(home.path('agent.sock'))).toBe(false);
      }
    });
  });

  it.skipIf(!terminalAvailable())('on a terminal: offers a passphrase vault (typed twice, not echoed, minimum length) and says where the choice is recorded', async () => {
    await withHome({ passphraseFile: false }, async (home) => {
      const first = await home.runInTerminal(['demo'], [
        ['New vault passphrase', 'tiny-pw'],
        ['Repeat', 'tiny-pw'],
        ['New vault passphrase', CHOSEN],
        ['Repeat', 'a different one entirely'],
        ['New vault passphrase', CHOSEN],
        ['Repeat', CHOSEN],
      ]);
      expect(first.code, first.stdout).toBe(0);
      expect(first.stdout).toContain('No OS keyring (Secret Service) is available here');
      expect(first.stdout).toContain('too short: use at least 12 characters');
      expect(first.stdout).toContain('The passphrases do not match');
      expect(first.stdout).toContain(`the choice is recorded in ${home.path('vault.json')}`);
      expect(first.stdout).toMatch(/Demo provider running at/);
      for (const typed of ['tiny-pw', CHOSEN]) expect(first.stdout).not.toContain(typed);
      const header = JSON.parse(await readFile(home.path('vault.json'), 'utf8'));
      expect(header.key).toMatchObject({ kind: 'passphrase', kdf: 'scrypt' });
      expect(await readFile(home.path('agent.log'), 'utf8')).not.toContain(CHOSEN);

      // Later starts of the agent ask for that passphrase: on a terminal…
      await agentStopped(home);
      const before = await readFile(home.path('vault.json'));
      const wrong = await home.runInTerminal(['provider', 'list'], [['Vault passphrase: ', 'not the passphrase at all']]);
      expect(wrong.code, wrong.stdout).toBe(5);
      expect(wrong.stdout).toMatch(/wrong passphrase/i);
      expect(await readFile(home.path('vault.json'))).toEqual(before);
      const again = await home.runInTerminal(['provider', 'list'], [['Vault passphrase: ', CHOSEN]]);
      expect(again.code, again.stdout).toBe(0);
      expect(again.stdout).toMatch(/demo\s+http:\/\/127\.0\.0\.1/);

      // …and without one, the short message.
      await agentStopped(home);
      const script = await home.run(['provider', 'list']);
      expect(script.code).toBe(5);
      expect(script.stderr).toMatch(/^latchkey: The vault is protected by a passphrase: set LATCHKEY_PASSPHRASE_FILE .*`latchkey agent --foreground`/);
      const file = join(home.dir, 'chosen');
      await writeFile(file, `${CHOSEN}\n`, { mode: 0o600 });
      expect((await home.run(['provider', 'list'], { LATCHKEY_PASSPHRASE_FILE: file })).code).toBe(0);
    });
  }, 180_000); // four agent starts, each deriving the key with scrypt
});

describe.skipIf(!cliBuilt)('latchkey input errors', () => {
  const big = 'a'.repeat(100_000);

  it('oversized values: exit 2, one sentence naming the option and its limit, no agent started and nothing written', async () => {
    await withHome({}, async (home) => {
      const cases: Array<[string[], string]> = [
        [['provider', 'add', big, '--issuer', 'https://idp.example.com', '--client-id', 'x'], 'The provider name is too long: at most 64 characters.'],
        [['provider', 'add', 'work', '--issuer', `https://idp.example.com/${big}`, '--client-id', 'x'], '--issuer is too long: at most 2048 characters.'],
        [['provider', 'add', 'work', '--issuer', 'https://idp.example.com', '--client-id', big], '--client-id is too long: at most 512 characters.'],
        [['token', '--account', big], '--account is too long: at most 256 characters.'],
        [['logout', '--account', big], '--account is too long: at most 256 characters.'],
        [['handle-url', `dev.latchkey.app:/callback?state=x&pad=${big}`], 'The callback URL is too long: at most 8192 characters.'],
      ];
      for (const [args, sentence] of cases) {
        const r = await home.run(args);
        expect(r.code, sentence).toBe(2);
        expect(r.stderr).toBe(`latchkey: ${sentence}\n`);
        expect(r.stdout).toBe('');
      }
      expect(existsSync(home.path('vault.json'))).toBe(false);
      expect(existsSync(home.path('agent.log'))).toBe(false);
    });
  });

  it('LATCHKEY_HOME naming a regular file, or paths too long: a clear message and exit 2, nothing created', async () => {
    await withHome({}, async (home) => {
      const file = join(home.dir, 'not-a-directory');
      await writeFile(file, 'x');
      for (const [args, at] of [[['status'], file], [['demo'], file], [['token'], join(file, 'latchkey')], [['agent', '--foreground'], file]] as const) {
        const r = await home.run([...args], { LATCHKEY_HOME: at });
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`^latchkey: LATCHKEY_HOME \\(${at}\\) (is a file|cannot be created: ${file} is a file), not a directory\\. Point LATCHKEY_HOME at a directory\\.\\n$`));
      }
      expect(await readFile(file, 'utf8')).toBe('x');

      const long = await home.run(['demo'], { LATCHKEY_HOME: join(home.dir, 'a'.repeat(5000)) });
      expect(long.code).toBe(2);
      expect(long.stderr).toMatch(/^latchkey: LATCHKEY_HOME \(.{60}…\) is too long: at most 1024 characters, 255 bytes per name\. Point LATCHKEY_HOME at a shorter path\.\n$/);
      const socket = await home.run(['demo'], { LATCHKEY_SOCKET: join(home.dir, 's'.repeat(200)) });
      expect(socket.code).toBe(2);
      expect(socket.stderr).toMatch(/^latchkey: The agent socket path .* is too long: at most 10[37] bytes\. Use a shorter LATCHKEY_SOCKET\.\n$/);
      expect(existsSync(home.path('vault.json'))).toBe(false);
    });
  });

  it('one error style: the argument parser speaks as `latchkey:` too', async () => {
    await withHome({}, async (home) => {
      for (const args of [['frobnicate'], ['login', '--prompt', 'sometimes'], ['provider', 'add', 'x', '--issuer', 'not a url', '--client-id', 'y']]) {
        const r = await home.run(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(/^latchkey: /);
        expect(r.stderr).not.toMatch(/^error:/m);
      }
    });
  });

  it('handle-url with a URL that is not a Latchkey callback is a usage error (exit 2), agent or not', async () => {
    await withHome({}, async (home) => {
      const r = await home.run(['handle-url', 'https://example.com/']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('latchkey: The URL is not a Latchkey sign-in callback (expected dev.latchkey.app:/callback).\n');
    });
  });

  it('an invalid config.json: `latchkey status` reports it and exits 2, running agent or not', async () => {
    await withHome({}, async (home) => {
      expect((await home.run(['status'])).code).toBe(0);
      expect((await home.run(['provider', 'list'])).code).toBe(0);
      await writeFile(home.path('config.json'), JSON.stringify({ minTtl: 5 }));
      const running = await home.run(['status']);
      expect(running.code).toBe(2);
      expect(running.stdout).toMatch(/^Agent: +running/);
      expect(running.stderr).toMatch(/^latchkey: .*config\.json is not valid: .*unknown setting "minTtl"/);
      await agentStopped(home);
      const stopped = await home.run(['status']);
      expect(stopped.code).toBe(2);
      expect(stopped.stderr).toContain('unknown setting "minTtl"');
    });
  });
});

describe.skipIf(!cliBuilt)('latchkey sign-in and providers, in words a person can act on', () => {
  it('no display and no $BROWSER: login prints the URL at once and mentions --device; Ctrl-C prints "Sign-in cancelled."', async () => {
    await withHome({}, async (home) => {
      expect((await home.run(['demo'])).code).toBe(0);
      const login = home.start(['login', '--provider', 'demo'], { BROWSER: '' });
      await waitFor(() => login.output.stderr.includes('Waiting for you'), 'the waiting message');
      expect(login.output.stderr).toMatch(/^No display here to open a browser on\. Open this URL in a browser on this machine to sign in:\n\n {2}http:\/\/127\.0\.0\.1:\d+\/auth\?/);
      expect(login.output.stderr).toContain('Or sign in on another device with a code: `latchkey login --provider demo --device`.');
      expect(login.output.stderr).not.toContain('Opened your browser');
      login.kill('SIGINT');
      const done = await login.done;
      expect(done.code).toBe(130);
      expect(done.stderr).toMatch(/latchkey: Sign-in cancelled\.\n$/);
      expect(done.stderr).not.toContain('admin.login');
    });
  });

  it('discovery: failures name the URL and HTTP status, a mismatch names both issuers, a trailing slash is the same provider', async () => {
    const other = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: 'https://elsewhere.example', authorization_endpoint: 'https://elsewhere.example/auth' }));
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      await withHome({}, async (home) => {
        expect((await home.run(['demo'])).code).toBe(0);
        const issuer = (JSON.parse((await home.run(['status', '--json'])).stdout) as { demo: { issuer: string } }).demo.issuer;
        const add = (name: string, at: string, clientId = 'latchkey-demo') => home.run(['provider', 'add', name, '--issuer', at, '--client-id', clientId]);

        const missing = await add('nowhere', `${issuer}/nope`);
        expect(missing.code).toBe(4);
        expect(missing.stderr).toBe(`latchkey: Provider "nowhere" answered HTTP 404 at ${issuer}/nope/.well-known/openid-configuration during discovery at ${issuer}/nope.\n`);

        const mismatch = await add('impostor', `http://127.0.0.1:${(other.address() as AddressInfo).port}`);
        expect(mismatch.code).toBe(4);
        expect(mismatch.stderr).toContain('its discovery document names "https://elsewhere.example", you gave "http://127.0.0.1:');

        const wellKnown = await add('wk', `${issuer}/.well-known/openid-configuration`);
        expect(wellKnown.code).toBe(2);
        expect(wellKnown.stderr).toContain(`add the provider with --issuer ${issuer}.`);

        const twin = await add('twin', `${issuer}/`);
        expect(twin.code).toBe(2);
        expect(twin.stderr).toContain(`Provider "demo" is already ${issuer} with client id latchkey-demo`);

        expect((await add('slash', `${issuer}/`, 'latchkey-service')).code).toBe(0);
        const listed = JSON.parse((await home.run(['provider', 'list', '--json'])).stdout) as Array<{ name: string; issuer: string }>;
        expect(listed.map((p) => [p.name, p.issuer])).toEqual([['demo', issuer], ['slash', issuer]]);
      });
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});

describe.skipIf(!cliBuilt)('latchkey agent --foreground', () => {
  const ready = /Latchkey agent ready \(pid \d+\)/;

  it.skipIf(!terminalAvailable())('prints readable log lines on a terminal, JSON with --log-format json', async () => {
    await withHome({}, async (home) => {
      const onTerminal = home.startInTerminal(['agent', '--foreground']);
      await waitFor(() => ready.test(onTerminal.output.stdout), 'the agent to be ready');
      await agentStopped(home);
      const text = (await onTerminal.done).stdout;
      expect(text).toMatch(/^\d\d:\d\d:\d\d INFO  agent ready socket=\S+ keySource=passphrase consent="policy → terminal"\r?$/m);
      expect(text).not.toContain('{"level"');

      const asJson = home.startInTerminal(['agent', '--foreground', '--log-format', 'json']);
      await waitFor(() => ready.test(asJson.output.stdout), 'the agent to be ready');
      await agentStopped(home);
      expect((await asJson.done).stdout).toMatch(/^\{"level":30,.*"msg":"agent ready"\}\r?$/m);
    });
  }, 120_000);

  it('writes JSON lines when its stderr is not a terminal', async () => {
    await withHome({}, async (home) => {
      const piped = home.start(['agent', '--foreground']);
      await waitFor(() => ready.test(piped.output.stderr), 'the agent to be ready');
      await agentStopped(home);
      const lines = (await piped.done).stderr.split('\n').filter((l) => l.startsWith('{'));
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('agent ready');
    });
  });
});

describe.skipIf(!cliBuilt || !chromiumAvailable())('latchkey after the agent restarts', () => {
  it('the demo provider forgot its sign-ins: the account shows "sign-in needed" at once, token exits 3, login fixes it', async () => {
    await withHome({}, async (home) => {
      expect((await home.run(['demo'])).code).toBe(0);
      expect((await home.run(['login', '--provider', 'demo'])).code).toBe(0);
      expect((await home.run(['accounts'])).stdout).toMatch(/demo\s+Demo User <demo@demo\.latchkey\.test>\s+signed in/);
      await agentStopped(home);

      expect((await home.run(['accounts'])).stdout).toMatch(/demo\s+Demo User <demo@demo\.latchkey\.test>\s+sign-in needed/);
      const token = await home.run(['token']);
      expect(token.code).toBe(3);
      expect(token.stdout).toBe('');
      expect(token.stderr).toContain('latchkey login');
      expect((await home.run(['login', '--provider', 'demo'])).code).toBe(0);
      expect((await home.run(['accounts'])).stdout).toMatch(/signed in/);
      expect((await home.run(['token'])).code).toBe(0);
    });
  }, 120_000);
});
