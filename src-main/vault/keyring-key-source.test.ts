/**
 * KeyringKeySource against a real Secret Service (run through scripts/test.sh,
 * which starts a throwaway gnome-keyring). Without one these tests skip and say
 * why; the "no Secret Service" behaviour is tested in a child process either way.
 */
import { AsyncEntry } from '@napi-rs/keyring';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { KeyParams } from './key-source.js';
import { KeyringKeySource, keyringAnswers } from './keyring-key-source.js';
import { probeKeyring } from '../testing/keyring-probe.js';
import { tempDir } from '../testing/test-home.js';
import { resetVault, Vault } from './vault.js';

const SERVICE = 'latchkey-test';
const MARKER = 'AT-SECRET-MARKER';
const probe = await probeKeyring();
if (!probe.ok) console.warn(`Skipping real-keyring tests: no usable Secret Service (${probe.reason}).`);

const docSchema = z.object({ tokens: z.record(z.string(), z.string()) });
const openVault = (path: string, keySource = new KeyringKeySource({ service: SERVICE })) =>
  Vault.open<z.infer<typeof docSchema>>({ path, keySource, initial: () => ({ tokens: {} }), parse: (raw) => docSchema.parse(raw) });

async function keyParamsOf(path: string): Promise<KeyParams> {
  return (JSON.parse(await readFile(path, 'utf8')) as { key: KeyParams }).key;
}

describe.skipIf(!probe.ok)('KeyringKeySource with a real Secret Service', () => {
  it('creates a vault whose key lives only in the keyring, and reopens it', async () => {
    const path = join(await tempDir(), 'vault.json');
    const vault = await openVault(path);
    await vault.update((d) => void (d.tokens.alice = MARKER));

    const params = await keyParamsOf(path);
    expect(params).toMatchObject({ kind: 'keyring', service: SERVICE, account: expect.stringMatching(/^vault-master-key:/) });
    const raw = await readFile(path, 'utf8');
    expect(raw).not.toContain(MARKER);
    const stored = await new AsyncEntry(SERVICE, params.account as string).getPassword();
    expect(stored && Buffer.from(stored, 'base64')).toHaveLength(32);
    expect(raw).not.toContain(stored);

    expect((await openVault(path)).read().tokens.alice).toBe(MARKER);
    expect((await resetVault(path, new KeyringKeySource({ service: SERVICE }))).keyDeleted).toBe(true);
  });

  it('reports a deleted keyring entry as key_source_unavailable, without touching the file', async () => {
    const path = join(await tempDir(), 'vault.json');
    await openVault(path);
    const before = await readFile(path);
    await new KeyringKeySource({ service: SERVICE }).deleteKey(await keyParamsOf(path));

    await expect(openVault(path)).rejects.toMatchObject({
      code: 'key_source_unavailable',
      message: expect.stringContaining('not in the OS keyring'),
    });
    expect(await readFile(path)).toEqual(before);
  });

  it('answers the CLI\'s "is there a keyring?" without storing anything', async () => {
    expect(await keyringAnswers({ service: SERVICE })).toBe(true);
    expect(await new AsyncEntry(SERVICE, 'vault-master-key:probe').getPassword()).toBeNull();
  });

  it('reports a keyring entry that holds another key as vault_corrupt', async () => {
    const path = join(await tempDir(), 'vault.json');
    await openVault(path);
    const params = await keyParamsOf(path);
    await new AsyncEntry(SERVICE, params.account as string).setPassword(Buffer.alloc(32, 1).toString('base64'));
    const before = await readFile(path);
    await expect(openVault(path)).rejects.toMatchObject({ code: 'vault_corrupt', message: expect.stringContaining("is not this vault's key") });
    // The key check tells it is the key, not the file: left as it was, and no broken copy beside it.
    expect(await readFile(path)).toEqual(before);
    expect((await readdir(join(path, '..'))).filter((n) => n.includes('.broken-'))).toEqual([]);
    await new KeyringKeySource({ service: SERVICE }).deleteKey(params);
  });
});

describe('KeyringKeySource without a Secret Service', () => {
  it('reports key_source_unavailable with what to do, instead of crashing', { timeout: 30_000 }, async () => {
    const fixture = fileURLToPath(new URL('../testing/keyring-fixture.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/latchkey-test-bus' },
      timeout: 25_000,
    });
    const { create, load, answers } = JSON.parse(stdout) as Record<string, { code?: string; message?: string }> & { answers: boolean };
    // What the CLI asks before it starts an agent: no keyring here, so it offers a passphrase instead.
    expect(answers).toBe(false);
    expect(create).toMatchObject({ code: 'key_source_unavailable', message: expect.stringContaining('LATCHKEY_PASSPHRASE_FILE') });
    expect(load).toMatchObject({ code: 'key_source_unavailable', message: expect.stringContaining('Unlock your keyring') });
  });
});
