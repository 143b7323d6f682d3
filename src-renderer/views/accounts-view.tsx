/** Accounts: who is signed in where, their status, sign out; sign in with a provider. */
import { useState } from 'react';
import { call, newFlowId, useAction, useDesktopEvent, useQuery } from '../api.js';
import type { SignInProgress } from '../../src-preload/contract.js';
import { accountLabel, errorText, when } from '../format.js';
import { Avatar, Empty, ErrorLine, Section } from '../components/parts.js';

export function AccountsView() {
  const accounts = useQuery('accounts:list', [], ['accounts.changed']);
  const providers = useQuery('providers:list', [], ['providers.changed', 'accounts.changed']);
  const signOut = useAction((account: string) => call('accounts:sign-out', { account }));
  return (
    <>
      <Section title="Accounts">
        <ErrorLine error={accounts.error ?? signOut.error} />
        {accounts.data?.length === 0 && <Empty>No accounts yet. Sign in with a provider below.</Empty>}
        <ul className="cards">
          {accounts.data?.map((a) => (
            <li key={a.id} className="card account" data-account={a.id}>
              <Avatar picture={a.picture} label={accountLabel(a)} />
              <div className="grow">
                <strong>{a.name ?? a.username ?? a.subject}</strong>
                <div className="muted">{a.email ?? a.subject}</div>
                <div className="muted">
                  {a.provider} · signed in {when(a.authTime ? a.authTime * 1000 : undefined)}
                </div>
              </div>
              {a.status === 'active' ? <span className="badge ok">Signed in</span> : <span className="badge warn">Sign-in needed</span>}
              <button type="button" onClick={() => void signOut.run(a.id)} disabled={signOut.running} aria-label={`Sign out ${accountLabel(a)}`}>
                Sign out
              </button>
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Sign in">
        <ErrorLine error={providers.error} />
        {providers.data?.length === 0 && <Empty>No provider is configured yet. Add one, or start the demo provider, in Settings.</Empty>}
        <ul className="cards">
          {providers.data
            ?.filter((p) => p.kind === 'user')
            .map((p) => (
              <SignInRow key={p.name} provider={p.name} issuer={p.issuer} />
            ))}
        </ul>
      </Section>
    </>
  );
}

function SignInRow({ provider, issuer }: { provider: string; issuer: string }) {
  const [flow, setFlow] = useState<SignInProgress>();
  useDesktopEvent((e) => {
    if (e.type === 'signin.progress' && e.progress.flowId === flow?.flowId) setFlow(e.progress);
  });
  const running = flow && (flow.stage === 'starting' || flow.stage === 'browser');
  async function start() {
    const flowId = newFlowId();
    setFlow({ flowId, provider, stage: 'starting' });
    const outcome = await window.latchkey.invoke('accounts:sign-in', { flowId, provider });
    setFlow((f) =>
      f?.flowId !== flowId
        ? f
        : outcome.ok
          ? { ...f, stage: 'done', warnings: outcome.value.warnings }
          : { ...f, stage: outcome.error.code === 'cancelled' ? 'cancelled' : 'failed', error: outcome.error },
    );
  }
  return (
    <li className="card" data-provider={provider}>
      <div className="grow">
        <strong>{provider}</strong>
        <div className="muted">{issuer}</div>
        <p className="status" role="status" aria-live="polite">
          {flow?.stage === 'starting' && 'Starting…'}
          {flow?.stage === 'browser' && 'Continue in your browser. Latchkey is waiting for the provider to send you back.'}
          {/* Not "Signed in." beside a "Sign in" button: the new account is in the list above. */}
          {flow?.stage === 'done' && 'Done: the account is listed above.'}
          {flow?.stage === 'done' &&
            flow.warnings?.map((w) => (
              <span key={w.code} className="warning" data-warning={w.code}>
                {' '}
                {w.message}
              </span>
            ))}
          {flow?.stage === 'cancelled' && 'Sign-in cancelled.'}
          {flow?.stage === 'failed' && flow.error && <span className="error">{errorText(flow.error)}</span>}
        </p>
      </div>
      {running ? (
        <button type="button" onClick={() => void call('accounts:cancel-sign-in', { flowId: flow.flowId })}>
          Cancel
        </button>
      ) : (
        <button type="button" className="primary" onClick={() => void start()} aria-label={`Sign in with ${provider}`}>
          Sign in
        </button>
      )}
    </li>
  );
}
