/**
 * The zenity consent dialog for real: Debian's zenity on a private Xvfb
 * display, driven by xdotool's synthetic keyboard. Enter, pressed as soon as
 * the window is there, must mean Deny, with and without an impostor warning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { ConsentRequest } from './consent-prompter.js';
import { DialogPrompter, findOnPath } from './dialog-prompter.js';

const run = promisify(execFile);
const TOOLS = ['zenity', 'Xvfb', 'xdotool'] as const;
const missing = TOOLS.filter((t) => !findOnPath(t, process.env));
if (missing.length) console.warn(`SKIP the real zenity dialog: ${missing.join(', ')} not on PATH (Debian: apt-get install zenity xvfb xdotool).`);

/** Starts Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide. */
async function startXvfb(): Promise<{ display: string; server: ChildProcess }> {
  const server = spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1024x768x24'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const fd = server.stdio[3]!;
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 15 s')), 15_000);
    fd.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${text.trim()}`);
      }
    });
    server.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before it reported a display`)));
  });
  return { display, server };
}

describe.skipIf(missing.length > 0)('the zenity consent dialog, run for real under Xvfb', () => {
  let display: string;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    ({ display, server } = await startXvfb());
  });

  afterAll(() => {
    server?.kill('SIGTERM');
  });

  const xdotool = async (...args: string[]) => (await run('xdotool', args, { env: { ...process.env, DISPLAY: display }, timeout: 10_000 })).stdout.trim();

  /** Waits (bounded) for the dialog's window, then returns its id and title. */
  async function waitForDialog(): Promise<{ id: string; title: string }> {
    for (let i = 0; i < 100; i++) {
      const ids = await xdotool('search', '--onlyvisible', '--name', '^Latchkey').catch(() => '');
      const id = ids.split('\n').find(Boolean);
      if (id) return { id, title: await xdotool('getwindowname', id) };
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error('the zenity dialog did not appear within 15 s');
  }

  /** Shows the real dialog for `request`, presses Enter in it, and returns the decision and the window's title. */
  async function pressEnter(request: ConsentRequest) {
    const prompter = new DialogPrompter({ tool: 'zenity', path: findOnPath('zenity', process.env)! }, { DISPLAY: display });
    const decision = prompter.prompt(request, AbortSignal.timeout(60_000));
    const { id, title } = await waitForDialog();
    // No window manager on Xvfb: give the dialog the keyboard focus directly, then press Enter as a person would.
    await xdotool('windowfocus', '--sync', id);
    await xdotool('key', 'Return');
    return { decision: await decision, title };
  }

  const request = (warning?: ConsentRequest['warning']): ConsentRequest => ({
    app: { id: 'com.example.notes', name: 'Example Notes', fingerprint: 'SHA256:abc', exePath: '/usr/bin/notes', exeSha256: 'ab'.repeat(32) },
    provider: 'work',
    accounts: [{ id: 'acct-1', provider: 'work', subject: 'alice', email: 'alice@example.test', status: 'active', scope: 'openid email' }],
    scope: 'openid email',
    timeoutMs: 30_000,
    warning,
  });

  it('Enter on a first-time prompt denies', async () => {
    const { decision, title } = await pressEnter(request());
    expect(title).toBe('Latchkey');
    expect(decision).toEqual({ decision: 'deny', reason: 'Denied.' });
  }, 40_000);

  it('Enter on a prompt with an impostor warning denies; the title carries the warning', async () => {
    const warning = { kind: 'key_changed' as const, message: 'com.example.notes was allowed before with a different key (SHA256:old); this may be another program pretending to be it.' };
    const { decision, title } = await pressEnter(request(warning));
    expect(title).toBe('Latchkey: WARNING');
    expect(decision).toEqual({ decision: 'deny', reason: 'Denied.' });
  }, 40_000);
});
