/**
 * "Which process is on the other end of this socket?": the question the
 * agent's transport asks the platform when an app connects, so that grants can
 * bind to the app's executable and consent prompts can show it. The transport
 * knows only this interface; the agent's composition root (agent-main.ts)
 * wires in the implementation, today broker/peer-process.ts (Linux:
 * SO_PEERCRED and a pidfd through platform/peer-credentials.ts, else `ss` and
 * /proc). Elsewhere the answer is "unknown".
 */
import type { Socket } from 'node:net';

/** The process on the other end of a connection, as far as the platform can tell. */
export interface PeerProcess {
  pid: number;
  /** Effective uid (the one the kernel checks files against). */
  uid: number;
  /** `readlink /proc/<pid>/exe`; ends in " (deleted)" if the file was replaced since it started. */
  exePath: string;
  /** Lowercase hex SHA-256 of the running executable, comparable with `sha256sum`. */
  exeSha256: string;
  /** argv[0] and argv[1] (for interpreters, usually the script), for display; at most 1024 characters each. */
  argv: string[];
}

export interface PeerLookup {
  /** The process on the other end of `socket`, or `undefined` if it cannot be determined. */
  identify(socket: Socket): Promise<PeerProcess | undefined>;
}
