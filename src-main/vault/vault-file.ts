/**
 * Crash-safe file IO for the vault.
 *
 * What it enforces:
 * - a write is temp file + fsync + rename + directory fsync, so after a crash
 *   (kill -9, power loss) the vault is either the old or the new version;
 * - the vault file is mode 0600 and its directory 0700; a looser existing
 *   directory is tightened (POSIX only; Windows uses ACLs, not modes);
 * - a file that cannot be opened is copied aside once and never overwritten;
 * - temp files left by a dead writer are removed, live writers' are not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LatchkeyError } from '../errors.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const STICKY_BIT = 0o1000; // not in fs.constants

/**
 * Creates `dir` (and parents) as 0700, or tightens an existing `dir` to 0700.
 * Refuses a shared directory (sticky bit, like /tmp) or one owned by another
 * user rather than chmod it: as root that would silently lock everyone else out.
 */
export async function ensurePrivateDir(dir: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  let info: Stats;
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    info = await stat(dir);
  } catch (cause) {
    throw new LatchkeyError('storage_error', `Could not create the private directory ${dir}: ${errMessage(cause)}`, { cause });
  }
  if (platform === 'win32' || (info.mode & 0o077) === 0) return;
  if ((info.mode & STICKY_BIT) !== 0 || info.uid !== process.getuid?.()) {
    throw new LatchkeyError(
      'storage_error',
      `${dir} is shared with other users; keep the vault in a directory of its own (set LATCHKEY_HOME).`,
    );
  }
  try {
    await chmod(dir, DIR_MODE);
  } catch (cause) {
    throw new LatchkeyError('storage_error', `Could not make ${dir} private (chmod 700): ${errMessage(cause)}`, { cause });
  }
}

/** Reads the whole file, or `undefined` when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if (errCode(cause) === 'ENOENT') return undefined;
    throw new LatchkeyError('storage_error', `Could not read ${path}: ${errMessage(cause)}`, { cause });
  }
}

/**
 * Replaces `path` with `data` atomically: readers and crashes see either the
 * old file or the new one, never a mix. The file is created 0600.
 */
export async function writeFileAtomic(path: string, data: Buffer, platform: NodeJS.Platform = process.platform): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    // 'wx': never follow or reuse a file someone planted at the temp name.
    const handle = await open(tmp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    throw new LatchkeyError('storage_error', `Could not write ${path}: ${errMessage(cause)}`, { cause });
  }
  await syncDir(dirname(path), platform);
}

/**
 * An append-only file for durable records (the vault journal): each
 * {@link AppendFile.append} resolves once the bytes are on disk. A new file's
 * directory entry is made durable too. After a failed append the file may
 * hold part of the record, so the handle is closed and the caller must not
 * append again before it has rewritten or cut the file ({@link cutFile}).
 */
export class AppendFile {
  #handle: FileHandle | undefined;

  constructor(
    readonly path: string,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  async append(data: Buffer): Promise<void> {
    try {
      this.#handle ??= await this.#open();
      const { bytesWritten } = await this.#handle.write(data);
      if (bytesWritten !== data.length) throw new Error(`short write (${bytesWritten} of ${data.length} bytes)`);
      await this.#handle.datasync();
    } catch (cause) {
      await this.close();
      throw new LatchkeyError('storage_error', `Could not write ${this.path}: ${errMessage(cause)}`, { cause });
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async #open(): Promise<FileHandle> {
    try {
      // 'wx' first: only a file we created needs its directory entry synced.
      const created = await open(this.path, 'wx', FILE_MODE);
      await syncDir(dirname(this.path), this.platform);
      await created.close();
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
    return open(this.path, 'a', FILE_MODE);
  }
}

/** Cuts `path` to `length` bytes (a torn record, or an emptied journal); a missing file is fine. */
export async function cutFile(path: string, length: number): Promise<void> {
  try {
    await truncate(path, length);
  } catch (cause) {
    if (errCode(cause) === 'ENOENT') return;
    throw new LatchkeyError('storage_error', `Could not cut ${path}: ${errMessage(cause)}`, { cause });
  }
}

/**
 * Makes the rename durable. Errors are swallowed on purpose: the new file is
 * already in place, and reporting a failure now would make the caller believe
 * the old content is still on disk.
 */
async function syncDir(dir: string, platform: NodeJS.Platform): Promise<void> {
  if (platform === 'win32') return; // Directories cannot be opened for fsync on Windows.
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/** Removes `<name>.tmp-<pid>-*` files next to `path` whose writing process is gone. */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const prefix = `${basename(path)}.tmp-`;
  const removed: string[] = [];
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    const full = join(dirname(path), name);
    await unlink(full).then(
      () => removed.push(full),
      () => undefined,
    );
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return errCode(err) === 'EPERM';
  }
}

/** `vault.json.broken-2025-01-31T12-00-00-000Z`: ISO time without colons, which Windows forbids. */
export function brokenPathFor(path: string, now: Date): string {
  return `${path}.broken-${now.toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Keeps a 0600 copy of a vault file that could not be opened, so nothing is
 * lost whatever the user does next. A copy with the same bytes is reused, so
 * retrying (say, a mistyped passphrase) does not pile up copies.
 */
export async function keepBrokenCopy(path: string, bytes: Buffer, now: Date): Promise<string> {
  const existing = await findCopy(path, bytes);
  if (existing) return existing;
  const target = brokenPathFor(path, now);
  try {
    const handle = await open(target, 'wx', FILE_MODE);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (cause) {
    throw new LatchkeyError('storage_error', `Could not keep a copy of the unreadable vault at ${target}: ${errMessage(cause)}`, {
      cause,
    });
  }
  return target;
}

async function findCopy(path: string, bytes: Buffer): Promise<string | undefined> {
  const prefix = `${basename(path)}.broken-`;
  const digest = sha256(bytes);
  for (const name of (await readdir(dirname(path)).catch(() => [] as string[])).sort()) {
    if (!name.startsWith(prefix)) continue;
    const full = join(dirname(path), name);
    const other = await readIfExists(full).catch(() => undefined);
    if (other && other.length === bytes.length && sha256(other) === digest) return full;
  }
  return undefined;
}

/** Moves `path` aside to its `.broken-<time>` name; returns the new name, or undefined if there was no file. */
export async function moveAside(path: string, now: Date): Promise<string | undefined> {
  const target = brokenPathFor(path, now);
  try {
    await rename(path, target);
    return target;
  } catch (cause) {
    if (errCode(cause) === 'ENOENT') return undefined;
    throw new LatchkeyError('storage_error', `Could not move ${path} aside: ${errMessage(cause)}`, { cause });
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
