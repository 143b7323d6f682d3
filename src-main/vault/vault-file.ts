/**
 * The vault's directory and what happens to a vault file that cannot be
 * opened. The writes themselves (atomic replace, the journal's appends) are
 * platform/file-safety.ts's.
 *
 * What it enforces:
 * - the vault's directory is 0700; a looser existing directory is tightened
 *   (POSIX only; Windows uses ACLs, not modes);
 * - a file that cannot be opened is copied aside (0600) once and never overwritten.
 */
import { createHash } from 'node:crypto';
import { type Stats } from 'node:fs';
import { chmod, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { createFileExclusive, readIfExists } from '../platform/file-safety.js';

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
  let created: boolean;
  try {
    created = await createFileExclusive(target, bytes);
  } catch (cause) {
    throw new LatchkeyError('storage_error', `Could not keep a copy of the unreadable vault at ${target}: ${errMessage(cause)}`, { cause });
  }
  if (!created) throw new LatchkeyError('storage_error', `Could not keep a copy of the unreadable vault at ${target}: something is already there`);
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
