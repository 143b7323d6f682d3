/**
 * Shown instead of everything else while the vault is locked: why Latchkey
 * needs a passphrase here, and the form to create or enter it. The
 * passphrase lives only in the password fields: read on submit, sent to main
 * once, and the fields are cleared whatever the answer.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { call, UiError, useAction } from '../api.js';
import { MIN_NEW_PASSPHRASE, type VaultState } from '../../src-preload/contract.js';
import { ErrorLine } from '../components/parts.js';

type Locked = Extract<VaultState, { state: 'locked' }>;

const WORDS = {
  vault_locked: 'That passphrase does not open this vault. Nothing was changed; try again.',
};

export function UnlockView({ lock, onOpen }: { lock: Locked; onOpen: () => void }) {
  const creating = lock.needs === 'create-passphrase';
  const id = useId();
  const first = useRef<HTMLInputElement>(null);
  // A mistake found here, before anything is sent (too short, not the same twice).
  const [invalid, setInvalid] = useState<UiError>();
  const open = useAction(async (passphrase: string, confirm: string) => {
    await (creating ? call('vault:create', { passphrase, confirm }) : call('vault:unlock', { passphrase }));
    onOpen();
  });
  useEffect(() => first.current?.focus(), [open.error]);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const passphrase = String(data.get('passphrase') ?? '');
    const confirm = String(data.get('confirm') ?? '');
    const mistake = !passphrase
      ? 'Enter the passphrase.'
      : creating && passphrase.length < MIN_NEW_PASSPHRASE
        ? `Use at least ${MIN_NEW_PASSPHRASE} characters.`
        : creating && passphrase !== confirm
          ? 'The two passphrases do not match.'
          : undefined;
    setInvalid(mistake ? new UiError({ code: 'usage', message: mistake }) : undefined);
    if (mistake) return;
    form.reset();
    void open.run(passphrase, confirm);
  };

  const error = invalid ?? open.error;
  return (
    <main className="unlock-window">
      <form className="unlock" onSubmit={submit} aria-labelledby={`${id}-title`} aria-describedby={`${id}-why`} noValidate>
        <div className="brand" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="22" height="22">
            <path d="M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zm2 0h6V7a3 3 0 0 0-6 0z" fill="currentColor" />
          </svg>
          Latchkey
        </div>
        <h2 id={`${id}-title`}>{creating ? 'Protect your vault with a passphrase' : 'Unlock Latchkey'}</h2>
        <p id={`${id}-why`}>{lock.reason}</p>
        <label className="field">
          {creating ? 'New passphrase' : 'Passphrase'}
          <input
            ref={first}
            name="passphrase"
            type="password"
            autoComplete={creating ? 'new-password' : 'current-password'}
            aria-describedby={creating ? `${id}-hint` : undefined}
            aria-invalid={error ? true : undefined}
            disabled={open.running}
          />
        </label>
        {creating && (
          <>
            <p id={`${id}-hint`} className="muted">
              At least {MIN_NEW_PASSPHRASE} characters; a few unrelated words are easy to type and hard to guess. There is no way to recover the vault without it.
            </p>
            <label className="field">
              Repeat the passphrase
              <input name="confirm" type="password" autoComplete="new-password" aria-invalid={error ? true : undefined} disabled={open.running} />
            </label>
          </>
        )}
        <div className="status">
          <ErrorLine error={error} words={WORDS} />
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={open.running}>
            {open.running ? (creating ? 'Creating the vault…' : 'Unlocking…') : creating ? 'Create vault' : 'Unlock'}
          </button>
        </div>
      </form>
    </main>
  );
}
