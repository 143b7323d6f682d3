/**
 * Activity: the audit log with filters, and token requests per app over time.
 * Each entry names the app as verified (app id, short key fingerprint) beside
 * the name it claimed, and the account as people know it.
 */
import { useMemo, useState } from 'react';
import { useQuery } from '../api.js';
import { ACTIVITY_EVENTS, type ActivityEvent } from '../../src-preload/contract.js';
import { accountLabel, when } from '../format.js';
import { shortFingerprint } from '../../src-main/broker/short-fingerprint.js';
import { ActivityChart, tokenRequestSeries } from '../components/activity-chart.js';
import { Empty, ErrorLine, Section } from '../components/parts.js';

const EVENT_WORDS: Record<ActivityEvent, string> = {
  token_issued: 'Token given',
  consent_granted: 'Allowed',
  consent_denied: 'Denied',
  denied: 'Refused',
  grant_revoked: 'Permission revoked',
  token_revoked: 'Tokens given up',
  key_changed: 'Key changed',
  executable_changed: 'Program changed',
  name_clash: 'Name already in use',
};

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;

export function ActivityView() {
  const [appId, setAppId] = useState('');
  const [event, setEvent] = useState<ActivityEvent | ''>('');
  const [range, setRange] = useState<keyof typeof RANGES>('24h');
  // Fixed per render of the range, so the query key stays stable between events.
  const since = useMemo(() => Date.now() - RANGES[range], [range]);
  const all = useQuery('activity:list', [{ since }], ['grants.changed', 'consent.changed', 'accounts.changed']);
  const accounts = useQuery('accounts:list', [], ['accounts.changed']);
  const accountNames = new Map((accounts.data ?? []).map((a) => [a.id, accountLabel(a)]));
  const entries = (all.data ?? []).filter((e) => (!appId || e.appId === appId) && (!event || e.event === event));
  const apps = [...new Map((all.data ?? []).map((e) => [e.appId, e.appName && e.appName !== e.appId ? `${e.appName} (${e.appId})` : e.appId])).entries()];
  const series = tokenRequestSeries(entries, since, Date.now());
  return (
    <Section
      title="Activity"
      actions={
        <button type="button" onClick={all.reload}>
          Refresh
        </button>
      }
    >
      <ErrorLine error={all.error} />
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter activity">
        <label className="field">
          App
          <select value={appId} onChange={(e) => setAppId(e.target.value)}>
            <option value="">All apps</option>
            {apps.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          What
          <select value={event} onChange={(e) => setEvent(e.target.value as ActivityEvent | '')}>
            <option value="">Everything</option>
            {ACTIVITY_EVENTS.map((ev) => (
              <option key={ev} value={ev}>
                {EVENT_WORDS[ev]}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Since
          <select value={range} onChange={(e) => setRange(e.target.value as keyof typeof RANGES)}>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
          </select>
        </label>
      </form>
      <h3>Token requests per app</h3>
      {series.length ? <ActivityChart series={series} from={since} to={Date.now()} /> : <Empty>No tokens were given to apps in this period.</Empty>}
      <h3>Log</h3>
      {entries.length === 0 ? (
        <Empty>Nothing happened in this period.</Empty>
      ) : (
        <div className="table-scroll">
        <table className="log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">App</th>
              <th scope="col">What</th>
              <th scope="col">Account</th>
              <th scope="col">Scope</th>
            </tr>
          </thead>
          <tbody>
            {[...entries].reverse().map((e, i) => (
              <tr key={`${e.at}-${i}`} data-event={e.event}>
                <td className="nowrap">{when(e.at)}</td>
                <td>
                  {e.appName ?? e.appId}
                  <div className="muted">
                    <code>{e.appId}</code>
                    {e.keyFingerprint ? (
                      <>
                        {' · '}
                        <code title={e.keyFingerprint}>{shortFingerprint(e.keyFingerprint)}</code>
                      </>
                    ) : null}
                  </div>
                </td>
                <td>
                  {EVENT_WORDS[e.event]}
                  {e.detail ? <span className="muted detail"> · {e.detail}</span> : null}
                </td>
                <td className="nowrap" title={e.account}>
                  {e.account ? (accountNames.get(e.account) ?? e.account) : '—'}
                </td>
                <td>
                  <code>{e.scope ?? ''}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </Section>
  );
}
