/**
 * Where Latchkey keeps its files. Everything is derived from the environment
 * passed in, so tests point a whole agent at a temporary directory.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LatchkeyPaths {
  /** `$LATCHKEY_HOME`, or the per-OS data directory. Mode 0700. */
  home: string;
  vault: string;
  config: string;
  policy: string;
  /** Which provider and account serve a host for the git and Docker credential helpers (`latchkey host add`). */
  hosts: string;
  /** The broker's audit log, encrypted with a key kept in the vault. */
  audit: string;
  log: string;
  lock: string;
  /**
   * The running agent's owner credential (random per start, 0600): whoever can
   * read it may use the `admin.*` methods. Apps get their own, narrower methods.
   */
  ownerKey: string;
  /** Unix socket path or Windows named pipe. */
  socket: string;
}

export function dataHome(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.LATCHKEY_HOME) return env.LATCHKEY_HOME;
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  switch (platform) {
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Latchkey');
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Latchkey');
    default:
      // XDG Base Directory: $XDG_DATA_HOME defaults to ~/.local/share.
      return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'latchkey');
  }
}

export function socketPath(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.LATCHKEY_SOCKET) return env.LATCHKEY_SOCKET;
  if (platform === 'win32') {
    const user = (env.USERNAME ?? 'user').replace(/[^A-Za-z0-9_.-]/g, '_');
    return `\\\\.\\pipe\\latchkey-${user}`;
  }
  // An explicit $LATCHKEY_HOME (tests, portable installs) keeps the socket beside it,
  // so two homes never share one agent; otherwise prefer the per-user runtime dir.
  if (!env.LATCHKEY_HOME && env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'latchkey', 'agent.sock');
  return join(dataHome(env, platform), 'agent.sock');
}

export function resolvePaths(env: Env = process.env, platform: NodeJS.Platform = process.platform): LatchkeyPaths {
  const home = dataHome(env, platform);
  return {
    home,
    vault: join(home, 'vault.json'),
    config: join(home, 'config.json'),
    policy: join(home, 'policy.json'),
    hosts: join(home, 'hosts.json'),
    audit: join(home, 'audit.log'),
    log: join(home, 'agent.log'),
    lock: join(home, 'agent.lock'),
    ownerKey: join(home, 'owner.key'),
    socket: socketPath(env, platform),
  };
}
