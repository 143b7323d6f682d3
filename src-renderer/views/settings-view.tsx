/** Settings: providers (add with a live discovery check, remove), key source health, start at login, demo provider. */
import { useState, type FormEvent } from 'react';
import { call, useAction, useQuery } from '../api.js';
import type { DiscoveryCheck } from '../../src-preload/contract.js';
import { Empty, ErrorLine, Section } from '../components/parts.js';
import { firstSentence } from '../format.js';

export function SettingsView() {
  const state = useQuery('app:state', [], ['providers.changed', 'accounts.changed']);
  const settings = useQuery('settings:get', []);
  const remove = useAction((name: string) => call('providers:remove', { name, force: true }));
  const demo = useAction(() => call('demo:start'));
  const save = useAction(async (startAtLogin: boolean) => {
    await call('settings:set', { startAtLogin });
    settings.reload();
  });
  const key = state.data?.keySource;
  return (
    <>
      <Section title="Providers">
        <ErrorLine error={state.error ?? remove.error} />
        {state.data?.providers.length === 0 && <Empty>No provider yet.</Empty>}
        <ul className="cards">
          {state.data?.providers.map((p) => (
            <li key={p.name} className="card" data-provider={p.name}>
              <div className="grow">
                <strong>{p.name}</strong> {p.demo && <span className="badge">demo</span>}
                <div className="muted">{p.issuer}</div>
                <div className="muted">
                  client <code>{p.clientId}</code> · {p.redirect === 'scheme' ? 'URL scheme' : 'loopback'} redirect · {p.accounts} account(s)
                </div>
              </div>
              <button type="button" className="danger" onClick={() => void remove.run(p.name)} disabled={remove.running} aria-label={`Remove provider ${p.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
        <AddProviderForm />
      </Section>
      <Section title="Demo provider">
        <p>A real OpenID provider running inside Latchkey on 127.0.0.1, where any user name and password are accepted. For trying Latchkey out.</p>
        <ErrorLine error={demo.error} />
        {state.data?.demo ? (
          <p role="status">
            Running at <code>{state.data.demo.issuer}</code>
          </p>
        ) : (
          <button type="button" onClick={() => void demo.run()} disabled={demo.running}>
            Start the demo provider
          </button>
        )}
      </Section>
      <Section title="Vault key">
        {key && (
          <div className={key.encrypted ? 'card' : 'card warn'} data-key-source={key.kind}>
            <div className="grow">
              <strong>{key.description}</strong>
              <div>{key.encrypted ? 'Your vault is encrypted with this key.' : 'Not protected: the vault key is not really encrypted here.'}</div>
              {key.warning && (
                <p className="error" role="alert">
                  {key.warning}
                </p>
              )}
            </div>
            <span className={key.encrypted ? 'badge ok' : 'badge warn'}>{key.encrypted ? 'Healthy' : 'Warning'}</span>
          </div>
        )}
      </Section>
      <Section title="Startup">
        <ErrorLine error={save.error} />
        <label className="check">
          <input type="checkbox" checked={settings.data?.startAtLogin ?? false} disabled={!settings.data || save.running} onChange={(e) => void save.run(e.target.checked)} />
          Start Latchkey when I log in
        </label>
      </Section>
    </>
  );
}

function AddProviderForm() {
  const [name, setName] = useState('');
  const [issuer, setIssuer] = useState('');
  const [clientId, setClientId] = useState('');
  const [redirect, setRedirect] = useState<'loopback' | 'scheme'>('loopback');
  const [checked, setChecked] = useState<DiscoveryCheck>();
  const check = useAction(async () => setChecked(await call('providers:check', { issuer })));
  const add = useAction(async () => {
    await call('providers:add', { name, issuer, clientId, redirect });
    setName('');
    setIssuer('');
    setClientId('');
    setChecked(undefined);
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void add.run();
  };
  return (
    <form className="add-provider" onSubmit={submit} aria-label="Add a provider">
      <h3>Add a provider</h3>
      <label className="field">
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[a-z0-9][a-z0-9_\-]{0,31}" title="1-32 lowercase letters, digits, - or _" placeholder="work" />
      </label>
      <label className="field">
        Issuer URL
        <span className="row">
          <input
            type="url"
            value={issuer}
            onChange={(e) => {
              setIssuer(e.target.value);
              setChecked(undefined);
              check.reset();
            }}
            required
            placeholder="https://login.example.com"
          />
          <button type="button" onClick={() => void check.run()} disabled={!issuer || check.running}>
            Check
          </button>
        </span>
      </label>
      <p className="status" role="status" aria-live="polite">
        {check.running && 'Checking…'}
        {checked && `Found ${checked.issuer}${checked.scopesSupported.length ? ` (scopes: ${checked.scopesSupported.join(' ')})` : ''}`}
      </p>
      {check.error && (
        <p className="error" role="alert" data-code={check.error.code}>
          {firstSentence(check.error.message)}
        </p>
      )}
      <label className="field">
        Client id
        <input value={clientId} onChange={(e) => setClientId(e.target.value)} required />
      </label>
      <fieldset className="field">
        <legend>Redirect</legend>
        <label className="check radio">
          <input type="radio" name="redirect" checked={redirect === 'loopback'} onChange={() => setRedirect('loopback')} />
          <span>Loopback (http://127.0.0.1)</span>
        </label>
        <label className="check radio">
          <input type="radio" name="redirect" checked={redirect === 'scheme'} onChange={() => setRedirect('scheme')} />
          <span>URL scheme (dev.latchkey.app:/callback)</span>
        </label>
      </fieldset>
      <ErrorLine error={add.error} />
      <button type="submit" className="primary" disabled={add.running}>
        Add provider
      </button>
    </form>
  );
}
