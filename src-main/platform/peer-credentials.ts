/**
 * The kernel's own answer to "who connected?" on a Unix socket (Linux
 * SO_PEERCRED, and SO_PEERPIDFD for a handle that cannot be confused by pid
 * reuse), through the small Node-API addon in native/peer-credentials.c
 * (built by `npm run build` into dist/native/). Without the addon, or off
 * Linux, {@link loadPeerCredentials} answers why not, and callers fall back.
 */
import { createRequire } from 'node:module';

/** What the kernel recorded when the peer called connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
  /**
   * A pidfd for that process (Linux ≥ 6.5), or undefined. Close it with
   * {@link PeerCredentialsReader.release}.
   */
  pidfd?: number;
}

export interface PeerCredentialsReader {
  /** Credentials of the peer of the connected socket `fd`; throws when the fd is not a connected socket. */
  read(fd: number): PeerCredentials;
  /** Whether the process behind `pidfd` has not exited yet. */
  alive(pidfd: number): boolean;
  release(pidfd: number): void;
}

interface Addon {
  peerCredentials(fd: number): [number, number, number, number];
  pidfdAlive(pidfd: number): boolean;
  closeFd(fd: number): void;
}

/** From src-main/platform/ (tests) and from dist/src-main/platform/ (built). */
const ADDON_PATHS = ['../../dist/native/peer-credentials.node', '../../native/peer-credentials.node'];

let loaded: PeerCredentialsReader | string | undefined;

/** The reader, or why there is none (not Linux, addon not built). Loaded once. */
export function loadPeerCredentials(): PeerCredentialsReader | string {
  loaded ??= load();
  return loaded;
}

function load(): PeerCredentialsReader | string {
  if (process.platform !== 'linux') return `SO_PEERCRED is Linux-only (this is ${process.platform})`;
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of ADDON_PATHS) {
    let addon: Addon;
    try {
      addon = require(path) as Addon;
    } catch (err) {
      failures.push((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? `${path}: not built` : `${path}: ${(err as Error).message}`);
      continue;
    }
    return {
      read(fd) {
        const [pid, uid, gid, pidfd] = addon.peerCredentials(fd);
        return pidfd >= 0 ? { pid, uid, gid, pidfd } : { pid, uid, gid };
      },
      alive: (pidfd) => addon.pidfdAlive(pidfd),
      release: (pidfd) => addon.closeFd(pidfd),
    };
  }
  return `the peer-credentials addon could not be loaded (${failures.join('; ')})`;
}
