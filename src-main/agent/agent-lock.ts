/**
 * One agent per data directory: the vault has a single writer.
 *
 * Enforces:
 * - the lock file appears atomically with its content, and only if no lock
 *   exists (platform/file-safety.ts, create-exclusive), so nobody ever reads a
 *   half-written lock and mistakes it for stale;
 * - an agent that answers on its socket (a reply, not just a connect) is
 *   alive, whatever its pid says;
 * - otherwise a lock whose process is gone is stale and taken over. On Linux
 *   "gone" includes a zombie (state Z or X in /proc/PID/stat): after `kill -9`
 *   the pid lingers until its parent reaps it, which in containers with a slow
 *   init takes seconds, and `kill(pid, 0)` still succeeds meanwhile;
 * - so is a lock whose pid now belongs to a different process (after a reboot
 *   pids are reused; on Linux the lock records the boot id and process start
 *   time to tell);
 * - a live owner → `agent_running`, naming its pid;
 * - `release()` removes the lock only while it is still ours.
 *
 * Two agents taking over the same stale lock at the same instant could both
 * succeed; the socket bind that follows (socket-listen.ts) is the second guard.
 */
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { createFileExclusive } from '../platform/file-safety.js';

export interface AgentLock {
  readonly path: string;
  readonly pid: number;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/** What varies between a real agent and a test. */
export interface AgentLockOptions {
  pid?: number;
  now?: () => Date;
  /** Is `pid` a running process? Default: its /proc state on Linux (a zombie is dead), `process.kill(pid, 0)` elsewhere. */
  isAlive?: (pid: number) => boolean;
  /** Does the holder's agent answer on its socket? An answer means alive; silence leaves it to the process check. */
  agentAnswers?: () => Promise<boolean>;
  /** A string that changes when `pid` is reused; default: Linux boot id + start time. */
  processIdentity?: (pid: number) => string | undefined;
}

const lockFileSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  identity: z.string().optional(),
});
type LockFile = z.infer<typeof lockFileSchema>;

/** Stale takeovers to attempt before giving up (each one means someone else just raced us). */
const MAX_ATTEMPTS = 3;

/**
 * Takes the agent lock at `lockPath`, creating its directory (0700) if needed.
 * Throws `agent_running` if a live agent holds it.
 */
export async function acquireAgentLock(lockPath: string, options: AgentLockOptions = {}): Promise<AgentLock> {
  const pid = options.pid ?? process.pid;
  const isAlive = options.isAlive ?? processIsRunning;
  const identityOf = options.processIdentity ?? linuxProcessIdentity;
  const identity = identityOf(pid);
  const content: LockFile = { pid, startedAt: (options.now?.() ?? new Date()).toISOString(), ...(identity ? { identity } : {}) };
  const text = `${JSON.stringify(content)}\n`;
  await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // Not durable: a lock is worthless after a crash (its pid is gone), so it needs no fsync.
    if (await createFileExclusive(lockPath, text, { durable: false })) {
      return { path: lockPath, pid, release: () => releaseIfOurs(lockPath, text) };
    }
    const holder = await readLock(lockPath);
    if (holder === 'gone') continue;
    // The socket first: a live agent is one that answers, and one that answers must not lose its lock.
    const answers = (await options.agentAnswers?.()) ?? false;
    if (answers || (holder && isAlive(holder.pid) && !identityChanged(holder, identityOf))) {
      if (!holder) throw new LatchkeyError('agent_running', `A Latchkey agent is already running (lock ${lockPath})`);
      throw new LatchkeyError('agent_running', `A Latchkey agent is already running (pid ${holder.pid}, lock ${lockPath})`);
    }
    // Dead owner, reused pid or unreadable garbage: the lock is stale.
    await unlink(lockPath).catch(ignoreMissing);
  }
  throw new LatchkeyError('agent_running', `Could not take the agent lock ${lockPath}: another agent keeps taking it`);
}

/** The lock's holder; undefined if the file is garbage; 'gone' if it vanished meanwhile. */
async function readLock(path: string): Promise<LockFile | undefined | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw new LatchkeyError('storage_error', `Cannot read the agent lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const parsed = lockFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function identityChanged(holder: LockFile, identityOf: (pid: number) => string | undefined): boolean {
  if (!holder.identity) return false;
  const current = identityOf(holder.pid);
  return current !== undefined && current !== holder.identity;
}

async function releaseIfOurs(path: string, text: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) await unlink(path).catch(ignoreMissing);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/**
 * On Linux, the state letter in /proc/PID/stat: a zombie (Z) or dead (X)
 * process is not running even though its pid still exists. Elsewhere, and if
 * /proc cannot be read for another reason, whether the pid exists.
 */
export function processIsRunning(pid: number, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 3, after comm (which may contain spaces and parentheses, hence the last ')').
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `<boot id>:<start time in clock ticks>` from /proc on Linux, undefined
 * elsewhere (there the pid alone decides).
 */
export function linuxProcessIdentity(pid: number): string | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses; fields resume after the last ')'.
    // starttime is field 22 overall, i.e. index 19 counting from field 3.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime ? `${bootId}:${startTime}` : undefined;
  } catch {
    return undefined;
  }
}
