/**
 * What a person's consent is bound to, end to end through the real agent, the
 * real demo provider and real Chromium (for the one sign-in):
 * - an "always" is bound to the app key *and* (Linux) the executable's path and
 *   SHA-256: a changed binary, or the same key run from another path, is asked again;
 * - the policy file decides for unattended machines, pinned to key fingerprints,
 *   through the agent's real default prompter chain (no terminal, no display);
 * - a prompt nobody answers becomes a denial after the agent's prompt timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import type { Logger } from '../log/logger.js';
import { captureLog } from '../testing/capture-log.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { startAgent, type RunningAgent, type StartAgentOptions } from '../agent/agent-main.js';
import { connectOwner } from '../wire/owner-client.js';
import type { RpcClient } from '../wire/rpc-client.js';
import { startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { chromiumAvailable, CHROMIUM_MISSING, launchBrowser, signInAtProvider } from '../testing/browser.js';
import { LatchkeyClient } from '../sdk/latchkey-client.js';
import { keyFingerprint, loadOrCreateAppKey } from './app-key.js';
import { createTestHome } from '../testing/test-home.js';
import { copyNode, runClientProcess, type ChildApp, type ClientStep } from '../testing/node-copy-client.js';

const run = promisify(execFile);
const hasChromium = chromiumAvailable();
const isLinux = process.platform === 'linux';
if (!hasChromium) console.warn(`SKIP consent binding tests: ${CHROMIUM_MISSING}`);
if (!isLinux) console.warn(`SKIP "a changed binary is asked again": peer executables are only identified on Linux (this is ${process.platform}).`);

describe.skipIf(!hasChromium)('consent is bound to the app key, the program, and the policy', () => {
  let dir: string;
  let env: Record<string, string>;
  let paths: LatchkeyPaths;
  let demo: DemoProvider;
  let browser: Browser;
  let logger: Logger;
  let agent: RunningAgent | undefined;
  let owner: RpcClient | undefined;
  const person = new ScriptedPerson();
  const browserOpens: string[] = [];
  const clients: LatchkeyClient[] = [];

  /** (Re)starts the agent on the same home; the vault (provider, account, grants) carries over. */
  async function restartAgent(options: Partial<StartAgentOptions> = {}): Promise<RunningAgent> {
    await stopAgent();
    agent = await startAgent({
      env,
      paths,
      logger,
      browser: {
        // The agent's "system browser": Chromium signing in as alice.
        open: async (url) => {
          browserOpens.push(url);
          void signInAtProvider(browser, url, { login: 'alice' }).catch((err) => logger.error({ err }, 'test browser sign-in failed'));
        },
      },
      ...options,
    });
    owner = await connectOwner(paths.socket, paths.ownerKey);
    return agent;
  }

  async function stopAgent(): Promise<void> {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await owner?.close();
    owner = undefined;
    await agent?.stop();
    agent = undefined;
  }

  function keyPath(name: string): string {
    return join(dir, 'keys', `${name}.json`);
  }

  async function app(id: string, key: string): Promise<LatchkeyClient> {
    const c = await LatchkeyClient.connect({ appId: id, name: `App ${id}`, version: '1.0.0', keyPath: keyPath(key), socket: paths.socket });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    const home = await createTestHome('latchkey-binding-');
    dir = home.dir;
    // No DISPLAY, no WAYLAND_DISPLAY: the default chain has no dialog to fall back on.
    env = home.env;
    paths = home.paths;
    logger = captureLog().logger;
    [demo, browser] = await Promise.all([startDemoProvider({ logger }), launchBrowser()]);
    await restartAgent({ prompter: person });
    await owner!.call('admin.providers.add', { name: 'work', issuer: demo.issuer, client_id: 'latchkey-demo', scope: 'openid profile email offline_access api:read api:write' });
    // The one sign-in: an app asks, the person allows once, the agent signs in through Chromium.
    const setup = await app('com.example.setup', 'setup');
    person.answers = [{ decision: 'once' }];
    await setup.getAuthTokens({ scope: 'email' }, { timeoutMs: 45_000 });
    expect(browserOpens).toHaveLength(1);
  });

  afterAll(async () => {
    await stopAgent();
    await browser?.close();
    await demo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe.skipIf(!isLinux)('a changed binary is asked again (Linux)', () => {
    let bin: string;
    const binding = (): ChildApp => ({ appId: 'com.example.binding', name: 'Binding Tool', keyPath: keyPath('binding'), socket: paths.socket });
    const runClient = (exe: string, steps: ClientStep[]) => runClientProcess(exe, dir, binding(), steps);

    beforeAll(async () => {
      bin = await copyNode(dir, 'bin-a');
    });

    it('"always" binds to the copy of node that asked; the same copy is then silent', async () => {
      person.answers = [{ decision: 'always' }];
      const asked = person.asked.length;
      const first = await runClient(bin, [
        { method: 'tryGet', scope: 'email' },
        { method: 'get', scope: 'email' },
      ]);
      expect(first.results[0]).toMatchObject({ ok: false, code: 'consent_required' });
      expect(first.results[1]).toEqual({ ok: true, scope: 'email' });
      expect(person.asked.length).toBe(asked + 1);
      expect(person.asked.at(-1)!.app).toMatchObject({ id: 'com.example.binding', fingerprint: first.fingerprint, exePath: bin, exeSha256: await sha256(bin) });

      const second = await runClient(bin, [{ method: 'tryGet', scope: 'email' }]);
      expect(second.results).toEqual([{ ok: true, scope: 'email' }]);
      expect(person.asked.length).toBe(asked + 1);
      const { grants } = await owner!.call<{ grants: Array<{ app: string }> }>('admin.apps.list', {});
      expect(grants.filter((g) => g.app === 'com.example.binding')).toHaveLength(1);
    });

    it('after the binary changes (same path, same key), tryGet says consent_required and get asks again', async () => {
      const before = await sha256(bin);
      await appendFile(bin, Buffer.from('\nlatchkey test: trailing bytes after the ELF image\n'));
      const after = await sha256(bin);
      expect(after).not.toBe(before);
      // The changed file still runs: the ELF loader ignores trailing bytes.
      expect((await run(bin, ['-e', 'process.stdout.write(process.execPath)'], { timeout: 20_000 })).stdout).toBe(bin);

      person.answers = [{ decision: 'always' }];
      const asked = person.asked.length;
      const third = await runClient(bin, [
        { method: 'tryGet', scope: 'email' },
        { method: 'get', scope: 'email' },
      ]);
      expect(third.results[0]).toMatchObject({ ok: false, code: 'consent_required' });
      expect(third.results[1]).toEqual({ ok: true, scope: 'email' });
      expect(person.asked.length).toBe(asked + 1);
      expect(person.asked.at(-1)!.app).toMatchObject({ exePath: bin, exeSha256: after });
      // The prompt says why this is not the program that was allowed.
      expect(person.asked.at(-1)!.warning).toMatchObject({ kind: 'executable_changed', message: expect.stringContaining(`was allowed before as the program ${bin} (SHA-256 ${before.slice(0, 12)}…)`) });
    });

    it('the same key and identical bytes at another path do not inherit the grant', async () => {
      const elsewhere = await copyNode(dir, 'bin-b');
      await copyFile(bin, elsewhere); // byte for byte the binary the grant names
      expect(await sha256(elsewhere)).toBe(await sha256(bin));

      person.answers = [{ decision: 'deny' }];
      const asked = person.asked.length;
      const other = await runClient(elsewhere, [
        { method: 'tryGet', scope: 'email' },
        { method: 'get', scope: 'email' },
      ]);
      expect(other.results[0]).toMatchObject({ ok: false, code: 'consent_required' });
      expect(other.results[1]).toMatchObject({ ok: false, code: 'access_denied' });
      expect(person.asked.length).toBe(asked + 1);
      expect(person.asked.at(-1)!.app).toMatchObject({ exePath: elsewhere, exeSha256: await sha256(bin) });
      expect(person.asked.at(-1)!.warning).toMatchObject({ kind: 'executable_changed', message: expect.stringContaining(`this program (${elsewhere},`) });

      // The grant itself is untouched: the original path still gets its token silently.
      const original = await runClient(bin, [{ method: 'tryGet', scope: 'email' }]);
      expect(original.results).toEqual([{ ok: true, scope: 'email' }]);
    });
  });

  describe('the policy file, through the default prompter chain', () => {
    const keys: Record<string, string> = {};

    async function writePolicy(rules: unknown[]): Promise<void> {
      await writeFile(paths.policy, JSON.stringify({ rules }, null, 2));
    }

    beforeAll(async () => {
      for (const name of ['job', 'job-impostor', 'blocked', 'pinned', 'late']) keys[name] = keyFingerprint((await loadOrCreateAppKey(keyPath(name))).publicKey);
      await writePolicy([
        { app: 'com.example.job', keyFingerprint: keys.job, scope: 'openid email', decision: 'always' },
        { app: 'com.example.blocked', keyFingerprint: keys.blocked, scope: 'openid email', decision: 'deny' },
        // Pinned to a binary that is not the one running.
        { app: 'com.example.pinned', keyFingerprint: keys.pinned, exeSha256: '0'.repeat(64), scope: 'email', decision: 'always' },
      ]);
      // No prompter option: the agent's own defaultPrompter (policy; no TTY, no display).
      await restartAgent();
    });

    it('a rule pinned to the app key gives a token with nobody asked, and "always" is remembered', async () => {
      const job = await app('com.example.job', 'job');
      expect(job.keyFingerprint).toBe(keys.job);
      const opens = browserOpens.length;
      const t = await job.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 });
      expect(t.scope).toBe('email');
      expect(browserOpens.length).toBe(opens); // the account from the sign-in was used, no browser
      expect((await job.tryGetAuthTokens({ scope: 'email' })).scope).toBe('email');
      const { entries } = await owner!.call<{ entries: Array<{ event: string; detail?: string }> }>('admin.activity', { app: 'com.example.job' });
      expect(entries).toContainEqual(expect.objectContaining({ event: 'consent_granted', detail: 'always' }));
    });

    it('another key with the same app id is not covered: no way to ask, so denied', async () => {
      const impostor = await app('com.example.job', 'job-impostor');
      expect(impostor.keyFingerprint).not.toBe(keys.job);
      await expect(impostor.tryGetAuthTokens({ scope: 'email' })).rejects.toMatchObject({ code: 'consent_required' });
      await expect(impostor.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/no way to ask you here/) });
    });

    it('a scope beyond the rule\'s is not covered', async () => {
      const job = await app('com.example.job', 'job');
      await expect(job.getAuthTokens({ scope: 'email api:write' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/no way to ask you here/) });
    });

    it('a rule pinned to another executable hash is not covered', async () => {
      const pinned = await app('com.example.pinned', 'pinned');
      await expect(pinned.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/no way to ask you here/) });
    });

    it('a "deny" rule denies, and the audit log says the policy did it', async () => {
      const blocked = await app('com.example.blocked', 'blocked');
      await expect(blocked.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: 'Denied by the policy file.' });
      const { entries } = await owner!.call<{ entries: Array<{ event: string; detail?: string }> }>('admin.activity', { app: 'com.example.blocked' });
      expect(entries).toContainEqual(expect.objectContaining({ event: 'consent_denied', detail: 'Denied by the policy file.' }));
    });

    it('an edit takes effect without a restart; a file broken later is ignored (the person would be asked), and the agent keeps running', async () => {
      await writePolicy([{ app: 'com.example.late', keyFingerprint: keys.late, scope: 'email', decision: 'once' }]);
      const late = await app('com.example.late', 'late');
      expect((await late.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).scope).toBe('email');

      await writeFile(paths.policy, '{ "rules": [ { "app": ');
      // Fail closed for the policy, not the product: the request goes to the person, and here nobody can be asked.
      await expect(late.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/no way to ask you here/) });
      const status = await owner!.call<{ pid: number; policy: { state: string; error?: string } }>('admin.status', {});
      expect(status.pid).toBe(process.pid);
      expect(status.policy).toMatchObject({ state: 'ignored', error: expect.stringMatching(/policy file .*policy\.json is not valid JSON/) });
    });

    it('an invalid policy file at start never stops the agent: it is ignored with a warning, and the person is asked instead', async () => {
      await stopAgent();
      await writePolicy([{ app: 'com.example.job', keyFingerprint: keys.job, scope: 'email', decision: 'sometimes' }]);
      const captured = captureLog();
      const previous = logger;
      logger = captured.logger;
      try {
        await restartAgent({ prompter: person });
      } finally {
        logger = previous;
      }
      expect(captured.text()).toContain('the policy file is invalid and is ignored');
      const status = await owner!.call<{ policy: { state: string; error?: string } }>('admin.status', {});
      expect(status.policy).toMatchObject({ state: 'ignored', error: expect.stringMatching(/not valid \(1 error\): at rules\.0\.decision/) });
      await rm(paths.policy);
    });
  });

  describe('a prompt nobody answers', () => {
    beforeAll(async () => {
      await restartAgent({ prompter: person, promptTimeoutMs: 1000 });
    });

    it('times out to access_denied after the agent\'s prompt timeout, recorded as consent_denied', async () => {
      const unattended = await app('com.example.unattended', 'unattended');
      person.answers = ['hang'];
      const asked = person.asked.length;
      const started = Date.now();
      await expect(unattended.getAuthTokens({ scope: 'email' }, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'access_denied', message: expect.stringMatching(/timed out/) });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(10_000);
      expect(person.asked.length).toBe(asked + 1);
      expect(person.asked.at(-1)!.timeoutMs).toBe(1000);
      const { entries } = await owner!.call<{ entries: Array<{ event: string; detail?: string }> }>('admin.activity', { app: 'com.example.unattended' });
      expect(entries).toContainEqual(expect.objectContaining({ event: 'consent_denied', detail: expect.stringMatching(/timed out/) }));
    });
  });
});

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
