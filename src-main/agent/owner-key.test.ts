/** The owner key file: private, replaced whole, never written through a planted symlink. */
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/test-home.js';
import { readOwnerKey } from '../wire/owner-key-file.js';
import { removeOwnerKey, writeOwnerKey } from './owner-key.js';

describe('owner key file', () => {
  it('is written 0600, read back, and removed only while it is still ours', async () => {
    const path = join(await tempDir(), 'owner-key');
    const first = await writeOwnerKey(path);
    expect(readOwnerKey(path)).toBe(first);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await writeOwnerKey(path);
    await removeOwnerKey(path, first);
    expect(readOwnerKey(path)).toBe(second);
    await removeOwnerKey(path, second);
    expect(() => readOwnerKey(path)).toThrow(expect.objectContaining({ code: 'unauthorized' }));
  });

  it.runIf(process.platform !== 'win32')('never writes through a symlink planted at the temp name it used to use', async () => {
    // Regression: the write opened `<path>.<pid>.tmp` with 'w', following whatever was there.
    const dir = await tempDir();
    const path = join(dir, 'owner-key');
    await writeFile(join(dir, 'victim'), 'precious');
    await symlink(join(dir, 'victim'), `${path}.${process.pid}.tmp`);
    await writeOwnerKey(path);
    expect(await readFile(join(dir, 'victim'), 'utf8')).toBe('precious');
  });
});
