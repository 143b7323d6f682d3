/**
 * The vault passphrase, asked for by the CLI when it starts an agent that
 * will need one: the background agent has no terminal, so the person types it
 * here and it goes to the agent on a pipe (never argv, env or disk).
 *
 * What it enforces:
 * - with `LATCHKEY_PASSPHRASE_FILE` set, or a keyring vault, nothing is asked;
 * - a new vault on a machine without an OS keyring (a server, a container,
 *   SSH) is offered a passphrase on the terminal: typed twice, not echoed, at
 *   least MIN_NEW_PASSPHRASE characters; the choice is recorded in the vault
 *   header, so later starts ask for the same passphrase;
 * - without a terminal: one short `key_source_unavailable` naming
 *   LATCHKEY_PASSPHRASE_FILE and `latchkey agent --foreground`, before any
 *   agent starts, so nothing is written.
 */
import { MIN_NEW_PASSPHRASE } from '../../src-preload/contract.js';
import { LatchkeyError } from '../errors.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { promptPassphrase, type PromptOptions } from '../vault/passphrase-key-source.js';
import { keyringAnswers } from '../vault/keyring-key-source.js';
import { readKeyParams } from '../vault/vault.js';

export interface Terminal {
  input: NonNullable<PromptOptions['input']>;
  output: NodeJS.WritableStream;
}

const HOW_WITHOUT_TERMINAL =
  'set LATCHKEY_PASSPHRASE_FILE to a file (mode 0600) holding a passphrase, or run `latchkey agent --foreground` in a terminal to type it.';

/** How many times a too-short or mismatched new passphrase may be typed again. */
const NEW_PASSPHRASE_TRIES = 3;

/**
 * The passphrase to hand the agent about to start, or `undefined` when the
 * agent finds its key without one.
 */
export async function passphraseForAgent(paths: LatchkeyPaths, env: NodeJS.ProcessEnv, terminal: Terminal | undefined): Promise<string | undefined> {
  if (env.LATCHKEY_PASSPHRASE_FILE) return undefined;
  let existing: Awaited<ReturnType<typeof readKeyParams>>;
  try {
    existing = await readKeyParams(paths.vault);
  } catch {
    return undefined; // A damaged header is the agent's to report: it keeps a copy and says how to recover.
  }
  if (existing) {
    if (existing.kind !== 'passphrase') return undefined;
    if (!terminal) throw new LatchkeyError('key_source_unavailable', `The vault is protected by a passphrase: ${HOW_WITHOUT_TERMINAL}`);
    return promptPassphrase('Vault passphrase: ', terminal);
  }
  if (env.LATCHKEY_KEY_SOURCE !== 'passphrase') {
    if (env.LATCHKEY_KEY_SOURCE || (await keyringAnswers(env.LATCHKEY_KEYRING_SERVICE ? { service: env.LATCHKEY_KEYRING_SERVICE } : {}))) return undefined;
    if (!terminal) throw new LatchkeyError('key_source_unavailable', `No OS keyring is available here to keep the vault key. Use a passphrase instead: ${HOW_WITHOUT_TERMINAL}`);
    terminal.output.write('No OS keyring (Secret Service) is available here, so the vault key cannot be kept in one.\nLatchkey can protect the new vault with a passphrase instead (Ctrl-C to stop).\n');
  } else if (!terminal) {
    throw new LatchkeyError('key_source_unavailable', `LATCHKEY_KEY_SOURCE=passphrase, but nobody can be asked for it here: ${HOW_WITHOUT_TERMINAL}`);
  }
  const passphrase = await askNewPassphrase(terminal);
  terminal.output.write(
    `The vault is protected by this passphrase; the choice is recorded in ${paths.vault}.\n` +
      'Latchkey asks for it when it starts its agent; to skip that, put it in a file (mode 0600) named by LATCHKEY_PASSPHRASE_FILE.\n',
  );
  return passphrase;
}

async function askNewPassphrase(terminal: Terminal): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const passphrase = await promptPassphrase(`New vault passphrase (at least ${MIN_NEW_PASSPHRASE} characters): `, { ...terminal, confirm: true });
      if (passphrase.normalize('NFC').length < MIN_NEW_PASSPHRASE) {
        throw new LatchkeyError('usage', `The passphrase is too short: use at least ${MIN_NEW_PASSPHRASE} characters.`);
      }
      return passphrase;
    } catch (err) {
      if (!(err instanceof LatchkeyError) || err.code !== 'usage' || attempt === NEW_PASSPHRASE_TRIES) throw err;
      terminal.output.write(`${err.message} Try again.\n`);
    }
  }
}
