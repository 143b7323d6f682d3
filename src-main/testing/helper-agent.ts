/**
 * A running agent for the credential-helper tests: a private home, the real
 * demo provider and agent on 127.0.0.1, a service profile "svc" (tokens
 * without a browser), and, when asked, a person signed in to provider "work"
 * through Chromium (opaque access tokens the provider can introspect and
 * revoke). Helper processes are started from `binDir`, which holds the
 * commands under the names tools look for (`git-credential-latchkey`, …).
 */
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { startAgent, type RunningAgent } from '../agent/agent-main.js';
import { loginThroughOwner } from './owner-login.js';
import { connectAgent, type AdminClient } from '../cli/agent-connection.js';
import { DEMO_CLIENT_ID, DEMO_SERVICE_CLIENT_ID, DEMO_SERVICE_CLIENT_SECRET, startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { launchBrowser, signInAtProvider } from './browser.js';
import { captureLog, type CapturedLog } from './capture-log.js';
import { createTestHome } from './test-home.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The commands as npm installs them (package.json `bin`). */
export const HELPER_BINS = ['latchkey', 'git-credential-latchkey', 'docker-credential-latchkey'] as const;

export interface HelperAgent {
  dir: string;
  paths: LatchkeyPaths;
  /** For helper processes: the home, the passphrase, `binDir` first on PATH, and a HOME of its own (no user config). */
  env: NodeJS.ProcessEnv;
  binDir: string;
  demo: DemoProvider;
  agent: RunningAgent;
  owner: AdminClient;
  log: CapturedLog;
  /** Moves the agent's clock past the demo's access token lifetime, so the cached tokens count as expired. */
  expireTokens(): void;
  close(): Promise<void>;
}

export async function startHelperAgent(options: { signIn?: boolean; accessTokenTtl?: number } = {}): Promise<HelperAgent> {
  const home = await createTestHome('latchkey-helpers-');
  const log = captureLog();
  const binDir = join(home.dir, 'bin');
  await mkdir(binDir);
  for (const name of HELPER_BINS) await symlink(join(REPO_ROOT, 'bin', `${name}.js`), join(binDir, name));
  const demo = await startDemoProvider({ logger: log.logger, ...(options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {}) });
  const clock = { offsetMs: 0 };
  const env: NodeJS.ProcessEnv = {
    ...home.env,
    PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home.dir,
    LATCHKEY_LOG_LEVEL: 'error',
  };
  let agent: RunningAgent | undefined;
  let owner: AdminClient | undefined;
  const close = async () => {
    owner?.close();
    await agent?.stop();
    await demo.close();
    await rm(home.dir, { recursive: true, force: true });
  };
  try {
    agent = await startAgent({ env, paths: home.paths, logger: log.logger, now: () => Date.now() + clock.offsetMs });
    owner = await connectAgent(home.paths, { autoStart: false });
    await owner.call('admin.providers.add', { name: 'svc', issuer: demo.issuer, client_id: DEMO_SERVICE_CLIENT_ID, client_secret: DEMO_SERVICE_CLIENT_SECRET, service: true });
    await owner.call('admin.providers.add', { name: 'work', issuer: demo.issuer, client_id: DEMO_CLIENT_ID });
    if (options.signIn) await signIn(owner, 'work');
  } catch (err) {
    await close();
    throw err;
  }
  return { dir: home.dir, paths: home.paths, env, binDir, demo, agent, owner, log, expireTokens: () => void (clock.offsetMs += 3 * 3_600_000), close };
}

/** `admin.login` over the socket, with Chromium doing what the person does at the demo provider. */
export async function signIn(owner: AdminClient, provider: string): Promise<void> {
  const browser = await launchBrowser();
  try {
    await loginThroughOwner(owner, provider, (url) => signInAtProvider(browser, url, { login: 'alice' }));
  } finally {
    await browser.close();
  }
}

export interface HelperRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (by name, found on the fixture's PATH) to completion, bounded, with `stdin` written to it. */
export async function runCommand(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; stdin?: string; cwd?: string; timeoutMs?: number }): Promise<HelperRun> {
  const { spawn } = await import('node:child_process');
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  // A command that exits without reading its input (git add) closes the pipe first: EPIPE there is not a failure.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.stdin ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  return { code, stdout, stderr };
}
