/**
 * The one way Latchkey writes files: the vault and its journal, the audit
 * log, the host mapping, the agent lock and owner key, app keys, the URL
 * handler's desktop entry.
 *
 * What it enforces:
 * - a replaced file is either the old or the new version, never a mix, for
 *   readers and after a crash: temp file in the same directory, fsync, rename,
 *   fsync of the directory (both fsyncs skipped for `durable: false` files,
 *   which are worthless after a crash anyway; readers still never see a mix);
 * - a created file appears with all its content at once, only if nothing
 *   (not even a dangling symlink) is at its path;
 * - temp files are opened with O_EXCL, so a file or symlink planted at the
 *   temp name is never followed or reused; no write goes through a symlink;
 * - files are created 0600 unless the caller names another mode;
 * - an append resolves once its bytes are on disk, and a cut is on disk too;
 * - temp files left by a dead writer can be found and removed (their name
 *   carries the writer's pid), live writers' are kept;
 * - IO failures are `storage_error`s naming the file.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LatchkeyError } from '../errors.js';

const SECRET_FILE_MODE = 0o600;
/** O_NOFOLLOW where there is one (not on Windows): opening an existing file by name must not follow a planted symlink. */
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export interface WriteOptions {
  /** Mode of a created file (before the umask); default 0600. */
  mode?: number;
  /**
   * Whether the write must survive a crash or power loss (fsync of the file and
   * its directory); default true. False for files that are recreated on every
   * start (the agent lock, the owner key): atomic for readers, without the
   * cost of two fsyncs.
   */
  durable?: boolean;
  /** Defaults to `process.platform`; directories cannot be fsynced on Windows. */
  platform?: NodeJS.Platform;
}

/** `<path>.tmp-<pid>-<random>`: next to the target (rename and link stay in one file system), and findable by {@link removeStaleTempFiles}. */
function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Writes `data` to a new temp file next to `path` and returns its name; removes it again on failure. */
async function writeTemp(path: string, data: string | Buffer, options: WriteOptions): Promise<string> {
  const temp = tempPathFor(path);
  try {
    // 'wx' (O_CREAT | O_EXCL): never follow or reuse a file someone planted at the temp name.
    const handle = await open(temp, 'wx', options.mode ?? SECRET_FILE_MODE);
    try {
      await handle.writeFile(data);
      if (options.durable !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    return temp;
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/**
 * Replaces `path` with `data` atomically: readers and crashes see either the
 * old file or the new one, never a mix. A symlink at `path` is replaced, not
 * followed.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
  let temp: string | undefined;
  try {
    temp = await writeTemp(path, data, options);
    await rename(temp, path);
  } catch (cause) {
    if (temp) await unlink(temp).catch(() => undefined);
    throw storageError('write', path, cause);
  }
  if (options.durable !== false) await syncDir(dirname(path), options.platform);
}

/**
 * Creates `path` holding `data` only if nothing is at `path` (a file, a
 * directory, a symlink, even a dangling one); false if something is. The file
 * appears with all its content at once (hard link of a finished temp file), so
 * nobody reads it half-written.
 */
export async function createFileExclusive(path: string, data: string | Buffer, options: WriteOptions = {}): Promise<boolean> {
  let temp: string | undefined;
  try {
    temp = await writeTemp(path, data, options);
    // link() never follows or replaces what is at the new name: EEXIST instead.
    await link(temp, path);
  } catch (cause) {
    if (errCode(cause) === 'EEXIST') return false;
    throw storageError('create', path, cause);
  } finally {
    if (temp) await unlink(temp).catch(() => undefined);
  }
  if (options.durable !== false) await syncDir(dirname(path), options.platform);
  return true;
}

/**
 * An append-only file for durable records (the vault journal, the audit log):
 * each {@link AppendFile.append} resolves once the bytes are on disk. A new
 * file's directory entry is made durable too. After a failed append the file
 * may hold part of the record, so the handle is closed and the caller must not
 * append again before it has rewritten or cut the file ({@link cutFile}).
 * Close it before replacing the file, or later appends go to the old one.
 */
export class AppendFile {
  #handle: FileHandle | undefined;

  constructor(
    readonly path: string,
    private readonly options: Omit<WriteOptions, 'durable'> = {},
  ) {}

  async append(data: string | Buffer): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    try {
      this.#handle ??= await this.#open();
      const { bytesWritten } = await this.#handle.write(bytes);
      if (bytesWritten !== bytes.length) throw new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`);
      await this.#handle.datasync();
    } catch (cause) {
      await this.close();
      throw storageError('write', this.path, cause);
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async #open(): Promise<FileHandle> {
    const mode = this.options.mode ?? SECRET_FILE_MODE;
    try {
      // 'wx' first: only a file we created needs its directory entry synced.
      const created = await open(this.path, 'wx', mode);
      await syncDir(dirname(this.path), this.options.platform);
      await created.close();
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
    return open(this.path, constants.O_WRONLY | constants.O_APPEND | NOFOLLOW, mode);
  }
}

/** One durable append to `path` (created 0600 if missing), for files written now and then: no handle is kept open. */
export async function appendFileDurable(path: string, data: string | Buffer, options: Omit<WriteOptions, 'durable'> = {}): Promise<void> {
  const file = new AppendFile(path, options);
  try {
    await file.append(data);
  } finally {
    await file.close();
  }
}

/** Cuts `path` to `length` bytes, durably (a torn record, or an emptied journal); a missing file is fine. */
export async function cutFile(path: string, length: number): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDWR | NOFOLLOW);
    await handle.truncate(length);
    await handle.datasync();
  } catch (cause) {
    if (errCode(cause) === 'ENOENT') return;
    throw storageError('cut', path, cause);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Reads the whole file, or `undefined` when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if (errCode(cause) === 'ENOENT') return undefined;
    throw storageError('read', path, cause);
  }
}

/**
 * Makes a rename or a new directory entry durable. Errors are swallowed on
 * purpose: the new file is already in place, and reporting a failure now
 * would make the caller believe the old content is still on disk.
 */
async function syncDir(dir: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') return; // Directories cannot be opened for fsync on Windows.
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/**
 * Removes the temp files of writes to each of `paths` ({@link writeFileAtomic},
 * {@link createFileExclusive}) whose writing process is gone; each directory is
 * listed once.
 */
export async function removeStaleTempFiles(...paths: string[]): Promise<string[]> {
  const removed: string[] = [];
  const prefixesByDir = new Map<string, string[]>();
  for (const path of paths) prefixesByDir.set(dirname(path), [...(prefixesByDir.get(dirname(path)) ?? []), `${basename(path)}.tmp-`]);
  for (const [dir, prefixes] of prefixesByDir) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const prefix = prefixes.find((p) => name.startsWith(p));
      if (!prefix) continue;
      const pid = Number.parseInt(name.slice(prefix.length), 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
      const full = join(dir, name);
      await unlink(full).then(
        () => removed.push(full),
        () => undefined,
      );
    }
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

function storageError(verb: 'write' | 'create' | 'cut' | 'read', path: string, cause: unknown): LatchkeyError {
  return new LatchkeyError('storage_error', `Could not ${verb} ${path}: ${errMessage(cause)}`, { cause });
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
