/** The window: the unlock view while the vault is locked; then navigation between the views, and the consent prompt over whatever is showing. */
import { useEffect, useState } from 'react';
import { useQuery } from './api.js';
import { ErrorLine } from './components/parts.js';
import { UnlockView } from './views/unlock-view.js';
import { AccountsView } from './views/accounts-view.js';
import { ActivityView } from './views/activity-view.js';
import { AppsView } from './views/apps-view.js';
import { ConsentPrompt } from './views/consent-view.js';
import { SettingsView } from './views/settings-view.js';

const VIEWS = {
  accounts: { label: 'Accounts', View: AccountsView },
  apps: { label: 'Connected apps', View: AppsView },
  activity: { label: 'Activity', View: ActivityView },
  settings: { label: 'Settings', View: SettingsView },
} as const;
type ViewName = keyof typeof VIEWS;

function viewFromHash(): ViewName | 'consent' {
  const name = location.hash.slice(1);
  return name === 'consent' || name in VIEWS ? (name as ViewName | 'consent') : 'accounts';
}

export function App() {
  const vault = useQuery('vault:state', [], ['vault.changed']);
  if (vault.error) {
    return (
      <main className="unlock-window">
        <ErrorLine error={vault.error} />
      </main>
    );
  }
  if (!vault.data) return null;
  if (vault.data.state === 'locked') return <UnlockView lock={vault.data} onOpen={vault.reload} />;
  return <Workspace />;
}

function Workspace() {
  const [view, setView] = useState(viewFromHash);
  useEffect(() => {
    const onHash = () => setView(viewFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const pending = useQuery('consent:list', [], ['consent.changed']).data ?? [];
  const prompt = pending[0];
  // The consent window (#consent) shows only the prompt.
  if (view === 'consent') {
    return <main className="consent-window">{prompt ? <ConsentPrompt request={prompt} queued={pending.length} /> : <p className="empty">No app is waiting for your answer.</p>}</main>;
  }
  const { View } = VIEWS[view];
  return (
    <div className="shell">
      {/* While a prompt is open nothing behind it can take focus or a key press. */}
      <nav aria-label="Latchkey" className="nav" inert={prompt ? true : undefined}>
        <div className="brand" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="22" height="22">
            <path d="M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zm2 0h6V7a3 3 0 0 0-6 0z" fill="currentColor" />
          </svg>
          Latchkey
        </div>
        <ul>
          {(Object.keys(VIEWS) as ViewName[]).map((name) => (
            <li key={name}>
              <a href={`#${name}`} aria-current={name === view ? 'page' : undefined}>
                {VIEWS[name].label}
              </a>
            </li>
          ))}
        </ul>
        {pending.length > 0 && (
          <p className="badge warn" role="status">
            {pending.length} waiting for you
          </p>
        )}
      </nav>
      <main className="content" aria-hidden={prompt ? true : undefined} inert={prompt ? true : undefined}>
        <View />
      </main>
      {prompt && (
        <div className="overlay">
          <ConsentPrompt request={prompt} queued={pending.length} />
        </div>
      )}
    </div>
  );
}
