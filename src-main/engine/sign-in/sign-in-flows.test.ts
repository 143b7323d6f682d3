/**
 * The flow chooser, the callback receiver each provider gets, and the one
 * function that turns token responses into stored records. The flows
 * themselves run against real providers in the engine's integration tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../log/logger.js';
import { emptyVaultDocument, type AccountRecord, type ProviderRecord } from '../../store/vault-document.js';
import { providerRecord } from '../../testing/provider-record.js';
import { MemoryStore } from '../../testing/memory-store.js';
import type { CallbackReceiver } from '../callback/callback-receiver.js';
import { SchemeCallbackRouter } from '../callback/scheme-receiver.js';
import { DiscoveryCache } from '../discovery.js';
import { OidcEngine } from '../oidc-engine.js';
import { AuthorizationCodeFlow, receiverOpener } from './authorization-code-flow.js';
import { chooseSignInFlow } from './choose-flow.js';
import { DeviceAuthorizationFlow } from './device-authorization-flow.js';
import { accessTokenRecordFrom, saveTokenResponse, type SignedInAccount } from './token-records.js';

const never = () => {
  throw new Error('no receiver may open for this request');
};

describe('choosing the sign-in flow from what the person asked', () => {
  const showCode = () => undefined;
  const openUrl = () => undefined;

  it('runs the device grant when asked for it, else authorization code', () => {
    expect(chooseSignInFlow({ device: true, onUserCode: showCode, onAuthorizationUrl: openUrl }, { openReceiver: never })).toBeInstanceOf(DeviceAuthorizationFlow);
    expect(chooseSignInFlow({ onUserCode: showCode, onAuthorizationUrl: openUrl }, { openReceiver: never })).toBeInstanceOf(AuthorizationCodeFlow);
  });

  it('refuses browser-only options with the device grant, each one, as a usage error', () => {
    for (const extra of [{ maxAge: 0 }, { prompt: 'login' }, { loginHint: 'ann' }, { resource: 'https://api.example' }]) {
      expect(() => chooseSignInFlow({ device: true, onUserCode: showCode, ...extra }, { openReceiver: never })).toThrow(
        expect.objectContaining({ code: 'usage', message: '--device cannot be combined with --max-age, --prompt, --login-hint or --resource.' }),
      );
    }
  });

  it('refuses a flow the caller cannot show to the person', () => {
    expect(() => chooseSignInFlow({ device: true }, { openReceiver: never })).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => chooseSignInFlow({ onUserCode: showCode }, { openReceiver: never })).toThrow(expect.objectContaining({ code: 'usage' }));
  });

  it('refuses max_age with a plain OAuth 2.0 provider before anything is sent', () => {
    const flow = chooseSignInFlow({ maxAge: 60, onAuthorizationUrl: openUrl }, { openReceiver: never });
    expect(() => flow.assertFits?.(providerRecord({ oauth2: {} }))).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(() => flow.assertFits?.(providerRecord())).not.toThrow();
  });

  it('the engine checks the request before it looks up the provider (as admin.login did), and the vault stays as it was', async () => {
    const store = new MemoryStore(emptyVaultDocument());
    const engine = new OidcEngine({ store, discovery: new DiscoveryCache({ timeoutSeconds: 1 }), schemeRouter: new SchemeCallbackRouter(), logger: silentLogger() });
    const before = JSON.stringify(store.read());
    await expect(engine.signIn({ provider: 'nowhere', device: true, prompt: 'login', onUserCode: showCode })).rejects.toMatchObject({ code: 'usage' });
    await expect(engine.signIn({ provider: 'nowhere', device: true, onUserCode: showCode })).rejects.toMatchObject({ code: 'not_found' });
    expect(JSON.stringify(store.read())).toBe(before);
  });
});

describe('the callback receiver a provider gets', () => {
  const opened: CallbackReceiver[] = [];
  afterEach(async () => {
    for (const r of opened.splice(0)) await r.close();
  });
  const router = new SchemeCallbackRouter();
  const open = async (p: ProviderRecord) => {
    const receiver = await receiverOpener(router)(p);
    opened.push(receiver);
    return new URL(receiver.redirectUri);
  };

  it('loopback on 127.0.0.1 with a port the OS picks, or the port the provider pinned', async () => {
    const any = await open(providerRecord());
    expect(any.hostname).toBe('127.0.0.1');
    await opened.pop()!.close();
    // The port just freed is as good a pinned port as any free one.
    const pinned = await open(providerRecord({ loopbackPort: Number(any.port) }));
    expect(pinned.href).toBe(`http://127.0.0.1:${any.port}/callback`);
  });

  it('the private-use scheme, which the CLI and the desktop app hand deep links to', async () => {
    expect((await open(providerRecord({ redirect: 'scheme' }))).href).toBe(router.redirectUri);
  });
});

describe('token records from token responses', () => {
  const github = providerRecord({ scope: 'repo', oauth2: { scopeDelimiter: ',', assumedTokenLifetimeSeconds: 3600 } });
  const nowMs = 1_700_000_000_000;

  it('keeps the scope as granted (commas read as spaces), else as asked; expiry from expires_in, the assumed lifetime, or the short default', () => {
    const granted = accessTokenRecordFrom({ access_token: 'a', token_type: 'bearer', scope: 'repo,gist' }, github, { scope: 'repo' }, nowMs);
    expect(granted).toEqual({ accessToken: 'a', tokenType: 'bearer', expiresAt: nowMs + 3_600_000, scope: 'gist repo', obtainedAt: nowMs });
    const asked = accessTokenRecordFrom({ access_token: 'b', token_type: 'bearer', expires_in: 60 }, providerRecord(), { scope: 'openid', resource: 'https://api', tokenOwner: 'app' }, nowMs);
    expect(asked).toEqual({ accessToken: 'b', tokenType: 'bearer', expiresAt: nowMs + 60_000, scope: 'openid', resource: 'https://api', appId: 'app', obtainedAt: nowMs });
    expect(accessTokenRecordFrom({ access_token: 'c', token_type: 'bearer' }, providerRecord(), { scope: '' }, nowMs).expiresAt).toBe(nowMs + 5 * 60_000);
  });

  const signedIn: SignedInAccount = { id: 'p:ann', provider: 'p', subject: 'ann', claims: {}, scope: 'openid offline_access', authTime: 1 };
  const token = (accessToken: string, scope = 'openid offline_access') => ({ accessToken, tokenType: 'bearer', scope, obtainedAt: nowMs });

  it('a sign-in starts the account afresh (keeping when it was first made); a refresh keeps what the response does not replace', async () => {
    const store = new MemoryStore(emptyVaultDocument());
    await saveTokenResponse(store, 'p:ann', { access_token: 'a1', token_type: 'bearer', refresh_token: 'r1', id_token: 'i1' }, token('a1'), nowMs, signedIn);
    await store.update((d) => void (d.accounts[0]!.lastError = 'the provider was down'));
    let account: AccountRecord = await saveTokenResponse(store, 'p:ann', { access_token: 'a2', token_type: 'bearer' }, token('a2', 'openid'), nowMs + 1);
    expect(account).toMatchObject({ refreshToken: 'r1', idToken: 'i1', updatedAt: nowMs + 1, createdAt: nowMs });
    expect(account.lastError).toBeUndefined();
    expect(account.tokens.map((t) => t.accessToken)).toEqual(['a2', 'a1']);
    account = await saveTokenResponse(store, 'p:ann', { access_token: 'a3', token_type: 'bearer', refresh_token: 'r2' }, token('a3', 'openid'), nowMs + 2);
    expect(account.refreshToken).toBe('r2');
    expect(account.tokens.map((t) => t.accessToken)).toEqual(['a3', 'a1']);
    account = await saveTokenResponse(store, 'p:ann', { access_token: 'a4', token_type: 'bearer' }, token('a4'), nowMs + 3, signedIn);
    expect(account).toMatchObject({ status: 'active', createdAt: nowMs, updatedAt: nowMs + 3, tokens: [token('a4')] });
    expect(account.refreshToken).toBeUndefined();
    expect(account.idToken).toBeUndefined();
    expect(store.read().accounts).toHaveLength(1);
  });

  it('a refresh for an account signed out meanwhile is login_required and stores nothing', async () => {
    const store = new MemoryStore(emptyVaultDocument());
    const before = JSON.stringify(store.read());
    await expect(saveTokenResponse(store, 'p:gone', { access_token: 'a', token_type: 'bearer', refresh_token: 'r' }, token('a'), nowMs)).rejects.toMatchObject({
      code: 'login_required',
    });
    expect(JSON.stringify(store.read())).toBe(before);
  });
});
