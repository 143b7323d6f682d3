/**
 * The consent prompt: who asks (the name as the app claims it, and what is
 * verified: key fingerprint, program), for which account, to do what (scopes
 * in plain words), with a countdown to the automatic "deny".
 */
import { useEffect, useRef, useState } from 'react';
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
  return (
    <div className="consent" role="alertdialog" aria-modal="true" aria-labelledby={titleId} aria-describedby={`${titleId}-what`} data-consent={request.id}>
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
        <button type="button" ref={first} onClick={() => void respond.run('deny')} disabled={respond.running}>
          Deny
        </button>
        <button type="button" onClick={() => void respond.run('once')} disabled={respond.running}>
          Allow once
        </button>
        <button type="button" className="primary" onClick={() => void respond.run('always')} disabled={respond.running}>
          Always allow
        </button>
      </div>
    </div>
  );
}
