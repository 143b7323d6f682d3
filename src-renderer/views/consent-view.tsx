/**
 * The consent prompt: who asks (the name as the app claims it, and what is
 * verified: key fingerprint, program), for which account, to do what (scopes
 * in plain words), with a countdown to the automatic "deny". When the broker
 * found the app looks like an impostor of one allowed before, its warning
 * leads and Deny is the primary action.
 *
 * Keyboard: Deny has the initial focus, Tab cycles inside the dialog,
 * Escape denies; "Always allow" is never the primary or default action.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { call, useAction, useCountdown } from '../api.js';
import type { PendingConsent } from '../../src-preload/contract.js';
import { accountLabel } from '../format.js';
import { ErrorLine } from '../components/parts.js';

export function ConsentPrompt({ request, queued }: { request: PendingConsent; queued: number }) {
  const seconds = useCountdown(request.deadline);
  const [account, setAccount] = useState(request.accounts[0]?.id);
  const respond = useAction((decision: 'once' | 'always' | 'deny') => call('consent:respond', { id: request.id, decision, ...(account && decision !== 'deny' ? { account } : {}) }));
  const first = useRef<HTMLButtonElement>(null);
  // Focus lands on "Deny" so Enter never allows by accident.
  useEffect(() => first.current?.focus(), [request.id]);
  const titleId = `consent-title-${request.id}`;
  const warning = request.warning;
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      if (!respond.running) void respond.run('deny');
    } else if (e.key === 'Tab') {
      trapTab(e);
    }
  };
  return (
    <div
      className={warning ? 'consent suspicious' : 'consent'}
      role="alertdialog"
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={warning ? `${titleId}-warning` : `${titleId}-what`}
      data-consent={request.id}
      data-warning={warning?.kind}
      onKeyDown={onKeyDown}
    >
      {warning && (
        <div className="warning" id={`${titleId}-warning`} role="alert">
          <strong>{WARNING_TITLES[warning.kind]}</strong>
          <p>{warning.message}</p>
        </div>
      )}
      <h2 id={titleId}>
        <span className="claimed">“{request.app.name}”</span> wants to use your {request.provider} account
      </h2>
      <p className="muted">The name is as the app claims it. What Latchkey verified:</p>
      <dl className="facts">
        <dt>App id</dt>
        <dd>
          <code>{request.app.id}</code>
          {request.app.version ? ` (version ${request.app.version})` : ''}
        </dd>
        <dt>Key fingerprint</dt>
        <dd>
          <code>{request.app.fingerprint}</code>
        </dd>
        <dt>Program</dt>
        <dd>{request.app.exePath ? <code>{request.app.exePath}</code> : 'not known on this system'}</dd>
        {request.resource && (
          <>
            <dt>For the API</dt>
            <dd>
              <code>{request.resource}</code>
            </dd>
          </>
        )}
      </dl>
      <div id={`${titleId}-what`}>
        <p>It will be able to:</p>
        <ul className="scopes">
          {request.scopeWords.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      </div>
      {request.accounts.length > 1 ? (
        <label className="field">
          Account
          <select value={account} onChange={(e) => setAccount(e.target.value)}>
            {request.accounts.map((a) => (
              <option key={a.id} value={a.id}>
                {accountLabel(a)}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <p>Account: {request.accounts[0] ? <strong>{accountLabel(request.accounts[0])}</strong> : 'you will be asked to sign in in your browser'}</p>
      )}
      <ErrorLine error={respond.error} />
      <p className="countdown" aria-live="off">
        Denied automatically in <span className="num">{seconds}</span> s{queued > 1 ? ` · ${queued - 1} more waiting` : ''}
      </p>
      <div className="actions">
        <button type="button" ref={first} className={warning ? 'primary danger-fill' : undefined} onClick={() => void respond.run('deny')} disabled={respond.running}>
          Deny
        </button>
        <button type="button" className={warning ? undefined : 'primary'} onClick={() => void respond.run('once')} disabled={respond.running}>
          Allow once
        </button>
        <button type="button" onClick={() => void respond.run('always')} disabled={respond.running}>
          Always allow
        </button>
      </div>
    </div>
  );
}

const WARNING_TITLES: Record<NonNullable<PendingConsent['warning']>['kind'], string> = {
  key_changed: 'This app’s key has changed',
  executable_changed: 'This app’s program has changed',
  name_clash: 'Another app already uses this name',
};

/** Keeps Tab and Shift+Tab inside the dialog: from the last control to the first and back. */
function trapTab(e: KeyboardEvent<HTMLDivElement>): void {
  const focusable = [...e.currentTarget.querySelectorAll<HTMLElement>('button:not(:disabled), select:not(:disabled), [href], input:not(:disabled), [tabindex]:not([tabindex="-1"])')];
  if (!focusable.length) return;
  const firstEl = focusable[0]!;
  const lastEl = focusable[focusable.length - 1]!;
  const active = document.activeElement;
  if (e.shiftKey && (active === firstEl || !e.currentTarget.contains(active))) {
    e.preventDefault();
    lastEl.focus();
  } else if (!e.shiftKey && (active === lastEl || !e.currentTarget.contains(active))) {
    e.preventDefault();
    firstEl.focus();
  }
}
