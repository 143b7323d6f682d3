/**
 * Which process is on the other end of an accepted Unix-socket connection
 * (Linux): the {@link PeerLookup} of platform/peer-lookup.ts. The kernel says so itself through SO_PEERCRED and SO_PEERPIDFD,
 * which Node lacks; the small addon in native/ (see
 * platform/peer-credentials.ts) provides them. Where the addon is not built
 * or the kernel is older than 6.5 (no SO_PEERPIDFD), we ask the kernel's
 * sock_diag through `ss` (iproute2) instead and check every answer against
 * /proc ourselves.
 *
 * How, with the addon (no child process, a few /proc reads):
 * 1. SO_PEERCRED names the process that called connect() and its uid;
 *    SO_PEERPIDFD gives a pidfd for that very process;
 * 2. its executable is opened through `/proc/N/exe` and its argv read; then
 *    the pidfd must still be alive, which proves N was not reused meanwhile;
 * 3. the executable is hashed, cached by file identity (below).
 *
 * How, through `ss`:
 * 1. our end's inode: `/proc/self/fd/<fd>` → `socket:[I]`, read synchronously
 *    while the fd is certainly still ours;
 * 2. `ss -x -p -n` lists Unix sockets with local and peer inodes and holders
 *    (`users:(("name",pid=N,fd=M))`); our line gives the peer inode P, the
 *    line of P gives candidate holders;
 * 3. each candidate is verified: `/proc/N/fd/M` must read `socket:[P]`; the
 *    process facts are read, then the fd is verified again, so a pid that
 *    exited and was reused meanwhile is never reported;
 * 4. the executable is hashed through `/proc/N/exe` (the file actually
 *    running, even if its path was since replaced), cached by file identity.
 *
 * Enforces:
 * - `ss` runs by absolute path with execFile (no shell), a deadline and an
 *   output cap; concurrent calls share one run, so a burst of connections
 *   costs one or two `ss` processes, not one each;
 * - `ss` prints socket paths raw, so a client that binds its socket to a name
 *   containing newlines can forge whole lines. Our line is matched on our own
 *   listening path and inode and must occur exactly once (the genuine line
 *   always exists, so a forged twin makes the answer "unknown", never wrong);
 *   holders named by `ss` are only candidates until /proc confirms them;
 * - through `ss`, a socket held by more than one process is "unknown": we
 *   cannot tell which of them writes to it (with SO_PEERCRED the answer is the
 *   process that connected, see Limits);
 * - a peer that has hung up, or that has exited, is "unknown";
 * - "unknown" is `undefined`, never an exception; the reason goes to the debug log.
 *
 * Limits (what a PeerProcess does not prove):
 * - it names the process that connected (SO_PEERCRED) or that holds the socket
 *   *now* (`ss`). A socket fd can be inherited or passed over another socket
 *   (SCM_RIGHTS), so that may not be the one that writes; a same-user process
 *   can also ptrace or inject into another. Peer identity narrows who can use
 *   a grant; the app key proof (app-identity.ts) is the authentication.
 * - for interpreted apps the executable is the interpreter (`python3`, `node`),
 *   shared by every script. That is why `argv` is captured: a grant for such an
 *   app should bind to the interpreter's path and hash *and* the script path
 *   (argv[1], resolved against the process's cwd), and consent prompts should
 *   show both. Even then the script's content is not hashed here.
 * - non-dumpable processes (setuid programs, apps calling
 *   `prctl(PR_SET_DUMPABLE, 0)`) hide /proc/N/exe and come back `undefined`,
 *   as do processes of other users unless the agent runs as root, and peers in
 *   another pid namespace (SO_PEERCRED reports pid 0 for them).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, readlinkSync } from 'node:fs';
import { access, open, readlink, type FileHandle } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { silentLogger, type Logger } from '../log/logger.js';
import { loadPeerCredentials, type PeerCredentialsReader } from '../platform/peer-credentials.js';
import type { PeerLookup, PeerProcess } from '../platform/peer-lookup.js';

export interface PeerIdentifierOptions {
  logger?: Logger;
  /** Defaults to the first of /usr/bin/ss, /usr/sbin/ss, /bin/ss, /sbin/ss. */
  ssPath?: string;
  /** Deadline of one `ss` run; default 2 s. */
  ssTimeoutMs?: number;
  /** Executable hashes remembered; default 64. */
  hashCacheEntries?: number;
  /** Larger executables are not hashed (the peer is then unknown); default 1 GiB. */
  maxExeBytes?: number;
  platform?: NodeJS.Platform;
  /**
   * How to ask the kernel who connected; default: the addon when it is built.
   * `false` always uses `ss` (tests of that path).
   */
  peerCredentials?: PeerCredentialsReader | false;
}

const FALL_BACK = Symbol('fall back to ss');
const SS_CANDIDATES = ['/usr/bin/ss', '/usr/sbin/ss', '/bin/ss', '/sbin/ss'];
const SS_MAX_OUTPUT = 32 * 1024 * 1024;
const MAX_HOLDERS = 16;
const MAX_ARG_CHARS = 1024;
const CMDLINE_READ_BYTES = 2 * (MAX_ARG_CHARS + 1) * 4;

/**
 * Creates an identifier. Keep one per agent: it owns the hash cache and
 * coalesces `ss` runs.
 */
export function createPeerIdentifier(options: PeerIdentifierOptions = {}): PeerLookup {
  const logger = options.logger ?? silentLogger();
  const platform = options.platform ?? process.platform;
  const hashes = new ExeHashCache(options.hashCacheEntries, options.maxExeBytes);
  const ss = new SsRunner(options.ssPath, options.ssTimeoutMs ?? 2000);

  const credentials = options.peerCredentials ?? loadPeerCredentials();
  if (typeof credentials === 'string') logger.debug({ reason: credentials }, 'peers are identified through ss');

  async function identify(socket: Socket): Promise<PeerProcess | undefined> {
    if (platform !== 'linux') return unknown(`peer identification is not implemented on ${platform}`);
    if (typeof credentials === 'object') {
      const found = await identifyByCredentials(socket, credentials);
      if (found !== FALL_BACK) return found;
    }
    const local = localSocket(socket);
    if (typeof local === 'string') return unknown(local);
    let output: string;
    try {
      output = await ss.run();
    } catch (err) {
      return unknown('ss failed', err);
    }
    const found = parseSsPeer(output, local);
    if ('error' in found) return unknown(found.error);
    const holders = await verifiedHolders(found.holders, found.peerInode);
    const pids = new Set(holders.map((h) => h.pid));
    if (pids.size !== 1) return unknown(pids.size === 0 ? 'no process holding the peer socket could be confirmed' : 'the peer socket is held by several processes');
    const holder = holders[0]!;
    try {
      return await readProcess(holder.pid, () => holds(holder, found.peerInode), hashes);
    } catch (err) {
      return unknown('could not read the peer process', err);
    }
  }

  /** SO_PEERCRED + SO_PEERPIDFD; {@link FALL_BACK} when this kernel has no SO_PEERPIDFD. */
  async function identifyByCredentials(socket: Socket, reader: PeerCredentialsReader): Promise<PeerProcess | undefined | typeof FALL_BACK> {
    const fd = socketFd(socket);
    if (fd === undefined) return unknown('the socket is closed or has no fd');
    if (listeningPath(socket) === undefined) return unknown('not a socket accepted by a Unix-socket server');
    // The kernel keeps the credentials after the peer hangs up; a gone peer is still "unknown".
    if (socket.readableEnded) return unknown('the peer has already closed its end');
    let peer;
    try {
      peer = reader.read(fd);
    } catch (err) {
      return unknown('SO_PEERCRED failed', err);
    }
    const { pidfd } = peer;
    if (pidfd === undefined) return FALL_BACK;
    try {
      if (peer.pid <= 0) return unknown('the peer is in another pid namespace');
      return await readProcess(peer.pid, () => reader.alive(pidfd), hashes, peer.uid);
    } catch (err) {
      return unknown('could not read the peer process', err);
    } finally {
      reader.release(pidfd);
    }
  }

  function unknown(reason: string, err?: unknown): undefined {
    logger.debug(err === undefined ? { reason } : { reason, err }, 'peer process unknown');
    return undefined;
  }

  return { identify };
}

let shared: PeerLookup | undefined;

/**
 * The process on the other end of an accepted Unix-socket connection, or
 * `undefined` when it cannot be determined (not Linux, `ss` missing, peer gone,
 * ambiguous). Uses one process-wide identifier with a silent logger; create
 * your own with {@link createPeerIdentifier} to log or tune it.
 */
export function identifyPeer(socket: Socket): Promise<PeerProcess | undefined> {
  shared ??= createPeerIdentifier();
  return shared.identify(socket);
}

// --- Our end ----------------------------------------------------------------

interface LocalSocket {
  inode: number;
  /** The listening path as `ss` prints it (abstract names with `@` for NUL). */
  path: string;
}

/** libuv's Pipe handle exposes the fd on Unix; it is gone once the socket is closed. */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Our end's inode and listening path, or why they are unavailable. */
function localSocket(socket: Socket): LocalSocket | string {
  const fd = socketFd(socket);
  if (fd === undefined) return 'the socket is closed or has no fd';
  // Synchronous on purpose: an async readlink could run after the fd was closed and reused.
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return 'cannot read /proc/self/fd';
  }
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) return 'the fd is not a socket';
  const address = listeningPath(socket);
  if (address === undefined) return 'not a socket accepted by a Unix-socket server';
  return { inode: Number(inode), path: address.replace(/\0/g, '@') };
}

/** The path of the Unix-socket server that accepted `socket` (Node sets `server` on sockets it accepted). */
function listeningPath(socket: Socket): string | undefined {
  const address = (socket as unknown as { server?: Server }).server?.address();
  return typeof address === 'string' ? address : undefined;
}

// --- ss ---------------------------------------------------------------------

/** Runs `ss`, one run at a time; callers that arrive during a run share the next one (which sees their socket). */
class SsRunner {
  readonly #timeoutMs: number;
  #path: Promise<string> | undefined;
  #waiting: Array<{ resolve: (out: string) => void; reject: (err: unknown) => void }> = [];
  #running = false;

  constructor(path: string | undefined, timeoutMs: number) {
    this.#path = path === undefined ? undefined : Promise.resolve(path);
    this.#timeoutMs = timeoutMs;
  }

  run(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (!this.#running) void this.#start();
    });
  }

  async #start(): Promise<void> {
    this.#running = true;
    const batch = this.#waiting.splice(0);
    try {
      this.#path ??= findExecutable(SS_CANDIDATES);
      const path = await this.#path;
      const output = await new Promise<string>((resolve, reject) => {
        execFile(path, ['-x', '-p', '-n'], { encoding: 'utf8', timeout: this.#timeoutMs, maxBuffer: SS_MAX_OUTPUT }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
      });
      for (const w of batch) w.resolve(output);
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#running = false;
      if (this.#waiting.length > 0) void this.#start();
    }
  }
}

async function findExecutable(candidates: readonly string[]): Promise<string> {
  for (const candidate of candidates) {
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error(`ss (iproute2) not found in ${candidates.join(', ')}`);
}

export interface SocketHolder {
  pid: number;
  fd: number;
}

/** What `ss` says about our connection: the peer's inode and who may hold it (unverified). */
export type SsPeer = { peerInode: number; holders: SocketHolder[] } | { error: string };

/**
 * Finds our connection in `ss -x -p -n` output and the candidate holders of
 * its peer. Exported for tests; see the module comment for why the matching
 * is this strict.
 */
export function parseSsPeer(output: string, local: LocalSocket): SsPeer {
  const lines = output.split('\n');
  // Ours: `u_str ESTAB 0 0 <our path> <I> * <P> [users:((...))]`; the peer name is always `*` from sock_diag.
  const ours = new RegExp(`^u_str\\s+\\S+\\s+\\d+\\s+\\d+\\s+${escapeRegExp(local.path)}\\s+${local.inode}\\s+\\*\\s+(\\d+)(?:\\s+users:\\(\\(.*\\)\\))?\\s*$`);
  const matches = lines.map((line) => ours.exec(line)).filter((m) => m !== null);
  if (matches.length !== 1) return { error: matches.length === 0 ? 'our socket is not listed (already closed?)' : 'our socket is listed more than once (forged ss output?)' };
  const peerInode = Number(matches[0]![1]);
  if (!Number.isSafeInteger(peerInode) || peerInode === 0) return { error: 'the peer has already closed its end' };
  // The peer's line ends `<P> * <I> users:((...))`; its own name (before P) is the client's and untrusted.
  const theirs = new RegExp(`(?:^|\\s)${peerInode}\\s+\\*\\s+${local.inode}\\s+users:\\(\\((.*)\\)\\)\\s*$`);
  const holders: SocketHolder[] = [];
  for (const line of lines) {
    const users = theirs.exec(line)?.[1];
    if (users === undefined) continue;
    for (const [, pid, fd] of users.matchAll(/pid=(\d+),fd=(\d+)/g)) holders.push({ pid: Number(pid), fd: Number(fd) });
  }
  if (holders.length === 0) return { error: 'no process is listed for the peer socket' };
  if (holders.length > MAX_HOLDERS) return { error: 'too many candidate holders for the peer socket' };
  return { peerInode, holders };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// --- /proc ------------------------------------------------------------------

/** The candidates whose fd really is the peer socket; this is what makes ss's text trustworthy. */
async function verifiedHolders(candidates: SocketHolder[], peerInode: number): Promise<SocketHolder[]> {
  const checks = await Promise.all(candidates.map(async (h) => ((await holds(h, peerInode)) ? h : undefined)));
  return checks.filter((h) => h !== undefined);
}

async function holds({ pid, fd }: SocketHolder, inode: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || !Number.isSafeInteger(fd) || fd < 0) return false;
  return readlink(`/proc/${pid}/fd/${fd}`).then(
    (link) => link === `socket:[${inode}]`,
    () => false,
  );
}

/**
 * The facts of process `pid`; `stillSame` is asked after they were read (the
 * holder's fd still is the peer socket, or the pidfd is still alive), so facts
 * of a process that exited and whose pid was reused are never reported.
 * `uid` when the kernel already told it (SO_PEERCRED), else read from status.
 */
async function readProcess(pid: number, stillSame: () => boolean | Promise<boolean>, hashes: ExeHashCache, uid?: number): Promise<PeerProcess> {
  const dir = `/proc/${pid}`;
  const exe = await open(`${dir}/exe`, 'r');
  try {
    // All at once (each is a trip to the thread pool): the hash is of the file opened above, which is
    // this process's executable as long as the process is still the same one, checked after.
    const [exePath, status, cmdline, exeSha256] = await Promise.all([
      readlink(`${dir}/exe`),
      uid === undefined ? readHead(`${dir}/status`, 4096) : undefined,
      readHead(`${dir}/cmdline`, CMDLINE_READ_BYTES),
      hashes.hash(exe),
    ]);
    if (!(await stillSame())) throw new Error('the peer process changed while it was being read');
    uid ??= status === undefined ? undefined : effectiveUid(status.toString('utf8'));
    if (uid === undefined) throw new Error(`no Uid line in ${dir}/status`);
    const argv = cmdline.toString('utf8').split('\0').slice(0, 2).map((arg) => arg.slice(0, MAX_ARG_CHARS));
    return { pid, uid, exePath, exeSha256, argv };
  } finally {
    closeLater(exe);
  }
}

/** Closes a handle without making the answer wait for it (nothing is read from it afterwards). */
function closeLater(handle: FileHandle): void {
  handle.close().catch(() => undefined);
}

/** The second field of `Uid:	real	effective	saved	fs` (proc(5)). */
function effectiveUid(status: string): number | undefined {
  const fields = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  return fields ? Number(fields[2]) : undefined;
}

/** /proc files report size 0, so read up to `max` bytes rather than by size. */
async function readHead(path: string, max: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(max);
    let length = 0;
    while (length < max) {
      const { bytesRead } = await handle.read(buffer, length, max - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    closeLater(handle);
  }
}

// --- Executable hashes ------------------------------------------------------

const HASH_CHUNK_BYTES = 1024 * 1024;

/**
 * SHA-256 of open executables, remembered by file identity (device, inode,
 * size, mtime and ctime in ns) so the 100 MB of a Node or Electron binary are
 * read once, not per connection. ctime is in the key because mtime can be
 * set back by anyone who can write the file; ctime cannot. Entries are kept in
 * least-recently-used order and bounded; concurrent requests for the same file
 * share one read.
 */
export class ExeHashCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Promise<string>>();
  #computed = 0;

  constructor(maxEntries = 64, maxBytes = 1024 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** How many files were actually read and hashed (for tests and diagnostics). */
  get computed(): number {
    return this.#computed;
  }

  /** Hashes the file behind `handle` (read from offset 0; the handle stays open). */
  async hash(handle: FileHandle): Promise<string> {
    const { key, size } = await identityOf(handle);
    if (size > BigInt(this.#maxBytes)) throw new Error(`executable is larger than ${this.#maxBytes} bytes`);
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key); // re-insert: most recently used last
    } else {
      entry = this.#compute(handle, key);
      entry.catch(() => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      });
    }
    this.#entries.set(key, entry);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    return entry;
  }

  async #compute(handle: FileHandle, key: string): Promise<string> {
    this.#computed++;
    const digest = createHash('sha256');
    const buffer = Buffer.alloc(HASH_CHUNK_BYTES);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      if (position > this.#maxBytes) throw new Error(`executable is larger than ${this.#maxBytes} bytes`);
      digest.update(buffer.subarray(0, bytesRead));
    }
    // A file rewritten while we read it gives a hash of neither version.
    if ((await identityOf(handle)).key !== key) throw new Error('executable changed while it was being hashed');
    return digest.digest('hex');
  }
}

async function identityOf(handle: FileHandle): Promise<{ key: string; size: bigint }> {
  const st = await handle.stat({ bigint: true });
  if (!st.isFile()) throw new Error('not a regular file');
  return { key: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, size: st.size };
}
