import { beforeEach, describe, expect, it } from 'vitest';
import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/test-home.js';
import { AuditLog } from './audit-log.js';
import type { AuditEntry } from './vault-document.js';

const key = Buffer.from(AuditLog.newKey(), 'base64url');
const entry = (i: number): AuditEntry => ({ at: 1_700_000_000_000 + i, appId: 'com.example.secretive', account: 'work-0123456789', scope: 'api:read', event: 'token_issued', detail: `#${i}` });

describe('audit log file', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await tempDir('lk-audit-');
    path = join(dir, 'audit.log');
  });

  it('appends encrypted, chained lines (0600) and reads them back after a restart', async () => {
    const log = await AuditLog.open(path, key);
    await log.append([entry(1), entry(2)]);
    await log.append([entry(3)]);
    const text = await readFile(path, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(3);
    expect(text).not.toContain('com.example.secretive');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = await AuditLog.open(path, key);
    expect(again.read().map((e) => e.detail)).toEqual(['#1', '#2', '#3']);
    expect(again.integrity()).toEqual({ intact: true });
  });

  it('detects an edited, a removed and a reordered entry, keeps what came before, and says where', async () => {
    const log = await AuditLog.open(path, key);
    await log.append([1, 2, 3, 4].map(entry));
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    const cases: Array<[string, string[], number]> = [
      ['edited', [lines[0]!, `${lines[1]!.slice(0, 20)}${lines[1]![20] === 'A' ? 'B' : 'A'}${lines[1]!.slice(21)}`, lines[2]!, lines[3]!], 2],
      ['removed', [lines[0]!, lines[2]!, lines[3]!], 2],
      ['reordered', [lines[0]!, lines[2]!, lines[1]!, lines[3]!], 2],
      ['foreign key', lines, 1],
    ];
    for (const [what, tampered, line] of cases) {
      await writeFile(path, `${tampered.join('\n')}\n`);
      const opened = await AuditLog.open(path, what === 'foreign key' ? Buffer.alloc(32, 7) : key);
      expect(opened.integrity(), what).toEqual({ intact: false, brokenAtLine: line });
      expect(opened.read().map((e) => e.detail), what).toEqual(line === 2 ? ['#1'] : []);
    }
  });

  it('verifies when first read or appended to, not at open; tampering is told once, then', async () => {
    const log = await AuditLog.open(path, key);
    await log.append([1, 2, 3].map(entry));
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    await writeFile(path, `${[lines[0], lines[2]].join('\n')}\n`);
    const told: unknown[] = [];
    const opened = await AuditLog.open(path, key, { onBroken: (state) => told.push(state) });
    expect(told).toEqual([]);
    expect(opened.read().map((e) => e.detail)).toEqual(['#1']);
    expect(told).toEqual([{ intact: false, brokenAtLine: 2 }]);
    expect(opened.integrity()).toEqual({ intact: false, brokenAtLine: 2 });
    expect(told).toHaveLength(1);

    // Appending to a log nobody read yet: the file's entries come first, and the new one chains from the file's last line.
    await writeFile(path, `${lines.join('\n')}\n`);
    const unread = await AuditLog.open(path, key);
    await unread.append([entry(4)]);
    expect(unread.read().map((e) => e.detail)).toEqual(['#1', '#2', '#3', '#4']);
    const again = await AuditLog.open(path, key);
    expect(again.integrity()).toEqual({ intact: true });
    expect(again.read().map((e) => e.detail)).toEqual(['#1', '#2', '#3', '#4']);
  });

  it('stays bounded: compacts to the newest entries on a fresh, valid chain', async () => {
    const log = await AuditLog.open(path, key, { maxEntries: 10 });
    for (let i = 0; i < 45; i++) await log.append([entry(i)]);
    const lines = (await readFile(path, 'utf8')).trim().split('\n').length;
    expect(lines).toBeLessThan(20);
    const again = await AuditLog.open(path, key, { maxEntries: 10 });
    expect(again.integrity()).toEqual({ intact: true });
    expect(again.read().at(-1)!.detail).toBe('#44');
    expect(again.read().length).toBeLessThanOrEqual(20);
  });

  it.runIf(process.platform !== 'win32')('compaction never writes through a symlink planted at the temp name it used to use', async () => {
    // Regression: the rewrite opened `<path>.<pid>.tmp` with 'w', following whatever was there.
    const victim = join(dir, 'victim');
    await writeFile(victim, 'precious');
    await symlink(victim, `${path}.${process.pid}.tmp`);
    const log = await AuditLog.open(path, key, { maxEntries: 2 });
    for (let i = 0; i < 6; i++) await log.append([entry(i)]);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await AuditLog.open(path, key, { maxEntries: 2 })).integrity()).toEqual({ intact: true });
  });

  it('concurrent appends keep the chain in call order', async () => {
    const log = await AuditLog.open(path, key);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append([entry(i)])));
    const again = await AuditLog.open(path, key);
    expect(again.integrity().intact).toBe(true);
    expect(again.read().map((e) => e.detail)).toEqual(Array.from({ length: 50 }, (_, i) => `#${i}`));
  });
});
