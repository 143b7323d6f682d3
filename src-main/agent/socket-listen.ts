/**
 * Puts the agent's server on its socket without opening a window for other
 * local users.
 *
 * Enforces (POSIX):
 * - the socket's directory exists, is ours and is not group/other-writable
 *   (created 0700 when missing); otherwise we refuse rather than listen where
 *   someone else could replace or pre-create the socket;
 * - a socket file left by a crashed agent (it refuses connections) is removed;
 *   one that accepts connections belongs to a live agent → `agent_running`;
 * - anything else at the path (a regular file, a directory) is never deleted;
 * - the socket is created under umask 0177 and then chmod 0600, so it is never
 *   connectable by others, not even between bind and chmod.
 *
 * Windows named pipes have no file to guard: a second listener fails with
 * EADDRINUSE (→ `agent_running`) and the pipe vanishes with its process. Their
 * access control is the default DACL (see docs/protocol.md, "Transport").
 */
import { connect, type Server } from 'node:net';
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LatchkeyError } from '../errors.js';

export interface ListenOptions {
  /** Defaults to `process.platform`; tests pass it to exercise both paths. */
  platform?: NodeJS.Platform;
  /** How long a probe of an existing socket may take before we assume it is live. */
  probeTimeoutMs?: number;
}

const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/** `\\.\pipe\name` or `\\?\pipe\name`: a Windows named pipe, not a file. */
export function isNamedPipePath(path: string): boolean {
  return /^\\\\[.?]\\pipe\\/i.test(path);
}

/**
 * Listens on `path` (a Unix socket or a Windows named pipe) with the checks
 * above. Resolves once the server is listening and the socket is 0600.
 */
export async function listenSocket(server: Server, path: string, options: ListenOptions = {}): Promise<void> {
  const platform = options.platform ?? process.platform;
  const posix = platform !== 'win32' && !isNamedPipePath(path);
  if (posix) {
    await ensurePrivateDir(dirname(path));
    await removeStaleSocket(path, options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  }
  try {
    await listenOnce(server, path, posix);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new LatchkeyError('agent_running', `Another Latchkey agent is already listening on ${path}`, { cause: err });
    }
    throw new LatchkeyError('storage_error', `Cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (posix) await chmod(path, 0o600);
}

/** Creates `dir` 0700 if missing; refuses one that others could write to. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  let st;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    st = await stat(dir);
  } catch (err) {
    throw new LatchkeyError('config_invalid', `Cannot create socket directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isDirectory()) {
    throw new LatchkeyError('config_invalid', `Socket directory ${dir} is not a directory`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new LatchkeyError('config_invalid', `Socket directory ${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); choose another path with LATCHKEY_SOCKET`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new LatchkeyError('config_invalid', `Socket directory ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 700 on it`);
  }
}

async function removeStaleSocket(path: string, probeTimeoutMs: number): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new LatchkeyError('config_invalid', `${path} exists and is not a socket; remove it or choose another path with LATCHKEY_SOCKET`);
  }
  if (await socketAnswers(path, probeTimeoutMs)) {
    throw new LatchkeyError('agent_running', `Another Latchkey agent is already listening on ${path}`);
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * True when something accepts connections at `path`. Only "refused" and
 * "gone" mean stale; a probe that hangs is treated as a live (busy) agent,
 * because deleting a live agent's socket would orphan it.
 */
function socketAnswers(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const done = (live: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') return done(false);
      clearTimeout(timer);
      socket.destroy();
      reject(new LatchkeyError('storage_error', `Cannot probe existing socket ${path}: ${err.message}`, { cause: err }));
    });
  });
}

function listenOnce(server: Server, path: string, restrictUmask: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // Node binds a Unix socket synchronously inside listen(), so the umask is
    // restored before any other code runs and other files are not affected.
    const previous = restrictUmask ? setUmask(0o177) : undefined;
    try {
      server.listen(path);
    } finally {
      if (previous !== undefined) setUmask(previous);
    }
  });
}

/** Worker threads may not change the umask; the chmod after listen still applies there. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}
