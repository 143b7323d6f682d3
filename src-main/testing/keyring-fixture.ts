/**
 * Child process for the "no Secret Service" test: the parent points
 * DBUS_SESSION_BUS_ADDRESS at a socket that does not exist, and this prints
 * what KeyringKeySource did as one JSON line instead of crashing.
 */
import { LatchkeyError } from '../errors.js';
import { KeyringKeySource, keyringAnswers } from '../vault/keyring-key-source.js';

const source = new KeyringKeySource({ service: 'latchkey-test-unavailable' });
const outcome = async (fn: () => Promise<unknown>) =>
  fn().then(
    () => ({ ok: true }),
    (err: unknown) => (err instanceof LatchkeyError ? { code: err.code, message: err.message } : { crash: String(err) }),
  );
const create = await outcome(() => source.createKey());
const load = await outcome(() =>
  source.loadKey({ kind: 'keyring', service: 'latchkey-test-unavailable', account: 'vault-master-key:none' }),
);
const answers = await keyringAnswers({ service: 'latchkey-test-unavailable' });
process.stdout.write(`${JSON.stringify({ create, load, answers })}\n`);
