/** The host mapping file: round trip, normalised hosts, and a broken file reported instead of read as "no mapping". */
import { beforeEach, describe, expect, it } from 'vitest';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/test-home.js';
import { lookupHost, mappingTokenParams, parseHostMap, readHostMap, writeHostMap } from './host-map.js';

describe('host map', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await tempDir('latchkey-hosts-');
    path = join(dir, 'hosts.json');
  });

  it('writes 0600 and finds a host by name or URL', async () => {
    expect(readHostMap(path)).toEqual({});
    await writeHostMap(path, { 'registry.example.com:5000': { provider: 'work', username: 'ci' } });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(lookupHost(path, 'https://Registry.example.com:5000/v2/')).toEqual({ host: 'registry.example.com:5000', mapping: { provider: 'work', username: 'ci' } });
    expect(lookupHost(path, 'registry.example.com')).toBeUndefined();
    expect(mappingTokenParams({ provider: 'work', scope: 'read' }, 'docker', 'registry r')).toEqual({ provider: 'work', scope: 'read', client: 'docker', target: 'registry r' });
  });

  it.each([
    ['not json', /not valid JSON/],
    ['{"version":2,"hosts":{}}', /version/],
    ['{"version":1,"hosts":{"Upper.Example":{"provider":"p"}}}', /lower-case/],
    ['{"version":1,"hosts":{"a.example":{}}}', /no provider/],
    ['{"version":1,"hosts":{"a.example":{"provider":"p","scope":"bad\\"scope"}}}', /bad scope/],
    ['{"version":1,"hosts":{"a.example":{"provider":"p","extra":1}}}', /unknown field/],
  ])('a broken file (%s) is config_invalid naming the file, and is left as it was', async (text, why) => {
    await writeFile(path, text);
    expect(() => readHostMap(path)).toThrow(why);
    expect(() => readHostMap(path)).toThrow(expect.objectContaining({ code: 'config_invalid', message: expect.stringContaining(path) }));
    expect(await readFile(path, 'utf8')).toBe(text);
  });

  it.runIf(process.platform !== 'win32')('never writes through a symlink planted at the temp name it used to use, or at hosts.json', async () => {
    // Regression: the write opened `<path>.<pid>.tmp` with 'w', following whatever was there.
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, `${path}.${process.pid}.tmp`);
    await writeHostMap(path, { 'git.example.com': { provider: 'work' } });
    await symlink(victim, join(dir, 'linked.json'));
    await writeHostMap(join(dir, 'linked.json'), { 'git.example.com': { provider: 'work' } });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect(readHostMap(path)['git.example.com']).toEqual({ provider: 'work' });
  });

  it('does not let a host named __proto__ reach the prototype', () => {
    const map = parseHostMap(JSON.parse('{"version":1,"hosts":{"a.example":{"provider":"p"}}}'), 'x');
    expect(map['__proto__' as string]).toBeUndefined();
    expect(() => parseHostMap(JSON.parse('{"version":1,"hosts":{"__proto__":{"provider":"p"}}}'), 'x')).toThrow(/lower-case host/);
  });
});
