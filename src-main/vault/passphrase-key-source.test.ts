import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PassphraseKeySource, promptPassphrase, readPassphraseFile } from './passphrase-key-source.js';
import { tempDir } from '../testing/test-home.js';

const fixed = (passphrase: string) => new PassphraseKeySource(async () => passphrase);

describe('PassphraseKeySource', () => {
  it('re-derives the same key from the same passphrase and header params', async () => {
    const { key, params } = await fixed('correct horse').createKey();
    expect(key).toHaveLength(32);
    expect(params).toMatchObject({ kind: 'passphrase', kdf: 'scrypt', N: 2 ** 15, r: 8, p: 1 });
    expect(Buffer.from(params.salt as string, 'base64')).toHaveLength(16);
    expect(JSON.stringify(params)).not.toContain('correct horse');
    expect(await fixed('correct horse').loadKey(params)).toEqual(key);
    expect(await fixed('wrong horse').loadKey(params)).not.toEqual(key);
  });

  it('treats NFC and NFD spellings of a passphrase as the same', async () => {
    const { key, params } = await fixed('caf\u00e9').createKey();
    expect(await fixed('cafe\u0301').loadKey(params)).toEqual(key);
  });

  it('refuses an empty passphrase', async () => {
    await expect(fixed('').createKey()).rejects.toMatchObject({ code: 'usage' });
  });

  it('refuses header params an attacker could use to exhaust memory, or malformed ones', async () => {
    const { params } = await fixed('pw').createKey();
    for (const bad of [
      { ...params, N: 2 ** 24 },
      { ...params, N: 3 * 2 ** 14 },
      { ...params, r: 64 },
      { ...params, salt: 'AAAA' },
      { ...params, kdf: 'pbkdf2' },
    ]) {
      await expect(fixed('pw').loadKey(bad)).rejects.toMatchObject({ code: 'vault_corrupt' });
    }
  });
});

describe('readPassphraseFile', () => {
  it('strips exactly one trailing newline', async () => {
    const dir = await tempDir();
    const file = join(dir, 'pass');
    await writeFile(file, 'pass phrase \n\n', { mode: 0o600 });
    expect(await readPassphraseFile(file)).toBe('pass phrase \n');
    await writeFile(file, 'crlf\r\n', { mode: 0o600 });
    expect(await readPassphraseFile(file)).toBe('crlf');
  });

  it.runIf(process.platform !== 'win32')('refuses a file readable by group or others', async () => {
    const dir = await tempDir();
    const file = join(dir, 'pass');
    await writeFile(file, 'secret', { mode: 0o644 });
    await expect(readPassphraseFile(file)).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining(`chmod 600 ${file}`),
    });
  });

  it('refuses an empty or missing file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'pass');
    await writeFile(file, '\n', { mode: 0o600 });
    await expect(readPassphraseFile(file)).rejects.toMatchObject({ code: 'config_invalid' });
    await expect(readPassphraseFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'config_invalid' });
  });
});

describe('promptPassphrase', () => {
  function fakeTty() {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
    const output = new PassThrough();
    const shown: string[] = [];
    output.on('data', (c: Buffer) => shown.push(c.toString()));
    return { input, output, shown: () => shown.join('') };
  }

  it('reads without echo and asks twice to confirm', async () => {
    const tty = fakeTty();
    const answer = promptPassphrase('Passphrase: ', { confirm: true, input: tty.input, output: tty.output });
    tty.input.write('s3cret phrase\r');
    await new Promise((r) => setTimeout(r, 20));
    tty.input.write('s3cret phrase\r');
    expect(await answer).toBe('s3cret phrase');
    expect(tty.shown()).toContain('Passphrase: ');
    expect(tty.shown()).toContain('Repeat');
    expect(tty.shown()).not.toContain('s3cret');
  });

  it('fails when the confirmation differs, and on Ctrl-C', async () => {
    const tty = fakeTty();
    const mismatch = promptPassphrase('P: ', { confirm: true, input: tty.input, output: tty.output });
    tty.input.write('one\r');
    await new Promise((r) => setTimeout(r, 20));
    tty.input.write('two\r');
    await expect(mismatch).rejects.toMatchObject({ code: 'usage' });

    const cancelled = promptPassphrase('P: ', { input: tty.input, output: tty.output });
    tty.input.write('\x03');
    await expect(cancelled).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('refuses to prompt when stdin is not a terminal', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: false });
    await expect(promptPassphrase('P: ', { input })).rejects.toMatchObject({ code: 'usage' });
  });
});
