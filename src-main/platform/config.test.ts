import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/test-home.js';
import { loadConfig, defaultConfig } from './config.js';

describe('config file', () => {
  it('is optional: a missing file gives the defaults', async () => {
    expect(await loadConfig('/nonexistent/latchkey/config.json')).toEqual(defaultConfig());
  });

  it('rejects unknown keys, wrong types and broken JSON with messages that name the problem', async () => {
    const file = join(await tempDir('lk-config-'), 'config.json');
    await writeFile(file, JSON.stringify({ callbackTimeoutSecond: 5 }));
    await expect(loadConfig(file)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('"callbackTimeoutSecond"') });
    await writeFile(file, JSON.stringify({ minTtlSeconds: 'soon' }));
    await expect(loadConfig(file)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('minTtlSeconds') });
    await writeFile(file, '{ "minTtlSeconds": 5,');
    await expect(loadConfig(file)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('not valid JSON') });
    await writeFile(file, JSON.stringify({ minTtlSeconds: 5 }));
    expect((await loadConfig(file)).minTtlSeconds).toBe(5);
  });
});
