/**
 * kill -9 during writes: a child process writes the vault in a tight loop and
 * is SIGKILLed at random moments. After every kill the vault must open, and its
 * counter must be a value the writer committed: never broken, never going back.
 * Odd rounds let the journal grow only 2 KiB, so kills also land in the middle
 * of folding it into the vault file, not only in appends.
 */
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PassphraseKeySource, readPassphraseFile } from './passphrase-key-source.js';
import { tempDir } from '../testing/test-home.js';
import { Vault } from './vault.js';

const FIXTURE = fileURLToPath(new URL('../testing/vault-writer-fixture.ts', import.meta.url));
const ROUNDS = 15;
const MAX_WRITES_PER_ROUND = 20_000;

interface Round {
  ready: number;
  lastCommitted: number | undefined;
}

/** Runs the writer until it has opened the vault, lets it write for a random while, then SIGKILLs it. */
function writeThenKill(vaultPath: string, passFile: string, killAfterMs: number, compactAfterBytes?: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const args = [FIXTURE, vaultPath, passFile, String(MAX_WRITES_PER_ROUND), ...(compactAfterBytes ? [String(compactAfterBytes)] : [])];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ready: number | undefined;
    let lastCommitted: number | undefined;
    let buffered = '';
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [what, n] = line.split(' ');
        if (what === 'committed') lastCommitted = Number(n);
        if (what === 'ready' && ready === undefined) {
          ready = Number(n);
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (ready === undefined) reject(new Error(`writer never opened the vault (exit ${code ?? signal}): ${stderr}`));
      else resolve({ ready, lastCommitted });
    });
  });
}

describe('vault under kill -9', () => {
  it(`survives ${ROUNDS} SIGKILLs at random moments during writes`, { timeout: 180_000 }, async () => {
    const dir = await tempDir();
    const vaultPath = join(dir, 'vault.json');
    const passFile = join(dir, 'passphrase');
    await writeFile(passFile, 'crash test passphrase\n', { mode: 0o600 });
    const open = () =>
      Vault.open({
        path: vaultPath,
        keySource: new PassphraseKeySource(() => readPassphraseFile(passFile)),
        initial: () => ({ counter: 0, filler: '' }),
        parse: (raw) => z.object({ counter: z.number().int(), filler: z.string() }).parse(raw),
      });

    let previous = 0;
    let tempFilesSeen = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { ready, lastCommitted } = await writeThenKill(vaultPath, passFile, Math.floor(Math.random() * 150), round % 2 === 1 ? 2048 : undefined);
      tempFilesSeen += (await readdir(dir)).filter((n) => n.includes('.tmp-')).length;

      const counter = (await open()).read().counter;
      const committed = lastCommitted ?? ready;
      // The write after the last reported one may have reached the rename before the kill.
      expect(counter, `round ${round}`).toBeGreaterThanOrEqual(committed);
      expect(counter, `round ${round}`).toBeLessThanOrEqual(committed + 1);
      expect(counter).toBeGreaterThanOrEqual(previous);
      expect(ready).toBe(previous);
      previous = counter;

      expect((await readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('.broken-'))).toEqual([]);
    }
    expect(previous).toBeGreaterThan(0);
    console.info(`kill -9: ${ROUNDS} rounds, final counter ${previous}, ${tempFilesSeen} interrupted temp files cleaned up`);
  });
});
