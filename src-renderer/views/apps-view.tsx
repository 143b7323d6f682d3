/** Connected apps: each remembered grant (the app as verified: id and key), what it covers, when it was last used; revoke. */
import { call, useAction, useQuery } from '../api.js';
import { accountLabel, when } from '../format.js';
import { shortFingerprint } from '../../src-main/broker/short-fingerprint.js';
import { Empty, ErrorLine, Section } from '../components/parts.js';

export function AppsView() {
  const grants = useQuery('apps:list', [], ['grants.changed', 'accounts.changed', 'consent.changed']);
  const revoke = useAction(async (appId: string, account: string) => {
    await call('apps:revoke', { appId, account });
    grants.reload();
  });
  return (
    <Section title="Connected apps">
      <ErrorLine error={grants.error ?? revoke.error} />
      {grants.data?.length === 0 && <Empty>No app has a remembered permission. Apps you “Always allow” appear here.</Empty>}
      <ul className="cards">
        {grants.data?.map((g) => (
          <li key={g.id} className="card grant" data-app={g.appId}>
            <div className="grow">
              <strong>{g.appName}</strong> <span className="muted">(name as claimed)</span>
              <div className="muted">
                <code>{g.appId}</code> · key <code title={g.keyFingerprint}>{shortFingerprint(g.keyFingerprint)}</code>
                {g.exePath ? (
                  <>
                    {' '}
                    · program <code>{g.exePath}</code>
                  </>
                ) : null}
              </div>
              <div>
                Account <strong title={g.account}>{g.accountSummary ? accountLabel(g.accountSummary) : g.account}</strong>
                {g.resource ? ` · for ${g.resource}` : ''}
              </div>
              <ul className="scopes">
                {g.scopeWords.map((w) => (
                  <li key={w}>{w}</li>
                ))}
              </ul>
              <div className="muted">
                Allowed {when(g.createdAt)} · last used {when(g.lastUsedAt)}
              </div>
            </div>
            <button type="button" className="danger" onClick={() => void revoke.run(g.appId, g.account)} disabled={revoke.running} aria-label={`Revoke ${g.appName} (${g.appId}) for ${g.accountSummary ? accountLabel(g.accountSummary) : g.account}`}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </Section>
  );
}
