/**
 * The Latchkey SDK for local apps: ask the person's Latchkey for tokens.
 *
 * ```ts
 * import { LatchkeyClient } from 'latchkey/sdk';
 * const latchkey = await LatchkeyClient.connect({ appId: 'com.example.tool', name: 'Example Tool', version: '1.2.0' });
 * const tokens = await latchkey.getAuthTokens({ provider: 'work', scope: 'openid email api:read' });
 * fetch(url, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
 * ```
 *
 * - `tryGetAuthTokens` never shows anything: a token if the person already
 *   allowed this app, else a `LatchkeyError` with code `consent_required` or
 *   `login_required`;
 * - `getAuthTokens` may show a consent prompt and a browser sign-in, and waits
 *   (cancel it with an AbortSignal);
 * - `revokeAuthToken` gives this app's tokens up: Latchkey forgets them at
 *   once (and revokes them at the provider when the person's settings say so);
 * - `onEvent` tells the app when the person revokes its access or signs out.
 *
 * The SDK makes the app's key pair on first use and keeps it in the app's own
 * config directory (0600); that key is what the person's "always allow" is
 * bound to, so keep it with the app and never share it between apps.
 */
import { join } from 'node:path';
import { homedir } from 'node:os';
import { LatchkeyError } from '../errors.js';
import { toWireTokenRequest, type WireToken } from '../wire/wire-token.js';
import { connectRpc, type CallOptions, type RpcClient } from '../wire/rpc-client.js';
import { loadOrCreateAppKey, signChallenge, type AppKey } from '../broker/app-key.js';
import { challengePayload } from '../wire/app-proof.js';
import { EVENT_NOTIFICATION, type AppAccount, type AppEvent, type AppParams, type AppResults } from '../wire/app-contract.js';
import { socketPath, type Env } from '../platform/paths.js';

export { LatchkeyError } from '../errors.js';
export type { AppAccount, AppEvent } from '../wire/app-contract.js';

export interface LatchkeyClientOptions {
  /** Reverse-DNS-style id, lowercase: `com.example.tool`. The person's grants are per app id *and* key. */
  appId: string;
  /** Shown to the person (as "claimed by the app"). */
  name: string;
  version: string;
  /** Where the app key lives; default `<config dir>/<appId>/latchkey-app-key.json`. */
  keyPath?: string;
  /** The agent's socket; default as the agent computes it (`$LATCHKEY_SOCKET`, `$XDG_RUNTIME_DIR/latchkey/agent.sock`, …). */
  socket?: string;
  env?: Env;
}

export interface AuthTokenRequest {
  /** Which configured provider (e.g. "work"); default the person's default provider. */
  provider?: string;
  /** An account id or email, when the person has several. */
  account?: string;
  /** Space-separated scopes; default the provider's. */
  scope?: string;
  /** RFC 8707 resource indicator: the API the token is for. */
  resource?: string;
  /** Seconds the access token must still be valid. */
  minTtl?: number;
  /** Ask the person to sign in again if their sign-in is older than this (seconds). */
  maxAge?: number;
}

export interface AuthTokens {
  accessToken: string;
  tokenType: string;
  /** When the access token expires, in epoch seconds (as on the wire; `Date.now()` is milliseconds). */
  expiresAtS?: number;
  /** What was granted: may be narrower than what was asked. */
  scope: string;
  resource?: string;
  /** Only when `openid` was granted. */
  idToken?: string;
  account?: string;
}

/** The app's key file location, by OS convention for per-app config. */
export function defaultAppKeyPath(appId: string, env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  const base =
    platform === 'darwin'
      ? join(home, 'Library', 'Application Support')
      : platform === 'win32'
        ? (env.APPDATA ?? join(home, 'AppData', 'Roaming'))
        : env.XDG_CONFIG_HOME || join(home, '.config');
  return join(base, appId, 'latchkey-app-key.json');
}

export class LatchkeyClient {
  #rpc: RpcClient | undefined;
  #connecting: Promise<RpcClient> | undefined;
  readonly #listeners = new Set<(event: AppEvent) => void>();
  #closed = false;
  #fingerprint = '';
  #subscribedOn: RpcClient | undefined;

  private constructor(
    private readonly options: LatchkeyClientOptions,
    private readonly key: AppKey,
    private readonly socket: string,
  ) {}

  /** Loads (or makes) the app key, connects and proves it. Throws `agent_unavailable` if Latchkey is not running. */
  static async connect(options: LatchkeyClientOptions): Promise<LatchkeyClient> {
    const env = options.env ?? process.env;
    const key = await loadOrCreateAppKey(options.keyPath ?? defaultAppKeyPath(options.appId, env));
    const client = new LatchkeyClient(options, key, options.socket ?? socketPath(env));
    await client.#connection();
    return client;
  }

  /** `SHA256:…` of this app's key, as the person sees it in Latchkey. */
  get keyFingerprint(): string {
    return this.#fingerprint;
  }

  /** A token without asking the person; `consent_required` / `login_required` when that is not possible. */
  tryGetAuthTokens(request: AuthTokenRequest = {}): Promise<AuthTokens> {
    // No async/await here: on a cached token the socket round trip is the whole cost, and each hop shows.
    // `decode` in the client: a reply repeating the last one is not parsed again (rpc-client.ts).
    return this.#call('tokens.tryGet', toWireTokenRequest(request), DECODE_TOKENS) as unknown as Promise<AuthTokens>;
  }

  /** A token, asking the person (consent, sign-in) when needed. `signal` cancels the wait. */
  async getAuthTokens(request: AuthTokenRequest = {}, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<AuthTokens> {
    return fromWire(await this.#call('tokens.get', toWireTokenRequest(request), { timeoutMs: options.timeoutMs ?? 0, ...(options.signal ? { signal: options.signal } : {}) }));
  }

  /**
   * Gives up this app's tokens (for one account, or all): Latchkey never hands
   * them out again, and revokes them at the provider only when configured to
   * (`revokeAppTokensAtProvider`); drop your own copy too.
   */
  async revokeAuthToken(options: { account?: string } = {}): Promise<number> {
    return (await this.#call('tokens.revoke', options.account ? { account: options.account } : {})).revoked;
  }

  /** The accounts this app may use, showing only what its grants cover. */
  async accounts(): Promise<AppAccount[]> {
    return (await this.#call('accounts.list', {})).accounts;
  }

  /** Calls `listener` when the person revokes this app's access or signs an account out. Returns an unsubscribe function. */
  onEvent(listener: (event: AppEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1 && this.#rpc && !this.#rpc.closed) void this.#subscribe(this.#rpc).catch(() => undefined);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#rpc?.close();
  }

  #call<M extends 'tokens.tryGet' | 'tokens.get' | 'tokens.revoke' | 'accounts.list'>(
    method: M,
    params: AppParams<M>,
    options: CallOptions = {},
  ): Promise<AppResults[M]> {
    const rpc = this.#rpc;
    // The usual case, a live proven connection, without waiting for #connection().
    if (!this.#closed && rpc && !rpc.closed) return rpc.call<AppResults[M]>(method, params, options);
    return this.#connection().then((c) => c.call<AppResults[M]>(method, params, options));
  }

  /** The live connection; a dropped one (agent restarted) is replaced, with a fresh proof. */
  #connection(): Promise<RpcClient> {
    if (this.#closed) return Promise.reject(new LatchkeyError('usage', 'This LatchkeyClient is closed.'));
    if (this.#rpc && !this.#rpc.closed) return Promise.resolve(this.#rpc);
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<RpcClient> {
    const rpc = await connectRpc(this.socket);
    try {
      const { app_id: appId, name, version } = { app_id: this.options.appId, name: this.options.name, version: this.options.version };
      const hello = await rpc.call<AppResults['hello']>('hello', { app_id: appId, name, version, public_key: this.key.publicKey });
      const payload = challengePayload({ agentInstance: hello.agent_instance, appId, challenge: hello.challenge });
      const proof = await rpc.call<AppResults['hello.prove']>('hello.prove', { signature: signChallenge(this.key.privateKeyPem, payload) });
      this.#fingerprint = proof.key_fingerprint;
      if (this.#listeners.size) await this.#subscribe(rpc);
    } catch (err) {
      await rpc.close();
      throw err;
    }
    this.#rpc = rpc;
    return rpc;
  }

  async #subscribe(rpc: RpcClient): Promise<void> {
    if (this.#subscribedOn === rpc) return;
    this.#subscribedOn = rpc;
    rpc.onNotification((method, params) => {
      if (method !== EVENT_NOTIFICATION) return;
      for (const l of this.#listeners) l(params as AppEvent);
    });
    await rpc.call('events.subscribe', {});
  }
}

/** `fromWire` copies the wire token into a new object, so the client may hand it a shared parsed reply. */
const DECODE_TOKENS: CallOptions = { decode: (w) => fromWire(w as WireToken) };

/** Wire → SDK: the one reading of a token. */
function fromWire(w: WireToken): AuthTokens {
  const t: AuthTokens = { accessToken: w.access_token, tokenType: w.token_type, scope: w.scope };
  if (w.expires_at !== undefined) t.expiresAtS = w.expires_at;
  if (w.resource) t.resource = w.resource;
  if (w.id_token) t.idToken = w.id_token;
  if (w.account) t.account = w.account;
  return t;
}
