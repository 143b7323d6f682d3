/**
 * Tells the keyring tests whether a real Secret Service is reachable, by doing
 * what the vault does: set, get and delete an entry. Deliberately not through
 * KeyringKeySource, so a bug there fails the tests instead of skipping them.
 */
import { AsyncEntry } from '@napi-rs/keyring';
import { randomUUID } from 'node:crypto';

export async function probeKeyring(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform === 'linux' && !process.env.DBUS_SESSION_BUS_ADDRESS) {
    return { ok: false, reason: 'DBUS_SESSION_BUS_ADDRESS is unset (run the tests through scripts/test.sh)' };
  }
  const value = randomUUID();
  try {
    const entry = new AsyncEntry('latchkey-test-probe', `probe:${value}`, { linux: { store: 'secret-service' } });
    await entry.setPassword(value);
    const back = await entry.getPassword();
    await entry.deletePassword();
    return back === value ? { ok: true } : { ok: false, reason: 'the keyring did not return what was stored' };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
