import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './testing/temp-dir.js';
import { brokenPathFor, ensurePrivateDir, keepBrokenCopy, removeStaleTempFiles, writeFileAtomic } from './vault-file.js';

const posix = process.platform !== 'win32';
const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('vault file IO', () => {
  it.runIf(posix)('creates the directory 0700 and tightens a looser existing one', async () => {
    const root = await tempDir();
    await ensurePrivateDir(join(root, 'a', 'b'));
    expect(await modeOf(join(root, 'a', 'b'))).toBe(0o700);

    const loose = join(root, 'loose');
    await mkdir(loose);
    await chmod(loose, 0o755);
    await ensurePrivateDir(loose);
    expect(await modeOf(loose)).toBe(0o700);
  });

  it.runIf(posix)('refuses to chmod a shared (sticky, world-writable) directory such as /tmp', async () => {
    const shared = join(await tempDir(), 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await expect(ensurePrivateDir(shared)).rejects.toMatchObject({ code: 'storage_error' });
    expect(await modeOf(shared)).toBe(0o777);
  });

  it('replaces the file atomically as 0600 and leaves no temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, Buffer.from('new'));
    expect(await readFile(path, 'utf8')).toBe('new');
    if (posix) expect(await modeOf(path)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['vault.json']);
  });

  it('reports a failed write as storage_error and cleans up its temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    await mkdir(path); // rename() cannot replace a directory with a file
    await expect(writeFileAtomic(path, Buffer.from('x'))).rejects.toMatchObject({ code: 'storage_error' });
    expect(await readdir(dir)).toEqual(['vault.json']);
  });

  it('removes temp files of dead writers only', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = join(dir, `vault.json.tmp-${deadPid}-abc`);
    const live = join(dir, `vault.json.tmp-${process.pid}-def`);
    const garbage = join(dir, 'vault.json.tmp-notapid');
    for (const p of [stale, live, garbage]) await writeFile(p, 'partial');
    expect((await removeStaleTempFiles(path)).sort()).toEqual([stale, garbage].sort());
    expect(await readdir(dir)).toEqual([`vault.json.tmp-${process.pid}-def`]);
  });

  it('keeps one 0600 copy per distinct broken content', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    const first = await keepBrokenCopy(path, Buffer.from('garbage'), new Date('2025-01-31T12:00:00.000Z'));
    expect(first).toBe(`${path}.broken-2025-01-31T12-00-00-000Z`);
    expect(first).toBe(brokenPathFor(path, new Date('2025-01-31T12:00:00.000Z')));
    expect(await keepBrokenCopy(path, Buffer.from('garbage'), new Date('2025-02-01T00:00:00.000Z'))).toBe(first);
    const second = await keepBrokenCopy(path, Buffer.from('other'), new Date('2025-02-01T00:00:00.000Z'));
    expect(second).not.toBe(first);
    expect(await readFile(first, 'utf8')).toBe('garbage');
    if (posix) expect(await modeOf(second)).toBe(0o600);
  });
});
