/**
 * The standard-library Python client in examples/python, as another language
 * would use the protocol: its pure-Python Ed25519 against RFC 8032 and Node,
 * its key file against the TypeScript SDK's, and the example program against
 * a real agent (real provider, real Chromium sign-in, scripted consent).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, silentLogger } from '../log/logger.js';
import type { RpcClient } from '../wire/rpc-client.js';
import { ScriptedPerson } from '../testing/scripted-person.js';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { keyFingerprint, loadOrCreateAppKey } from './app-key.js';
import { startBrokerHarness, type BrokerHarness } from '../testing/broker-harness.js';
import { suiteTempDir } from '../testing/test-home.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/python/latchkey_client.py', import.meta.url));

/** The absolute path of a `python3` on PATH that is 3.11 or later, or why there is none. */
function findPython(): { exe: string } | { missing: string } {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable if sys.version_info >= (3, 11) else "")'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return { missing: `python3 is not installed (${r.error?.message ?? r.stderr.trim()})` };
  const exe = r.stdout.trim();
  return exe ? { exe } : { missing: 'python3 is older than 3.11' };
}
const python = findPython();
if ('missing' in python) console.warn(`SKIP Python example tests: ${python.missing}`);
if ('exe' in python && !chromiumAvailable()) console.warn(`SKIP Python example against the agent: ${CHROMIUM_MISSING}`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the Python interpreter (resolved once: a pyenv shim would need the real $HOME). */
function runPython(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; onStdout?: (text: string) => void } = {}): Promise<Run> {
  const exe = 'exe' in python ? python.exe : 'python3';
  return new Promise((resolve, reject) => {
    // No .pyc files next to the example.
    const child = spawn(exe, args, { env: { ...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Runs `code` with the example importable as `lk`; stdin and stdout are JSON. */
async function pythonJson<T>(code: string, input: unknown): Promise<T> {
  const prelude = `import json, sys; sys.path.insert(0, ${JSON.stringify(dirname(EXAMPLE))}); import latchkey_client as lk; data = json.load(sys.stdin)\n`;
  const r = await runPython(['-c', prelude + code], { input: JSON.stringify(input) });
  if (r.code !== 0) throw new Error(`python failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe.skipIf(!('exe' in python))('the Python example client: Ed25519 and the key file', () => {
  const suiteDir = suiteTempDir('latchkey-python-');
  let dir: string;
  beforeAll(() => {
    dir = suiteDir();
  });

  it('signs the RFC 8032 §7.1 test vectors exactly', async () => {
    // [secret key (seed), public key, message, signature], hex, from RFC 8032 §7.1.
    const vectors = [
      ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '', 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
      ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72', '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
      ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82', '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
      // TEST SHA(abc): the message is SHA-512("abc").
      ['833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42', 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f', 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704'],
    ];
    const out = await pythonJson<string[][]>(
      'print(json.dumps([[lk.ed25519_public_key(bytes.fromhex(s)).hex(), lk.ed25519_sign(bytes.fromhex(s), bytes.fromhex(m)).hex()] for s, m in data]))',
      vectors.map(([seed, , message]) => [seed, message]),
    );
    expect(out).toEqual(vectors.map(([, publicKey, , signature]) => [publicKey, signature]));
  });

  it('makes signatures Node verifies, for random keys and the exact proof bytes of the protocol', async () => {
    const cases = Array.from({ length: 4 }, (_, i) => [randomBytes(32).toString('hex'), randomBytes(i * 40).toString('hex')]);
    const out = await pythonJson<string[][]>(
      'print(json.dumps([[lk.ed25519_public_key(bytes.fromhex(s)).hex(), lk.ed25519_sign(bytes.fromhex(s), bytes.fromhex(m)).hex()] for s, m in data]))',
      cases,
    );
    for (const [i, [publicKey, signature]] of out.entries()) {
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey!, 'hex').toString('base64url') }, format: 'jwk' });
      expect(verify(null, Buffer.from(cases[i]![1]!, 'hex'), key, Buffer.from(signature!, 'hex'))).toBe(true);
      // And not for another message.
      expect(verify(null, Buffer.from('tampered'), key, Buffer.from(signature!, 'hex'))).toBe(false);
    }
  });

  it('shares its key file format with the TypeScript SDK, both ways, and keeps it private', async () => {
    // Python makes the key; the SDK reads the same public key from it.
    const pyPath = join(dir, 'py-app', 'latchkey-app-key.json');
    const made = await pythonJson<{ public_key: string }>('seed = lk.load_or_create_key(data); print(json.dumps({"public_key": lk._b64url(lk.ed25519_public_key(seed))}))', pyPath);
    expect((await loadOrCreateAppKey(pyPath)).publicKey).toBe(made.public_key);
    expect((await stat(pyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(pyPath))).mode & 0o777).toBe(0o700);
    // Loading again gives the same key, not a new one.
    expect((await pythonJson<{ public_key: string }>('print(json.dumps({"public_key": lk._b64url(lk.ed25519_public_key(lk.load_or_create_key(data)))}))', pyPath)).public_key).toBe(made.public_key);

    // The SDK makes the key; Python reads it.
    const tsPath = join(dir, 'ts-app', 'key.json');
    const tsKey = await loadOrCreateAppKey(tsPath);
    const read = await pythonJson<{ public_key: string }>('print(json.dumps({"public_key": lk._b64url(lk.ed25519_public_key(lk.load_or_create_key(data)))}))', tsPath);
    expect(read.public_key).toBe(tsKey.publicKey);
  });

  it('refuses a key file others can read, a symlinked one, and one whose public key is not its own', async () => {
    const load = (path: string) =>
      pythonJson<{ code: string }>('try:\n    lk.load_or_create_key(data); print(json.dumps({"code": "ok"}))\nexcept lk.LatchkeyError as e:\n    print(json.dumps({"code": e.code}))', path);
    const path = join(dir, 'strict', 'key.json');
    await pythonJson('lk.load_or_create_key(data); print(1)', path);
    await chmod(path, 0o644);
    expect(await load(path)).toEqual({ code: 'config_invalid' });
    await chmod(path, 0o600);

    const link = join(dir, 'strict', 'link.json');
    await symlink(path, link);
    expect(await load(link)).toEqual({ code: 'config_invalid' });

    const swapped = join(dir, 'strict', 'swapped.json');
    const file = JSON.parse(await readFile(path, 'utf8')) as { public_key: string };
    file.public_key = (await loadOrCreateAppKey(join(dir, 'other', 'key.json'))).publicKey;
    await writeFile(swapped, JSON.stringify(file), { mode: 0o600 });
    expect(await load(swapped)).toEqual({ code: 'config_invalid' });
  });
});


describe.skipIf(!('exe' in python) || !chromiumAvailable())('the Python example program against a real agent', () => {
  let harness: BrokerHarness;
  let dir: string;
  let owner: RpcClient;
  /** The child's environment: the agent's LATCHKEY_HOME (so the default socket rule finds it) and a private HOME. */
  let childEnv: NodeJS.ProcessEnv;
  const person = new ScriptedPerson();
  const APP = 'com.example.py';

  /** The example program as a person would run it; the key goes to its default place under $HOME. */
  const example = (...args: string[]) => runPython([EXAMPLE, '--app-id', APP, '--scope', 'openid email', ...args], { env: childEnv });

  beforeAll(async () => {
    harness = await startBrokerHarness({
      prefix: 'latchkey-python-agent-',
      home: { homeName: 'latchkey' },
      logger: createLogger({ level: 'warn' }),
      providerLogger: silentLogger(),
      prompter: () => person,
      scope: 'openid profile email offline_access api:read',
    });
    ({ dir, owner } = harness);
    const { LATCHKEY_SOCKET: _socket, XDG_CONFIG_HOME: _config, ...inherited } = process.env;
    childEnv = { ...inherited, LATCHKEY_HOME: harness.env.LATCHKEY_HOME, HOME: join(dir, 'home') };
    await mkdir(join(dir, 'home'), { mode: 0o700 });
  });

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    person.answers = [];
  });

  it('asks once (with sign-in), then gets the token silently; another key under the same app id gets nothing; revoking ends it', async () => {
    // 1. Interactive: one prompt, answered "always"; the agent signs alice in through Chromium.
    person.answers = [{ decision: 'always' }];
    const first = await example('--interactive');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const token = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(token).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i), access_token: expect.any(String), id_token: expect.any(String) });
    expect(String(token.scope).split(' ').sort()).toEqual(['email', 'openid']);
    expect(token).not.toHaveProperty('refresh_token');
    expect(person.asked).toHaveLength(1);

    // The key was made in its default place, private, and is what the person was shown.
    const keyPath = join(dir, 'home', '.config', APP, 'latchkey-app-key.json');
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(keyPath))).mode & 0o777).toBe(0o700);
    const { public_key: publicKey } = JSON.parse(await readFile(keyPath, 'utf8')) as { public_key: string };
    const prompt = person.asked[0]!;
    expect(prompt.app).toMatchObject({ id: APP, name: 'Latchkey Python example', fingerprint: keyFingerprint(publicKey) });
    // Linux: the program on the other end is the interpreter (the script itself is not identified; see peer-process.ts).
    if (process.platform === 'linux') expect(prompt.app.exePath).toBe(realpathSync('exe' in python ? python.exe : ''));

    // 2. Non-interactive, new process: the remembered grant, no prompt, the cached token.
    const second = await example();
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    expect(JSON.parse(second.stdout)).toMatchObject({ access_token: token.access_token });
    expect(person.asked).toHaveLength(1);

    // 3. Same app id, another key (a different program that knows the name): nothing, and no prompt.
    const impostor = await example('--key', join(dir, 'impostor', 'key.json'));
    expect(impostor.code).toBe(3);
    expect(impostor.stdout).toBe('');
    expect(impostor.stderr).toMatch(/^latchkey: consent_required: /);
    expect(person.asked).toHaveLength(1);

    // 4. A subscribed Python client hears the revocation; then the program gets consent_required.
    const { grants } = await owner.call<{ grants: Array<{ app: string; key_fingerprint: string }> }>('admin.apps.list', {});
    expect(grants).toEqual([expect.objectContaining({ app: APP, key_fingerprint: keyFingerprint(publicKey) })]);
    let ready: () => void = () => undefined;
    const subscribed = new Promise<void>((resolve) => (ready = resolve));
    const listener = runPython(
      [
        '-c',
        [
          'import json, sys',
          `sys.path.insert(0, ${JSON.stringify(dirname(EXAMPLE))})`,
          'import latchkey_client as lk',
          `with lk.LatchkeyClient(${JSON.stringify(APP)}, "Latchkey Python example", "1.0") as c:`,
          '    c.subscribe_events()',
          '    print("ready", flush=True)',
          '    print(json.dumps(c.next_event(20)), flush=True)',
        ].join('\n'),
      ],
      { env: childEnv, onStdout: (out) => out.startsWith('ready\n') && ready() },
    );
    await subscribed;
    await owner.call('admin.apps.revoke', { app: APP });
    const heard = await listener;
    expect(heard.code).toBe(0);
    expect(JSON.parse(heard.stdout.split('\n')[1]!)).toEqual({ type: 'grant.revoked', account: expect.any(String) });

    const third = await example();
    expect(third.code).not.toBe(0);
    expect(third.stdout).toBe('');
    expect(third.stderr).toMatch(/consent_required/);
    expect(person.asked).toHaveLength(1);
    // Nothing secret on stderr in any run.
    for (const r of [first, second, impostor, third]) expect(r.stderr).not.toContain(String(token.access_token));
  });

  it('says agent_unavailable (exit 6) when no agent listens at the socket', async () => {
    const r = await runPython([EXAMPLE, '--app-id', APP, '--socket', join(dir, 'nobody.sock')], { env: childEnv });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^latchkey: agent_unavailable: /);
  });
});
