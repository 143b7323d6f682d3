import { spawn, spawnSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../testing/test-home.js';
import { AppendFile, appendFileDurable, createFileExclusive, cutFile, readIfExists, removeStaleTempFiles, writeFileAtomic } from './file-safety.js';

const posix = process.platform !== 'win32';
const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('atomic replace', () => {
  it('replaces the file as 0600 by default and leaves no temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, Buffer.from('new'));
    expect(await readFile(path, 'utf8')).toBe('new');
    if (posix) expect(await modeOf(path)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['vault.json']);
  });

  it.runIf(posix)('creates the file with the mode asked for, durable or not', async () => {
    const dir = await tempDir();
    await writeFileAtomic(join(dir, 'entry.desktop'), 'x', { mode: 0o644 });
    expect(await modeOf(join(dir, 'entry.desktop'))).toBe(0o644 & ~process.umask());
    await writeFileAtomic(join(dir, 'owner-key'), 'x', { durable: false });
    expect(await modeOf(join(dir, 'owner-key'))).toBe(0o600);
  });

  it('reports a failed write as storage_error, cleans up its temp file and keeps what was there', async () => {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    await mkdir(path); // rename() cannot replace a directory with a file
    await expect(writeFileAtomic(path, Buffer.from('x'))).rejects.toMatchObject({ code: 'storage_error' });
    expect(await readdir(dir)).toEqual(['vault.json']);
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  it.runIf(posix)('replaces a symlink at the path instead of writing through it', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, join(dir, 'hosts.json'));
    await writeFileAtomic(join(dir, 'hosts.json'), 'new');
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(join(dir, 'hosts.json'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(dir, 'hosts.json'), 'utf8')).toBe('new');
  });

  it('leaves a reader either the old or the new content, never a mix, while writes keep landing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'doc');
    const versions = ['a', 'b'].map((c) => c.repeat(256 * 1024));
    await writeFileAtomic(path, versions[0]!, { durable: false });
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 40; i++) await writeFileAtomic(path, versions[i % 2]!, { durable: false });
      writing = false;
    })();
    const seen = new Set<string>();
    for (let reads = 0; writing && reads < 10_000; reads++) {
      const text = await readFile(path, 'utf8');
      expect(versions).toContain(text);
      seen.add(text[0]!);
    }
    await writer;
    expect(seen.size).toBeGreaterThan(0);
  });

  it('leaves the old or the new content when the writer is killed (SIGKILL) mid-write', async () => {
    const dir = await tempDir();
    const path = join(dir, 'doc');
    const old = 'o'.repeat(1024 * 1024);
    await writeFile(path, old);
    // A child that rewrites the file with 1 MiB of "n" over and over until it is killed.
    const script = `
      const { writeFileAtomic } = await import(${JSON.stringify(new URL('./file-safety.ts', import.meta.url).href)});
      process.stdout.write('go\\n');
      for (;;) await writeFileAtomic(${JSON.stringify(path)}, 'n'.repeat(1024 * 1024));`;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      await new Promise((r) => setTimeout(r, 30 + round * 40));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      const text = await readFile(path, 'utf8');
      expect(text === old || text === 'n'.repeat(1024 * 1024)).toBe(true);
    }
    await removeStaleTempFiles(path);
    expect(await readdir(dir)).toEqual(['doc']);
  });
});

describe('create-exclusive', () => {
  it('creates a 0600 file with its content, once', async () => {
    const dir = await tempDir();
    const path = join(dir, 'agent.lock');
    expect(await createFileExclusive(path, 'first')).toBe(true);
    expect(await createFileExclusive(path, 'second')).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('first');
    if (posix) expect(await modeOf(path)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['agent.lock']);
  });

  it.runIf(posix)('refuses a symlink at the path, even a dangling one, and writes nothing through it', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, join(dir, 'live-link'));
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling-link'));
    expect(await createFileExclusive(join(dir, 'live-link'), 'planted')).toBe(false);
    expect(await createFileExclusive(join(dir, 'dangling-link'), 'planted')).toBe(false);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect(await readIfExists(join(dir, 'nowhere'))).toBeUndefined();
    expect(await readlink(join(dir, 'dangling-link'))).toBe(join(dir, 'nowhere'));
  });

  it('reports a missing directory as storage_error', async () => {
    const dir = await tempDir();
    await expect(createFileExclusive(join(dir, 'missing', 'f'), 'x')).rejects.toMatchObject({ code: 'storage_error' });
  });

  it('lets exactly one of many racing creators win', async () => {
    const path = join(await tempDir(), 'agent.lock');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => createFileExclusive(path, `writer ${i}`, { durable: false })));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe(`writer ${results.indexOf(true)}`);
  });
});

describe('append and cut', () => {
  it('appends to a new 0600 file, then cuts it', async () => {
    const path = join(await tempDir(), 'vault.json.journal');
    const file = new AppendFile(path);
    await file.append('one\n');
    await file.append(Buffer.from('two\n'));
    expect(await readFile(path, 'utf8')).toBe('one\ntwo\n');
    if (posix) expect(await modeOf(path)).toBe(0o600);
    await file.close();
    await cutFile(path, 4);
    expect(await readFile(path, 'utf8')).toBe('one\n');
    await file.append('three\n');
    expect(await readFile(path, 'utf8')).toBe('one\nthree\n');
    await file.close();
  });

  it('appends once without keeping the file open, creating it 0600', async () => {
    const path = join(await tempDir(), 'audit.log');
    await appendFileDurable(path, 'a\n');
    await appendFileDurable(path, 'b\n');
    expect(await readFile(path, 'utf8')).toBe('a\nb\n');
    if (posix) expect(await modeOf(path)).toBe(0o600);
  });

  it.runIf(posix)('neither appends to nor cuts a file through a symlink at the path', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, join(dir, 'journal'));
    await expect(new AppendFile(join(dir, 'journal')).append('x')).rejects.toMatchObject({ code: 'storage_error' });
    await expect(appendFileDurable(join(dir, 'journal'), 'x')).rejects.toMatchObject({ code: 'storage_error' });
    await expect(cutFile(join(dir, 'journal'), 0)).rejects.toMatchObject({ code: 'storage_error' });
    expect(await readFile(victim, 'utf8')).toBe('precious');
  });

  it('cuts a missing file without complaint', async () => {
    await expect(cutFile(join(await tempDir(), 'none'), 0)).resolves.toBeUndefined();
  });

  it('reports a failed append as storage_error', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'journal'));
    await expect(new AppendFile(join(dir, 'journal')).append('x')).rejects.toMatchObject({ code: 'storage_error' });
  });
});

describe('temp files', () => {
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
});
