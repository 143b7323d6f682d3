import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/test-home.js';
import { readJsonFile } from './json-file.js';

describe('readJsonFile (config.json, policy.json)', () => {
  it('is undefined for a missing file, the parsed value otherwise (null included)', async () => {
    const dir = await tempDir('lk-json-');
    expect(await readJsonFile(join(dir, 'absent.json'))).toBeUndefined();
    await writeFile(join(dir, 'a.json'), '{"rules":[]}');
    expect(await readJsonFile(join(dir, 'a.json'))).toEqual({ rules: [] });
    await writeFile(join(dir, 'null.json'), 'null');
    expect(await readJsonFile(join(dir, 'null.json'))).toBeNull();
  });

  it('names the file, as the caller calls it, when it cannot be read or is not JSON', async () => {
    const dir = await tempDir('lk-json-');
    const broken = join(dir, 'policy.json');
    await writeFile(broken, '{ "rules": [');
    await expect(readJsonFile(broken, `the policy file ${broken}`)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(new RegExp(`^The policy file ${broken} is not valid JSON \\(`)) });
    await expect(readJsonFile(broken)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(new RegExp(`^${broken} is not valid JSON \\(`)) });
    // A directory where the file should be: not "missing", so not silently the defaults.
    const directory = join(dir, 'config.json');
    await mkdir(directory);
    await expect(readJsonFile(directory)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(new RegExp(`^Cannot read ${directory}: .*EISDIR`)) });
  });
});
