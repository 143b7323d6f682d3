/**
 * Registers `latchkey handle-url` as the handler of the private-use redirect
 * scheme on Linux desktops (freedesktop.org: a desktop entry declaring
 * `x-scheme-handler/<scheme>`, made the default with `xdg-mime`). The desktop
 * app registers itself through Electron instead; macOS needs an app bundle's
 * Info.plist, and Windows a `HKCU\Software\Classes\<scheme>` key.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { writeFileAtomic } from './file-safety.js';
import type { Env } from './paths.js';

export const DESKTOP_FILE_NAME = 'latchkey-url-handler.desktop';

/** Quotes one argument for a desktop entry's Exec key (Desktop Entry Spec, "The Exec key"). */
function quoteExecArg(arg: string): string {
  return `"${arg.replace(/([\\"`$])/g, '\\$1')}"`;
}

export function desktopEntry(scheme: string, command: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Latchkey sign-in',
    'Comment=Receives sign-in responses for Latchkey',
    'NoDisplay=true',
    'Terminal=false',
    `Exec=${command.map(quoteExecArg).join(' ')} handle-url %u`,
    `MimeType=x-scheme-handler/${scheme};`,
    '',
  ].join('\n');
}

export function schemeOf(redirectUri: string): string {
  return new URL(redirectUri).protocol.replace(/:$/, '');
}

export async function registerUrlScheme(options: {
  redirectUri: string;
  command: readonly string[];
  env?: Env;
  platform?: NodeJS.Platform;
  runXdgMime?: boolean;
}): Promise<{ desktopFile: string; madeDefault: boolean }> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux' && platform !== 'freebsd') {
    throw new LatchkeyError(
      'usage',
      platform === 'darwin'
        ? 'On macOS the URL scheme is registered by the Latchkey app bundle; use the loopback redirect with the CLI.'
        : 'On Windows the URL scheme is registered by the Latchkey installer; use the loopback redirect with the CLI.',
    );
  }
  const env = options.env ?? process.env;
  const scheme = schemeOf(options.redirectUri);
  const dir = join(env.XDG_DATA_HOME || join(env.HOME ?? homedir(), '.local', 'share'), 'applications');
  await mkdir(dir, { recursive: true });
  const desktopFile = join(dir, DESKTOP_FILE_NAME);
  // Readable by the desktop's menu tools; replaced whole, so a re-registration never leaves half an entry.
  await writeFileAtomic(desktopFile, desktopEntry(scheme, options.command), { mode: 0o644 });
  let madeDefault = false;
  if (options.runXdgMime !== false) {
    madeDefault = await new Promise<boolean>((resolve) =>
      execFile('xdg-mime', ['default', DESKTOP_FILE_NAME, `x-scheme-handler/${scheme}`], { timeout: 10_000, env: { ...process.env, ...env } }, (err) => resolve(!err)),
    );
  }
  return { desktopFile, madeDefault };
}
