/**
 * Child process for the crash test: opens a passphrase vault and increments
 * its counter in a tight loop, printing `committed <n>` after each write has
 * resolved. The parent kills it with SIGKILL at random moments.
 *
 * Usage: node --import tsx vault-writer-fixture.ts <vault> <passphrase-file> <max-writes> [<compact-after-bytes>]
 * (a small last argument makes most writes append to the journal and every
 * few of them rewrite the vault file, so kills land in both kinds of write).
 * Bounded: stops after <max-writes> writes or 20 s, whichever is first.
 */
import { writeSync } from 'node:fs';
import { z } from 'zod';
import { PassphraseKeySource, readPassphraseFile } from '../vault/passphrase-key-source.js';
import { Vault } from '../vault/vault.js';

const counterDoc = z.object({ counter: z.number().int().nonnegative(), filler: z.string() });

const [vaultPath, passphraseFile, maxWritesArg, compactAfterArg] = process.argv.slice(2);
if (!vaultPath || !passphraseFile || !maxWritesArg) throw new Error('usage: vault-writer-fixture <vault> <passphrase-file> <max-writes>');

const vault = await Vault.open({
  path: vaultPath,
  keySource: new PassphraseKeySource(() => readPassphraseFile(passphraseFile)),
  // Some bulk so a write takes long enough to be interrupted half-way.
  initial: () => ({ counter: 0, filler: 'x'.repeat(64 * 1024) }),
  parse: (raw) => counterDoc.parse(raw),
  ...(compactAfterArg ? { compactAfterBytes: Number(compactAfterArg) } : {}),
});
// writeSync: the line must be out before the next write starts, or the parent's view lags the disk.
writeSync(1, `ready ${vault.read().counter}\n`);
const deadline = Date.now() + 20_000;
for (let i = 0; i < Number(maxWritesArg) && Date.now() < deadline; i++) {
  const doc = await vault.update((d) => {
    d.counter += 1;
  });
  writeSync(1, `committed ${doc.counter}\n`);
}
