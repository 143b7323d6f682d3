/**
 * The `latchkey` command as a person runs it, for CLI end-to-end tests: the
 * built CLI in its own process, a private data directory (and so a private
 * agent and socket), and an environment built from scratch, so nothing of the
 * developer's session leaks in (no D-Bus, no $DISPLAY, unless a test adds it).
 * Requires `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort } from './net.js';
import { createTestHome, type TestHome, type TestHomeOptions } from './test-home.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLI_ENTRY = join(ROOT, 'dist/src-main/cli/entry.js');
const BROWSER_CLI = join(ROOT, 'dist/src-main/testing/browser-cli.js');
/** Whether dist/ holds the CLI (and the stand-in browser) these tests run. */
export const cliBuilt = existsSync(CLI_ENTRY) && existsSync(BROWSER_CLI);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type CliHomeOptions = Pick<TestHomeOptions, 'config' | 'passphraseFile'>;

export class CliHome {
  readonly env: NodeJS.ProcessEnv;
  private constructor(home: TestHome) {
    this.dir = home.dir;
    this.env = {
      PATH: process.env.PATH,
      HOME: home.dir,
      ...home.env,
      BROWSER: `${process.execPath} ${BROWSER_CLI}`,
      LATCHKEY_TEST_BROWSER_LOG: join(home.dir, 'browser.log'),
      LATCHKEY_LOG_LEVEL: 'debug',
    };
  }

  readonly dir: string;

  /** A test home (see test-home.ts) whose config.json always sets a free demo port. */
  static async create(options: CliHomeOptions = {}): Promise<CliHome> {
    const config = { demoPort: await freePort(), ...options.config };
    return new CliHome(await createTestHome('lk-cli-', { homeName: 'data', passphraseFile: options.passphraseFile ?? true, config }));
  }

  path(name: string): string {
    return join(this.env.LATCHKEY_HOME!, name);
  }

  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess & { output: CliRun; done: Promise<CliRun> } {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: { ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    return withOutput(child);
  }

  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    return bounded(this.start(args, extraEnv));
  }

  /**
   * Starts the CLI on a pseudo-terminal (util-linux `script`), as a person at a
   * terminal would, typing each answer once its prompt is on screen. `stdout`
   * holds everything the terminal showed; `stderr` is empty.
   */
  startInTerminal(args: string[], answers: Array<[prompt: string | RegExp, answer: string]> = [], extraEnv: NodeJS.ProcessEnv = {}): ChildProcess & { output: CliRun; done: Promise<CliRun> } {
    const command = [process.execPath, CLI_ENTRY, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
    const child = withOutput(spawn('script', ['-qfec', command, '/dev/null'], { env: { ...this.env, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] }));
    let seen = 0;
    const pending = [...answers];
    child.stdout!.on('data', () => {
      const next = pending[0];
      if (!next) return;
      const screen = child.output.stdout.slice(seen);
      const found = typeof next[0] === 'string' ? screen.includes(next[0]) : next[0].test(screen);
      if (!found) return;
      seen = child.output.stdout.length;
      pending.shift();
      child.stdin!.write(`${next[1]}\r`);
    });
    void child.done.finally(() => child.stdin!.destroy());
    return child;
  }

  runInTerminal(args: string[], answers: Array<[prompt: string | RegExp, answer: string]>, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    return bounded(this.startInTerminal(args, answers, extraEnv));
  }

  async cleanup(): Promise<void> {
    await this.run(['agent', 'stop']);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether `script` (util-linux) is here to give the CLI a terminal. */
export function terminalAvailable(): boolean {
  return existsSync('/usr/bin/script');
}

export function withOutput(child: ChildProcess): ChildProcess & { output: CliRun; done: Promise<CliRun> } {
  const output: CliRun = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (output.stdout += d));
  child.stderr!.on('data', (d) => (output.stderr += d));
  const done = new Promise<CliRun>((r) => child.on('close', (code) => r({ ...output, code })));
  return Object.assign(child, { output, done });
}

function bounded(child: ChildProcess & { done: Promise<CliRun> }): Promise<CliRun> {
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return child.done.finally(() => clearTimeout(timer));
}
