import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/test-home.js';
import { brokenPathFor, ensurePrivateDir, keepBrokenCopy } from './vault-file.js';

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
