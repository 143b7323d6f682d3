/**
 * The `latchkey` command as the CLI end-to-end tests run it: the built CLI in
 * its own process, with a private home (passphrase file, config with a free
 * demo port) and Chromium standing in for the system browser ($BROWSER).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = join(ROOT, 'dist/src-main/cli/entry.js');
const BROWSER_CLI = join(ROOT, 'dist/src-main/testing/browser-cli.js');
/** Whether `npm run build` has produced the CLI and the browser stand-in. */
export const cliBuilt = existsSync(ENTRY) && existsSync(BROWSER_CLI);

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export class Home {
  readonly env: NodeJS.ProcessEnv;
  private constructor(readonly dir: string) {
    this.env = {
      PATH: process.env.PATH,
      HOME: dir,
      LATCHKEY_HOME: join(dir, 'data'),
      LATCHKEY_PASSPHRASE_FILE: join(dir, 'passphrase'),
      BROWSER: `${process.execPath} ${BROWSER_CLI}`,
      LATCHKEY_TEST_BROWSER_LOG: join(dir, 'browser.log'),
      LATCHKEY_LOG_LEVEL: 'debug',
    };
  }

  static async create(config: Record<string, unknown> = {}): Promise<Home> {
    const home = new Home(await mkdtemp(join(tmpdir(), 'lk-cli-')));
    await writeFile(home.env.LATCHKEY_PASSPHRASE_FILE!, 'correct horse battery staple\n', { mode: 0o600 });
    await mkdir(home.env.LATCHKEY_HOME!, { recursive: true, mode: 0o700 });
    await writeFile(join(home.env.LATCHKEY_HOME!, 'config.json'), JSON.stringify({ demoPort: await freePort(), ...config }));
    return home;
  }

  path(name: string): string {
    return join(this.env.LATCHKEY_HOME!, name);
  }

  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess & { output: Run; done: Promise<Run> } {
    const child = spawn(process.execPath, [ENTRY, ...args], { env: { ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: Run = { code: null, stdout: '', stderr: '' };
    child.stdout!.on('data', (d) => (output.stdout += d));
    child.stderr!.on('data', (d) => (output.stderr += d));
    const done = new Promise<Run>((r) => child.on('close', (code) => r({ ...output, code })));
    return Object.assign(child, { output, done });
  }

  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    const child = this.start(args, extraEnv);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return child.done.finally(() => clearTimeout(timer));
  }

  async cleanup(): Promise<void> {
    await this.run(['agent', 'stop']);
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
