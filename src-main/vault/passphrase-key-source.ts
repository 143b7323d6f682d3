/**
 * A master key re-derived from a passphrase with scrypt (RFC 7914), for
 * machines without a usable OS keyring (headless Linux, CI, containers).
 *
 * What it enforces:
 * - the passphrase is never stored; the header keeps only kdf name, cost and a
 *   random 16-byte salt;
 * - an empty passphrase is refused;
 * - cost parameters read back from a header are bounded, so an edited header
 *   cannot make unlocking eat gigabytes of memory;
 * - a passphrase file must not be readable by group or others.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { KeyParams, KeySource } from './key-source.js';

/** Why a passphrase is asked for: `create` prompts should ask twice. */
export type PassphrasePurpose = 'create' | 'unlock';
export type GetPassphrase = (purpose: PassphrasePurpose) => Promise<string>;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8, p = 1: about 32 MiB and ~100 ms, the interactive-login cost RFC 7914 §2 suggests scaling from. */
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** scrypt needs 128·N·r bytes; a header asking for more than this is refused. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

const paramsSchema = z.object({
  kind: z.literal('passphrase'),
  kdf: z.literal('scrypt'),
  N: z.number().int().min(2 ** 14).refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(4),
  salt: z.base64().refine((s) => Buffer.from(s, 'base64').length === SALT_BYTES, `salt must be ${SALT_BYTES} bytes`),
}).refine((p) => 128 * p.N * p.r <= MAX_SCRYPT_MEMORY, 'scrypt cost too high');

export class PassphraseKeySource implements KeySource {
  readonly kind = 'passphrase' as const;
  readonly #getPassphrase: GetPassphrase;
  readonly #cost: ScryptCost;

  /**
   * @param getPassphrase Asked once per `createKey`/`loadKey`; the caller decides
   *   whether that means a TTY prompt or {@link readPassphraseFile}.
   */
  constructor(getPassphrase: GetPassphrase, cost: ScryptCost = DEFAULT_SCRYPT_COST) {
    this.#getPassphrase = getPassphrase;
    this.#cost = cost;
  }

  describe(): string {
    return 'passphrase (scrypt)';
  }

  async createKey(): Promise<{ key: Buffer; params: KeyParams }> {
    const passphrase = await this.#passphrase('create');
    const salt = randomBytes(SALT_BYTES);
    const params = { kind: 'passphrase' as const, kdf: 'scrypt', ...this.#cost, salt: salt.toString('base64') };
    return { key: await deriveKey(passphrase, salt, this.#cost), params };
  }

  async loadKey(params: KeyParams): Promise<Buffer> {
    const parsed = paramsSchema.safeParse(params);
    if (!parsed.success) {
      throw new LatchkeyError('vault_corrupt', 'The vault header has invalid passphrase (scrypt) parameters; the file was altered.', {
        cause: parsed.error,
      });
    }
    const { N, r, p, salt } = parsed.data;
    return deriveKey(await this.#passphrase('unlock'), Buffer.from(salt, 'base64'), { N, r, p });
  }

  async #passphrase(purpose: PassphrasePurpose): Promise<string> {
    // NFC so the same passphrase typed through different input methods derives the same key.
    const passphrase = (await this.#getPassphrase(purpose)).normalize('NFC');
    if (passphrase.length === 0) throw new LatchkeyError('usage', 'The vault passphrase must not be empty.');
    return passphrase;
  }
}

function deriveKey(passphrase: string, salt: Buffer, { N, r, p }: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Node's default maxmem (32 MiB) is exactly 128·N·r for N=2^15, r=8 and fails; allow twice the need.
    scrypt(passphrase, salt, KEY_BYTES, { N, r, p, maxmem: 2 * 128 * N * r * p }, (err, key) =>
      err ? reject(new LatchkeyError('internal', `scrypt failed: ${err.message}`, { cause: err })) : resolve(key),
    );
  });
}

/**
 * Reads a passphrase from a file (for `LATCHKEY_PASSPHRASE_FILE`), without one
 * trailing newline. Refuses files readable by group or others on POSIX, and
 * empty files, with `config_invalid`.
 */
export async function readPassphraseFile(path: string, platform: NodeJS.Platform = process.platform): Promise<string> {
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    mode = info.mode;
  } catch (cause) {
    throw new LatchkeyError('config_invalid', `Cannot read the passphrase file ${path} (LATCHKEY_PASSPHRASE_FILE): ${(cause as Error).message}.`, {
      cause,
    });
  }
  if (platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0');
    throw new LatchkeyError(
      'config_invalid',
      `The passphrase file ${path} is readable by other users (mode ${octal}). Run: chmod 600 ${path}`,
    );
  }
  const passphrase = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  if (passphrase.length === 0) throw new LatchkeyError('config_invalid', `The passphrase file ${path} is empty.`);
  return passphrase;
}

export interface PromptOptions {
  /** Ask twice and require both answers to match (for a new vault). */
  confirm?: boolean;
  input?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  /** Where the prompt text goes; stderr so stdout stays clean for scripts. */
  output?: NodeJS.WritableStream;
}

/**
 * Asks for a passphrase on the terminal without echoing it. Throws `usage`
 * when stdin is not a TTY (use `LATCHKEY_PASSPHRASE_FILE` there) and
 * `cancelled` on Ctrl-C or end of input.
 */
export async function promptPassphrase(prompt: string, options: PromptOptions = {}): Promise<string> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  if (!input.isTTY) {
    throw new LatchkeyError('usage', 'Cannot ask for the vault passphrase: stdin is not a terminal. Set LATCHKEY_PASSPHRASE_FILE instead.');
  }
  const first = await askHidden(prompt, input, output);
  if (!options.confirm) return first;
  const second = await askHidden('Repeat the passphrase: ', input, output);
  if (first !== second) throw new LatchkeyError('usage', 'The passphrases do not match.');
  return first;
}

function askHidden(prompt: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<string> {
  // readline echoes what it reads to `output`; give it a sink that drops the echo.
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input, output: muted, terminal: true });
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let answered = false;
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      output.write('\n');
      if (!answered) reject(new LatchkeyError('cancelled', 'Passphrase entry was cancelled.'));
    });
    rl.question('', (answer) => {
      answered = true;
      resolve(answer);
      rl.close();
    });
  });
}
