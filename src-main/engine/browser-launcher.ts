/**
 * Opens the authorization URL in the person's own browser (RFC 8252 §6: never
 * an embedded web view, so the app cannot see the password). `$BROWSER` wins
 * when set; otherwise the platform opener. The URL is passed as one argument,
 * never through a shell, so nothing in it can be interpreted as a command.
 */
import { spawn } from 'node:child_process';
import { LatchkeyError } from '../errors.js';
import type { Env } from '../platform/paths.js';

export interface BrowserLauncher {
  open(url: string): Promise<void>;
}

/** Splits a `$BROWSER` value into argv; `%s` is replaced by the URL, else the URL is appended. */
export function browserCommand(url: string, env: Env, platform: NodeJS.Platform): string[] {
  const custom = env.BROWSER?.split(':')[0]?.trim();
  if (custom) {
    const words = custom.split(/\s+/).filter(Boolean);
    return words.some((w) => w.includes('%s')) ? words.map((w) => w.replaceAll('%s', url)) : [...words, url];
  }
  switch (platform) {
    case 'darwin':
      return ['open', url];
    case 'win32':
      // rundll32 avoids cmd.exe, whose parser would split the URL at `&`.
      return ['rundll32', 'url.dll,FileProtocolHandler', url];
    default:
      return ['xdg-open', url];
  }
}

/**
 * Whether a browser can be opened here at all: `$BROWSER` is set, or a
 * desktop is (macOS, Windows, or on Linux and other X11/Wayland systems a
 * `$DISPLAY` / `$WAYLAND_DISPLAY`). Over SSH or in a container it is not, and
 * `xdg-open` would "succeed" into a text browser or nothing.
 */
export function browserAvailable(env: Env = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (env.BROWSER?.trim()) return true;
  if (platform === 'darwin' || platform === 'win32') return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export function systemBrowserLauncher(env: Env = process.env, platform: NodeJS.Platform = process.platform): BrowserLauncher {
  return {
    async open(url: string) {
      const parsed = new URL(url);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new LatchkeyError('usage', `Refusing to open a non-web URL in the browser: ${parsed.protocol}`);
      }
      const [cmd, ...args] = browserCommand(url, env, platform);
      await new Promise<void>((resolve, reject) => {
        const child = spawn(cmd!, args, { stdio: 'ignore', detached: true });
        child.once('error', (err) =>
          reject(
            new LatchkeyError('usage', `Could not start a browser with "${cmd}" (${err.message}). Set $BROWSER, or use --no-browser and open the URL yourself.`, {
              cause: err,
            }),
          ),
        );
        child.once('spawn', () => {
          child.unref();
          resolve();
        });
      });
    },
  };
}
