/**
 * A helper that needs a sign-in (issue 9): when a person can answer (kubectl's
 * `spec.interactive: true`, or a terminal) the browser sign-in runs with its
 * progress on stderr and the tool still gets only its answer on stdout; when
 * nobody can, one line names the command to run and the helper exits at once.
 * The built CLI, a real agent with the demo provider nobody is signed in to,
 * and Chromium as $BROWSER (src-main/testing/browser-cli.ts).
 * Requires `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { cliBuilt, CliHome, terminalAvailable, type CliRun } from '../testing/cli-home.js';
import { tokenChecker, type TokenChecker } from '../testing/token-checker.js';

const BIN = join(resolve(import.meta.dirname, '../..'), 'bin/latchkey.js');
const skip = !cliBuilt || !existsSync(join(resolve(import.meta.dirname, '../..'), 'dist/lean/latchkey.js')) ? 'dist/ is missing; run `npm run build` (npm test does)' : !chromiumAvailable() ? CHROMIUM_MISSING : undefined;
if (skip) console.warn(`SKIP helper sign-in tests: ${skip}`);
if (!skip && !terminalAvailable()) console.warn('SKIP `latchkey token` sign-in on a terminal: util-linux `script` is not installed.');

/** Longer than a refused call ever takes, far shorter than a sign-in nobody finishes. */
const AT_ONCE_MS = 10_000;

/** The installed command (bin/latchkey.js → the lean CommonJS bundle), not the compiled entry {@link CliHome.run} starts. */
async function runBin(home: CliHome, args: string[], extraEnv: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...home.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function execInfo(interactive: boolean): string {
  return JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive } });
}

describe.skipIf(Boolean(skip))('a helper that needs a sign-in', () => {
  let home: CliHome;
  let checker: TokenChecker;

  beforeAll(async () => {
    home = await CliHome.create();
    expect((await home.run(['demo'])).code).toBe(0);
    const issuer = (JSON.parse((await home.run(['status', '--json'])).stdout) as { demo: { issuer: string } }).demo.issuer;
    checker = await tokenChecker({ issuer });
  });
  afterAll(async () => {
    await home?.cleanup();
  });

  it('kubectl-credential with interactive: false exits non-zero at once, one line naming `latchkey login`', async () => {
    const started = Date.now();
    const run = await home.run(['kubectl-credential', '--provider', 'demo'], { KUBERNETES_EXEC_INFO: execInfo(false) });
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^latchkey: [^\n]*`latchkey login[^\n]*\n$/);
    expect((JSON.parse((await home.run(['accounts', '--json'])).stdout) as unknown[]).length).toBe(0);
  });

  it('a sign-in the person refuses exits with the refusal\'s own exit code and message, not an internal failure', async () => {
    // The sign-in runs in the compiled modules the lean bundle loads on demand: their errors must still be
    // recognised as Latchkey's (exit 7, "denied"), not wrapped as internal (exit 1).
    const run = await runBin(home, ['kubectl-credential', '--provider', 'demo'], { KUBERNETES_EXEC_INFO: execInfo(true), LATCHKEY_TEST_CONSENT: 'deny' });
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Signing in now.');
    expect(run.stderr.trimEnd().split('\n').at(-1)).toMatch(/^latchkey: .*(denied|refused|declined)/i);
    expect(run.code, run.stderr).toBe(7);
    expect((JSON.parse((await home.run(['accounts', '--json'])).stdout) as unknown[]).length).toBe(0);
  });

  it('kubectl-credential with interactive: true signs in in the browser, progress on stderr, only the ExecCredential on stdout', async () => {
    const run = await home.run(['kubectl-credential', '--provider', 'demo'], { KUBERNETES_EXEC_INFO: execInfo(true) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('Signing in now.');
    expect(run.stderr).toContain('Opened your browser');
    expect(run.stderr).toMatch(/Signed in as Demo User <demo@demo\.latchkey\.test>/);
    const credential = JSON.parse(run.stdout) as { status: { token: string; expirationTimestamp: string } };
    expect(credential).toEqual({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: expect.any(String), expirationTimestamp: expect.any(String) } });
    expect(run.stdout).toBe(`${JSON.stringify(credential)}\n`);
    expect(await checker.isActive(credential.status.token)).toBe(true);
    expect(run.stderr).not.toContain(credential.status.token);
    expect(await readFile(home.path('agent.log'), 'utf8')).not.toContain(credential.status.token);

    // Signed in now: the next call, even one nobody can answer, is the cached token and silent.
    const again = await home.run(['kubectl-credential', '--provider', 'demo'], { KUBERNETES_EXEC_INFO: execInfo(false) });
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(again.stdout) as typeof credential).status.token).toBe(credential.status.token);
  });

  it.skipIf(!terminalAvailable())('latchkey token on a terminal signs in, then prints the token', async () => {
    expect((await home.run(['logout'])).code).toBe(0);
    // Without a terminal nobody can answer: refused at once.
    const started = Date.now();
    const refused = await home.run(['token', '--provider', 'demo']);
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    expect(refused).toMatchObject({ code: 3, stdout: '' });
    expect(refused.stderr).toMatch(/^latchkey: [^\n]*`latchkey login[^\n]*\n$/);

    const run = await home.runInTerminal(['token', '--provider', 'demo'], []);
    // The terminal shows stdout and stderr together: the progress, and the token on the last line.
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toContain('Signing in now.');
    expect(run.stdout).toMatch(/Signed in as Demo User <demo@demo\.latchkey\.test>/);
    const token = run.stdout.trimEnd().split(/\r?\n/).at(-1)!;
    expect(token).toMatch(/^[\w.-]{20,}$/);
    expect(await checker.isActive(token)).toBe(true);
    expect(await readFile(home.path('agent.log'), 'utf8')).not.toContain(token);
    expect((await home.run(['token', '--provider', 'demo'])).stdout).toBe(`${token}\n`);
  });
});
