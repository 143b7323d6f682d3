import { chmod, mkdir, readdir, readFile, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../log/logger.js';
import type { KeySource } from './key-source.js';
import { keySourceResolver, type KeySourceSelection } from './key-source-select.js';
import { KeyringKeySource } from './keyring-key-source.js';
import { PassphraseKeySource } from './passphrase-key-source.js';
import { tempDir } from '../testing/test-home.js';
import { journalPathFor, resetVault, Vault } from './vault.js';
import { decryptEnvelope, encryptEnvelope, envelopeHeader, parseEnvelope, serializeEnvelope, type Envelope } from './envelope.js';

const docSchema = z.object({
  counter: z.number().int(),
  accounts: z.array(z.object({ id: z.string(), access_token: z.string() })),
});
type Doc = z.infer<typeof docSchema>;

const MARKER = 'AT-SECRET-MARKER';
const posix = process.platform !== 'win32';
const passphrase = (pw = 'correct horse battery staple') => new PassphraseKeySource(async () => pw);

async function openVault(path: string, keySource: KeySource = passphrase(), parse = (raw: unknown) => docSchema.parse(raw)) {
  return Vault.open<Doc>({ path, keySource, initial: () => ({ counter: 0, accounts: [] }), parse });
}

async function newVault() {
  const dir = await tempDir();
  const path = join(dir, 'home', 'vault.json');
  const vault = await openVault(path);
  await vault.update((d) => {
    d.accounts.push({ id: 'alice', access_token: MARKER });
  });
  return { dir, path, vault };
}

async function brokenCopies(path: string): Promise<string[]> {
  const dir = join(path, '..');
  return (await readdir(dir)).filter((n) => n.startsWith('vault.json.broken-')).map((n) => join(dir, n));
}

/** The marker as it would appear base64-encoded at any byte alignment (edges trimmed). */
function base64Forms(text: string): string[] {
  return [0, 1, 2].map((pad) => Buffer.from('\0'.repeat(pad) + text).toString('base64').slice(4, -4));
}

describe('Vault', () => {
  it('round-trips through a fresh instance and never writes plaintext or logs it', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }),
    });
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    const vault = await Vault.open<Doc>({
      path,
      keySource: passphrase(),
      initial: () => ({ counter: 0, accounts: [] }),
      parse: (raw) => docSchema.parse(raw),
      logger,
    });
    await vault.update((d) => ({ ...d, accounts: [{ id: 'alice', access_token: MARKER }] }));

    const reopened = await openVault(path);
    expect(reopened.read()).toEqual({ counter: 0, accounts: [{ id: 'alice', access_token: MARKER }] });
    expect(reopened.revision).toBe(2);
    expect(reopened.keySourceKind).toBe('passphrase');

    const raw = await readFile(path, 'utf8');
    expect(raw).not.toContain(MARKER);
    expect(raw).not.toContain('alice');
    for (const form of base64Forms(MARKER)) expect(raw).not.toContain(form);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(MARKER);
  });

  it('hands out a frozen document: changes go through update()', async () => {
    const { vault } = await newVault();
    expect(() => {
      (vault.read().accounts as Doc['accounts']).push({ id: 'mallory', access_token: 'x' });
    }).toThrow(TypeError);
  });

  it('freezes every level itself: what an update added, and what a journal replay at open built', async () => {
    const { path, vault } = await newVault(); // alice came in by an update: a journal record
    const reopened = await openVault(path);
    for (const doc of [vault.read(), reopened.read()]) {
      expect(doc.accounts[0]).toEqual({ id: 'alice', access_token: MARKER });
      expect([doc, doc.accounts, doc.accounts[0]].every((o) => Object.isFrozen(o))).toBe(true);
    }
  });

  it.runIf(posix)('writes the file 0600 in a 0700 directory, tightening a 0755 one', async () => {
    const { path, dir } = await newVault();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'home'))).mode & 0o777).toBe(0o700);

    await chmod(join(dir, 'home'), 0o755);
    await openVault(path);
    expect((await stat(join(dir, 'home'))).mode & 0o777).toBe(0o700);
  });

  it('runs 200 concurrent updates one after another', async () => {
    const { path, vault } = await newVault();
    const seen = await Promise.all(
      Array.from({ length: 200 }, () =>
        vault.update(async (d) => {
          const before = d.counter;
          await new Promise((r) => setImmediate(r)); // invite interleaving
          d.counter = before + 1;
        }),
      ),
    );
    expect(seen.map((d) => d.counter)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(vault.read().counter).toBe(200);
    expect((await openVault(path)).read().counter).toBe(200);
  });

  it('keeps the old state when a write fails, and keeps going afterwards', async () => {
    const { path } = await newVault();
    const vault = await openVault(path); // its journal is not open yet
    const journal = journalPathFor(path);
    await rm(journal, { force: true });
    await mkdir(journal); // appending to the journal now fails
    await expect(vault.update((d) => void (d.counter = 1))).rejects.toMatchObject({ code: 'storage_error' });
    expect(vault.read().counter).toBe(0);
    // After a failed append the next update rewrites the vault file: make that fail too.
    await unlink(path);
    await mkdir(path);
    await expect(vault.update((d) => void (d.counter = 2))).rejects.toMatchObject({ code: 'storage_error' });
    expect(vault.read().counter).toBe(0);

    await rmdir(path);
    await rmdir(journal);
    await expect(vault.update((d) => void (d.counter += 5))).resolves.toMatchObject({ counter: 5 });
    expect((await openVault(path)).read()).toEqual({ counter: 5, accounts: [{ id: 'alice', access_token: MARKER }] });
  });

  it('does not write when the mutator throws or produces an invalid document', async () => {
    const { path, vault } = await newVault();
    const before = await readFile(path);
    await expect(vault.update(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(vault.update(() => ({ counter: 'nope' }) as unknown as Doc)).rejects.toMatchObject({ code: 'internal' });
    expect(await readFile(path)).toEqual(before);
    expect(vault.read().counter).toBe(0);
  });

  describe('a vault that cannot be opened is never overwritten', () => {
    it('wrong passphrase: vault_locked, file untouched and no broken copy, however often it is retried', async () => {
      // Regression: the key check was not consulted, so a typo left a vault.json.broken-<time> copy that read as damage.
      const { path } = await newVault();
      const before = await readFile(path);
      for (let i = 0; i < 3; i++) {
        const err = await openVault(path, passphrase('wrong')).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'vault_locked' });
        const message = (err as Error).message;
        expect(message).toContain('Could not unlock the vault: wrong passphrase.');
        expect(message).not.toContain('vault reset');
      }
      expect(await readFile(path)).toEqual(before);
      expect(await brokenCopies(path)).toEqual([]);
      // The right passphrase still opens it.
      expect((await openVault(path)).read().accounts[0]?.id).toBe('alice');
    });

    it('a vault written before the key check: wrong passphrase is ambiguous (copy kept); the next write adds the check', async () => {
      const { path } = await newVault();
      const legacy = editJson(await readFile(path), (e) => ({ ...e, key: Object.fromEntries(Object.entries(e.key as object).filter(([k]) => k !== 'check')) }));
      // Re-encrypt without the check, as an older Latchkey wrote it: only the AAD changes, so decrypt and encrypt again.
      const key = await new PassphraseKeySource(async () => 'correct horse battery staple').loadKey(JSON.parse(legacy.toString()).key);
      const plain = decryptEnvelope(parseEnvelope(await readFile(path)), key);
      const header = JSON.parse(legacy.toString()) as Envelope;
      await writeFile(path, serializeEnvelope(encryptEnvelope(plain, key, envelopeHeader(header.key, header.revision))));
      // An older Latchkey kept no journal either (this one's records are chained to the file it replaced).
      await rm(journalPathFor(path), { force: true });
      await expect(openVault(path, passphrase('wrong'))).rejects.toMatchObject({ code: 'vault_locked', message: expect.stringContaining('or the vault file was altered') });
      expect(await brokenCopies(path)).toHaveLength(1);
      const vault = await openVault(path);
      await vault.update((d) => void (d.counter = 1));
      expect(parseEnvelope(await readFile(path)).key.check).toEqual(expect.any(String));
      const before = await readFile(path);
      await expect(openVault(path, passphrase('wrong'))).rejects.toMatchObject({ code: 'vault_locked' });
      expect(await readFile(path)).toEqual(before);
      expect(await brokenCopies(path)).toHaveLength(1);
    });

    it('a changed kdf salt or key check is indistinguishable from a wrong passphrase: vault_locked, file untouched, no copy', async () => {
      for (const edit of [
        (k: object) => ({ ...k, salt: Buffer.alloc(16, 7).toString('base64') }),
        (k: object) => ({ ...k, check: Buffer.alloc(16, 7).toString('base64') }),
      ]) {
        const { path } = await newVault();
        const damaged = editJson(await readFile(path), (e) => ({ ...e, key: edit(e.key as object) }));
        await writeFile(path, damaged);
        await expect(openVault(path)).rejects.toMatchObject({ code: 'vault_locked' });
        expect(await readFile(path)).toEqual(damaged);
        expect(await brokenCopies(path)).toEqual([]);
      }
    });

    const tamperings: Array<[string, (raw: Buffer) => Buffer, string]> = [
      ['a flipped ciphertext byte', (raw) => editJson(raw, (e) => ({ ...e, ciphertext: flipFirst(e.ciphertext as string) })), 'vault_corrupt'],
      ['a flipped auth tag', (raw) => editJson(raw, (e) => ({ ...e, tag: flipFirst(e.tag as string) })), 'vault_corrupt'],
      // The file's own revision stays put while updates go to the journal: +1 is a change, whatever was written.
      ['a changed revision number', (raw) => editJson(raw, (e) => ({ ...e, revision: (e.revision as number) + 1 })), 'vault_corrupt'],
      ['an absurd scrypt cost', (raw) => editJson(raw, (e) => ({ ...e, key: { ...(e.key as object), N: 2 ** 30 } })), 'vault_corrupt'],
      ['a truncated file', (raw) => raw.subarray(0, Math.floor(raw.length / 2)), 'vault_corrupt'],
      ['non-JSON garbage', () => Buffer.from('\x00\x01garbage\xff'), 'vault_corrupt'],
      ['an empty file', () => Buffer.alloc(0), 'vault_corrupt'],
    ];
    it.each(tamperings)('%s: typed error, file byte-identical, copy kept', async (_name, tamper, code) => {
      const { path } = await newVault();
      const damaged = tamper(await readFile(path));
      await writeFile(path, damaged);
      const err = await openVault(path).catch((e: unknown) => e);
      expect(err).toMatchObject({ code });
      expect(await readFile(path)).toEqual(damaged);
      const copies = await brokenCopies(path);
      expect(copies).toHaveLength(1);
      expect(await readFile(copies[0]!)).toEqual(damaged);
      expect((err as Error).message).toContain(copies[0]!);
    });

    it('contents that fail the caller’s schema: vault_corrupt, copy kept', async () => {
      const { path } = await newVault();
      const strict = (raw: unknown) => docSchema.extend({ version: z.literal(2) }).parse(raw);
      await expect(openVault(path, passphrase(), strict)).rejects.toMatchObject({ code: 'vault_corrupt' });
      expect(await brokenCopies(path)).toHaveLength(1);
    });

    it('a key source of the wrong kind is the source’s problem, not the file’s: no copy', async () => {
      const { path } = await newVault();
      await expect(openVault(path, new KeyringKeySource({ service: 'latchkey-test' }))).rejects.toMatchObject({
        code: 'key_source_unavailable',
      });
      expect(await brokenCopies(path)).toHaveLength(0);
    });
  });

  describe('opened through keySourceFor (environment for new vaults, header for existing ones)', () => {
    const open = (path: string, selection: KeySourceSelection) =>
      Vault.open<Doc>({
        path,
        keySourceFor: keySourceResolver(selection),
        initial: () => ({ counter: 0, accounts: [] }),
        parse: (raw) => docSchema.parse(raw),
      });

    it("uses the header's passphrase source even when the environment asks for the keyring", async () => {
      const dir = await tempDir();
      const path = join(dir, 'vault.json');
      const passFile = join(dir, 'pass');
      await writeFile(passFile, 'pw from file\n', { mode: 0o600 });
      const created = await open(path, { env: { LATCHKEY_PASSPHRASE_FILE: passFile }, interactive: false });
      expect(created.keySourceKind).toBe('passphrase');
      await created.update((d) => void (d.counter = 7));

      const reopened = await open(path, { env: { LATCHKEY_KEY_SOURCE: 'keyring' }, promptPassphrase: async () => 'pw from file' });
      expect(reopened.keySourceKind).toBe('passphrase');
      expect(reopened.read().counter).toBe(7);
    });

    it('says how to supply the passphrase when there is no file and no terminal, and keeps no copy', async () => {
      const { path } = await newVault();
      await expect(open(path, { env: {}, interactive: false })).rejects.toMatchObject({
        code: 'key_source_unavailable',
        message: expect.stringContaining('LATCHKEY_PASSPHRASE_FILE'),
      });
      expect(await brokenCopies(path)).toHaveLength(0);
    });
  });

  it('removes temp files left by a killed writer when opening', async () => {
    const { path } = await newVault();
    const stale = `${path}.tmp-999999999-deadbeef`;
    await writeFile(stale, '{"format":"latch');
    expect((await openVault(path)).read().accounts).toHaveLength(1);
    await expect(stat(stale)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('resetVault moves the file aside so the next open starts fresh', async () => {
    const { path } = await newVault();
    const before = await readFile(path);
    const { movedTo, keyDeleted } = await resetVault(path, passphrase(), { now: () => new Date('2025-03-01T00:00:00Z') });
    expect(movedTo).toBe(`${path}.broken-2025-03-01T00-00-00-000Z`);
    expect(keyDeleted).toBe(false); // a passphrase has nothing to forget
    expect(await readFile(movedTo!)).toEqual(before);
    expect((await openVault(path, passphrase('a new one'))).read()).toEqual({ counter: 0, accounts: [] });
    expect(await resetVault(join(path, '..', 'missing.json'))).toEqual({ movedTo: undefined, keyDeleted: false });
  });
});

describe('Vault journal (one record per update, folded into the file when it grows)', () => {
  const CHECKED = 'AT-SECRET-IN-JOURNAL';

  /** A vault file at revision 1 and a journal with `n` records (revisions 2..n+1). */
  async function withJournal(n: number, options: { compactAfterBytes?: number } = {}) {
    const dir = await tempDir();
    const path = join(dir, 'vault.json');
    const open = () =>
      Vault.open<Doc>({ path, keySource: passphrase(), initial: () => ({ counter: 0, accounts: [] }), parse: (raw) => docSchema.parse(raw), ...options });
    const vault = await open();
    for (let i = 0; i < n; i++) await vault.update((d) => void (d.counter += 1, d.accounts.push({ id: `a${i}`, access_token: CHECKED })));
    return { path, journal: journalPathFor(path), open };
  }

  const lines = async (journal: string) => (await readFile(journal, 'utf8')).split('\n').filter(Boolean);
  const writeLines = (journal: string, ls: string[]) => writeFile(journal, ls.map((l) => `${l}\n`).join(''));

  it('an update appends one encrypted record and leaves the vault file alone; reopening replays it', async () => {
    const { path, journal, open } = await withJournal(0);
    const file = await readFile(path);
    const vault = await open();
    await vault.update((d) => void d.accounts.push({ id: 'alice', access_token: CHECKED }));
    await vault.update((d) => void (d.counter = 9));
    expect(await readFile(path)).toEqual(file);
    expect(await lines(journal)).toHaveLength(2);
    const raw = await readFile(journal, 'utf8');
    for (const form of [CHECKED, 'alice', ...base64Forms(CHECKED)]) expect(raw).not.toContain(form);
    const reopened = await open();
    expect(reopened.read()).toEqual({ counter: 9, accounts: [{ id: 'alice', access_token: CHECKED }] });
    expect(reopened.revision).toBe(3);
    expect((await stat(journal)).mode & 0o777).toBe(0o600);
  });

  it('close() waits for pending updates; a later update opens the journal again', async () => {
    const { open } = await withJournal(0);
    const vault = await open();
    const pending = vault.update((d) => void (d.counter = 1));
    await vault.close();
    await expect(pending).resolves.toMatchObject({ counter: 1 });
    await vault.update((d) => void (d.counter = 2));
    await vault.close();
    expect((await open()).read().counter).toBe(2);
  });

  it('an update that changes nothing writes nothing', async () => {
    const { journal, open } = await withJournal(1);
    const vault = await open();
    const before = await readFile(journal);
    await vault.update(() => undefined);
    expect(await readFile(journal)).toEqual(before);
    expect(vault.revision).toBe(2);
  });

  it('folds the journal into the vault file once it outgrows its limit', async () => {
    const { path, journal, open } = await withJournal(12, { compactAfterBytes: 1500 });
    expect((await readFile(journal)).length).toBeLessThanOrEqual(1500);
    const vault = await open();
    expect(vault.read().counter).toBe(12);
    expect(vault.revision).toBe(13);
    expect(JSON.parse(await readFile(path, 'utf8')).revision).toBeGreaterThan(1);
  });

  it('a journal left by an interrupted fold (all of it already in the file) is ignored, then cut', async () => {
    const { journal, open } = await withJournal(3);
    const old = await readFile(journal);
    // Fold by replacing the document: that rewrites the file at revision 5 and empties the journal.
    await (await open()).update((d) => ({ ...d, counter: 100 }));
    expect((await readFile(journal)).length).toBe(0);
    await writeFile(journal, old); // as if the fold had stopped before emptying it
    const vault = await open();
    expect(vault.read().counter).toBe(100);
    await vault.update((d) => void (d.counter += 1));
    expect((await open()).read().counter).toBe(101);
  });

  it('a last record cut off by a crash (no newline: never acknowledged) is dropped; the next update rewrites', async () => {
    const { journal, open } = await withJournal(3);
    const raw = await readFile(journal);
    await writeFile(journal, raw.subarray(0, raw.length - 20));
    const vault = await open();
    expect(vault.read().counter).toBe(2);
    await vault.update((d) => void (d.counter = 50));
    expect((await open()).read().counter).toBe(50);
  });

  const tamperings: Array<[string, (ls: string[]) => string[]]> = [
    ['an edited record', (ls) => ls.map((l, i) => (i === 1 ? l.slice(0, -6) + (l.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA') : l))],
    ['two records swapped', (ls) => [ls[0]!, ls[2]!, ls[1]!]],
    ['swapped records with their revisions swapped back', (ls) => [ls[0]!, ls[2]!.replace(/^\d+/, '3'), ls[1]!.replace(/^\d+/, '4')]],
    ['a record removed from the middle', (ls) => [ls[0]!, ls[2]!]],
    ['a record cut short in the middle', (ls) => [ls[0]!, ls[1]!.slice(0, 40), ls[2]!]],
    ['a record repeated', (ls) => [ls[0]!, ls[0]!.replace(/^\d+/, '3'), ls[1]!.replace(/^\d+/, '4')]],
    ['a line that is not a record', (ls) => [ls[0]!, 'hello', ls[1]!]],
  ];
  it.each(tamperings)('%s: vault_corrupt, nothing overwritten, copies kept', async (_name, tamper) => {
    const { path, journal, open } = await withJournal(3);
    const damaged = tamper(await lines(journal));
    await writeLines(journal, damaged);
    const before = { file: await readFile(path), journal: await readFile(journal) };
    await expect(open()).rejects.toMatchObject({ code: 'vault_corrupt', message: expect.stringContaining('journal') });
    expect(await readFile(path)).toEqual(before.file);
    expect(await readFile(journal)).toEqual(before.journal);
    const copies = (await readdir(join(path, '..'))).filter((n) => n.startsWith('vault.json.journal.broken-'));
    expect(copies).toHaveLength(1);
  });

  it("another vault's journal (same key) is rejected: records chain from their own vault file", async () => {
    const a = await withJournal(2);
    const b = await withJournal(2);
    await writeFile(b.journal, await readFile(a.journal));
    await expect(b.open()).rejects.toMatchObject({ code: 'vault_corrupt' });
  });

  it('resetVault moves the journal aside with the file', async () => {
    const { path, journal, open } = await withJournal(2);
    await resetVault(path, passphrase());
    await expect(stat(journal)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await open()).read()).toEqual({ counter: 0, accounts: [] });
  });
});

describe('Vault rulesId (a file written under the same rules is not parsed again)', () => {
  const strict = z.object({ counter: z.number().int(), accounts: z.array(z.object({ id: z.string(), access_token: z.string() })) });
  const lax = strict.extend({ counter: z.number() });
  const refuse = (): Doc => {
    throw new Error('parse ran');
  };
  const strictCheck = (doc: Doc) => void strict.parse(doc);

  async function vaultAt(options: { rulesId?: string; parse?: (raw: unknown) => Doc; checkChanged?: (doc: Doc) => void } = {}, path?: string) {
    const at = path ?? join(await tempDir(), 'vault.json');
    const vault = await Vault.open<Doc>({
      path: at,
      keySource: passphrase(),
      initial: () => ({ counter: 0, accounts: [] }),
      parse: options.parse ?? ((raw) => strict.parse(raw)),
      ...(options.checkChanged ? { checkChanged: options.checkChanged } : {}),
      ...(options.rulesId ? { rulesId: options.rulesId } : {}),
    });
    return { path: at, vault };
  }

  it('reads back what it wrote under the same rules without parse, and hands out only the document', async () => {
    const { path, vault } = await vaultAt({ rulesId: 'rules-1' });
    await vault.update(() => ({ counter: 1, accounts: [{ id: 'alice', access_token: 'at' }] }));
    const reopened = (await vaultAt({ rulesId: 'rules-1', parse: refuse }, path)).vault;
    expect(reopened.read()).toEqual({ counter: 1, accounts: [{ id: 'alice', access_token: 'at' }] });
    expect(Object.isFrozen(reopened.read().accounts[0])).toBe(true);
  });

  it('parses in full a file written under other rules, or by a build without rules (then rewrites it under these)', async () => {
    const other = await vaultAt({ rulesId: 'rules-1' });
    await other.vault.update((d) => void (d.counter = 1));
    await expect(vaultAt({ rulesId: 'rules-2', parse: refuse }, other.path)).rejects.toMatchObject({ code: 'vault_corrupt' });

    const older = await vaultAt();
    await older.vault.update((d) => void d.accounts.push({ id: 'alice', access_token: 'at' }));
    await expect(vaultAt({ rulesId: 'rules-1', parse: refuse }, older.path)).rejects.toMatchObject({ code: 'vault_corrupt' });
    const before = await readFile(older.path);
    const upgraded = (await vaultAt({ rulesId: 'rules-1' }, older.path)).vault;
    // The first update rewrites the file under these rules instead of appending to the journal.
    await upgraded.update((d) => void (d.counter = 2));
    expect(await readFile(older.path)).not.toEqual(before);
    expect((await readFile(journalPathFor(older.path))).length).toBe(0);
    expect((await vaultAt({ rulesId: 'rules-1', parse: refuse }, older.path)).vault.read()).toEqual({ counter: 2, accounts: [{ id: 'alice', access_token: 'at' }] });
  });

  it('still checks journal records replayed onto a trusted file: an older build may have appended them', async () => {
    const { path, vault } = await vaultAt({ rulesId: 'rules-1' });
    await vault.update((d) => void d.accounts.push({ id: 'alice', access_token: 'at' }));
    // A valid record replays without a full parse.
    await vault.update((d) => void (d.accounts[0]!.access_token = 'at-2'));
    expect((await vaultAt({ rulesId: 'rules-1', parse: refuse, checkChanged: strictCheck }, path)).vault.read().accounts[0]!.access_token).toBe('at-2');
    // A build with looser rules (and no rules id) appends a record these rules refuse.
    const looser = (await vaultAt({ parse: (raw) => lax.parse(raw) }, path)).vault;
    await looser.update((d) => void (d.counter = 1.5));
    expect(await readFile(journalPathFor(path), 'utf8')).toMatch(/\n.+\n$/);
    await expect(vaultAt({ rulesId: 'rules-1', parse: refuse, checkChanged: strictCheck }, path)).rejects.toMatchObject({ code: 'vault_corrupt' });
    // Without checkChanged, the whole document is parsed.
    await expect(vaultAt({ rulesId: 'rules-1' }, path)).rejects.toMatchObject({ code: 'vault_corrupt' });
  });
});

function editJson(raw: Buffer, edit: (e: Record<string, unknown>) => Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(edit(JSON.parse(raw.toString('utf8')) as Record<string, unknown>), null, 2));
}

function flipFirst(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[0] = bytes[0]! ^ 0x01;
  return bytes.toString('base64');
}
