/**
 * Words for input the CLI refuses before it reaches the agent: a schema
 * failure becomes one `usage` sentence naming the option and its limit
 * (exit 2), never a raw validation array.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { LatchkeyPaths } from '../platform/paths.js';

/** How each admin parameter is spelled on the command line. */
const OPTION_OF: Record<string, string> = {
  name: 'The provider name',
  issuer: '--issuer',
  client_id: '--client-id',
  client_secret: '--client-secret',
  scope: '--scope',
  provider: '--provider',
  account: '--account',
  login_hint: '--login-hint',
  resource: '--resource',
  max_age: '--max-age',
  min_ttl: '--min-ttl',
  url: 'The URL',
  app: 'The app id',
  limit: '--limit',
};

/** Parses `value` with `schema`, or throws `usage` with one sentence about the first problem. */
export function parseCliInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new LatchkeyError('usage', describeIssue(result.error.issues[0]!), { cause: result.error });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = String(issue.path[0] ?? '');
  const option = OPTION_OF[field] ?? (field ? `"${field}"` : 'The input');
  switch (issue.code) {
    case 'too_big':
      return issue.origin === 'string'
        ? `${option} is too long: at most ${String(issue.maximum)} characters.`
        : `${option} is too large: at most ${String(issue.maximum)}.`;
    case 'too_small':
      return issue.origin === 'string' ? `${option} must not be empty.` : `${option} is too small: at least ${String(issue.minimum)}.`;
    case 'unrecognized_keys':
      return `Unknown input ${issue.keys.map((k) => `"${k}"`).join(', ')}.`;
    default:
      return `${option} is not valid: ${issue.message}.`;
  }
}

/** Longest Unix socket path (sun_path: 108 bytes on Linux, 104 on macOS, with the NUL). */
const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;
const MAX_PATH_CHARS = 1024;
const MAX_NAME_BYTES = 255;

/**
 * Checks, before anything is created, that the paths the environment names
 * can exist: the data directory (`LATCHKEY_HOME`), or its nearest existing
 * parent, is a directory; no path or name is longer than the system allows;
 * the socket path fits a Unix socket address. Otherwise `mkdir` and `listen`
 * fail later with a raw EEXIST/ENOTDIR/ENAMETOOLONG.
 */
export async function assertPathsUsable(paths: LatchkeyPaths, env: NodeJS.ProcessEnv): Promise<void> {
  const home = paths.home;
  const named = env.LATCHKEY_HOME ? `LATCHKEY_HOME (${home.length > 80 ? `${home.slice(0, 60)}…` : home})` : `The data directory ${home}`;
  if (home.length > MAX_PATH_CHARS || home.split(sep).some((name) => Buffer.byteLength(name) > MAX_NAME_BYTES)) {
    throw new LatchkeyError('config_invalid', `${named} is too long: at most ${MAX_PATH_CHARS} characters, ${MAX_NAME_BYTES} bytes per name. Point LATCHKEY_HOME at a shorter path.`);
  }
  if (process.platform !== 'win32' && Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH_BYTES) {
    const which = env.LATCHKEY_SOCKET ? 'LATCHKEY_SOCKET' : env.LATCHKEY_HOME ? 'LATCHKEY_HOME' : 'XDG_RUNTIME_DIR';
    throw new LatchkeyError('config_invalid', `The agent socket path ${paths.socket.length > 80 ? `${paths.socket.slice(0, 60)}…` : paths.socket} is too long: at most ${MAX_SOCKET_PATH_BYTES} bytes. Use a shorter ${which}.`);
  }
  for (let path = resolve(home); ; path = dirname(path)) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) return;
    if (info) {
      const because = path === resolve(home) ? 'is a file, not a directory' : `cannot be created: ${path} is a file, not a directory`;
      throw new LatchkeyError('config_invalid', `${named} ${because}. Point LATCHKEY_HOME at a directory.`);
    }
    if (dirname(path) === path) return;
  }
}
