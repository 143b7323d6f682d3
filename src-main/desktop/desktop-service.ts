/**
 * The desktop app's API on top of the agent core, in plain Node: what the
 * renderer may ask for, one channel of the IPC contract at a time. The
 * Electron shell forwards IPC here after its sender check; the e2e tests
 * bridge a browser page to it the same way.
 *
 * What it enforces:
 * - every call's params go through the contract's schema first (`usage` on
 *   anything else) and every failure comes back as a `{ code, message }`
 *   value, never a thrown Error across the bridge;
 * - results are summaries: no token, refresh token or client secret;
 * - sign-ins open only the URL the engine built, through the given launcher,
 *   and can be cancelled by their flow id.
 */
import { EventEmitter } from 'node:events';
import { LatchkeyError, toWireError } from '../errors.js';
import type { AgentCore } from '../agent/agent-core.js';
import type { BrowserLauncher } from '../engine/browser-launcher.js';
import type { SignInWarning } from '../engine/offline-access.js';
import type { AccountSummary } from '../engine/accounts.js';
import { keyFingerprint } from '../broker/app-key.js';
import { describeScopes } from '../broker/consent-prompter.js';
import { LATCHKEY_VERSION } from '../version.js';
import {
  isChannel,
  type Channel,
  type DesktopEvent,
  type DesktopSettings,
  type DiscoveryCheck,
  type GrantView,
  type KeySourceHealth,
  type Outcome,
  type Results,
  type SignInProgress,
} from '../../src-preload/contract.js';
import { PARAMS } from '../../src-preload/contract-params.js';
import type { DesktopPrompter } from './desktop-prompter.js';
import type { z } from 'zod';

/** Where the (non-secret) desktop settings live: electron-store in the app, memory in tests. */
export interface SettingsPort {
  get(): DesktopSettings;
  set(patch: Partial<DesktopSettings>): DesktopSettings | Promise<DesktopSettings>;
}

export function memorySettings(initial: DesktopSettings = { startAtLogin: false }): SettingsPort {
  let current = { ...initial };
  return { get: () => ({ ...current }), set: (patch) => (current = { ...current, ...patch }) };
}

export interface DesktopServiceOptions {
  core: AgentCore;
  prompter: DesktopPrompter;
  settings: SettingsPort;
  keySource: KeySourceHealth;
  /** Opens the engine's authorization URLs (the app: shell.openExternal behind the URL gate). */
  browser: BrowserLauncher;
}

export type ChannelHandlers<C extends Channel> = { [K in C]: (params: z.output<(typeof PARAMS)[K]>) => Promise<Results[K]> | Results[K] };
type Handlers = ChannelHandlers<Channel>;

/**
 * Parses `params` with the channel's schema and runs its handler; a channel
 * with no handler here fails with `unavailable(channel)`. Every failure comes
 * back as a `{ code, message }` value, never a thrown Error across the bridge.
 */
export async function dispatch(
  handlers: Partial<Handlers>,
  channel: unknown,
  params: unknown,
  unavailable: (channel: Channel) => LatchkeyError,
): Promise<Outcome<unknown>> {
  try {
    if (!isChannel(channel)) throw new LatchkeyError('usage', `Unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}.`);
    const parsed = PARAMS[channel].safeParse(params ?? undefined);
    // Issue messages and paths only: never the input, which may be a passphrase.
    if (!parsed.success) throw new LatchkeyError('usage', `Invalid params for ${channel}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'} ${i.message}`).join('; ')}`);
    const handler = handlers[channel] as ((p: unknown) => Promise<unknown> | unknown) | undefined;
    if (!handler) throw unavailable(channel);
    return { ok: true, value: await handler(parsed.data) };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

export class DesktopService {
  readonly events = new EventEmitter<{ event: [DesktopEvent] }>();
  private readonly signIns = new Map<string, { progress: SignInProgress; controller: AbortController }>();
  private readonly handlers: Handlers;

  constructor(private readonly options: DesktopServiceOptions) {
    const { core, prompter } = options;
    prompter.events.on('changed', (pending) => this.emit({ type: 'consent.changed', pending }));
    core.broker.events.on('event', (e) => this.emit(e.type === 'grant.revoked' ? { type: 'grants.changed' } : { type: 'accounts.changed' }));
    const alreadyOpen = () => {
      throw new LatchkeyError('already_exists', 'The vault is already open.');
    };
    this.handlers = {
      // This service exists only once the vault is open; while it is locked, DesktopApp answers these.
      'vault:state': () => ({ state: 'open' }),
      'vault:unlock': alreadyOpen,
      'vault:create': alreadyOpen,
      'app:state': () => this.state(),
      'accounts:list': () => core.engine.accounts(),
      'accounts:sign-in': (p) => this.signIn(p.flowId, p.provider),
      'accounts:cancel-sign-in': (p) => {
        const flow = this.signIns.get(p.flowId);
        flow?.controller.abort();
        return { cancelled: Boolean(flow) };
      },
      'accounts:sign-out': async (p) => {
        const result = await core.signOut({ account: p.account });
        this.emit({ type: 'accounts.changed' });
        return { account: result.account, warnings: result.warnings };
      },
      'providers:list': () => core.providers(),
      'providers:check': (p) => this.checkDiscovery(p.issuer),
      'providers:add': async (p) => {
        const provider = await core.addProvider({
          name: p.name,
          issuer: p.issuer,
          clientId: p.clientId,
          ...(p.scope?.trim() ? { scope: p.scope } : {}),
          ...(p.redirect ? { redirect: p.redirect } : {}),
        });
        this.emit({ type: 'providers.changed' });
        return provider;
      },
      'providers:remove': async (p) => {
        const { signedOut } = await core.removeProvider(p.name, p.force);
        this.emit({ type: 'providers.changed' });
        if (signedOut.length) this.emit({ type: 'accounts.changed' });
        return { removed: p.name, signedOut: signedOut.map((s) => s.account.id) };
      },
      'apps:list': () => {
        const accounts = new Map(core.engine.accounts().map((a) => [a.id, a]));
        return core.broker.listGrants().map((g) => toGrantView(g, accounts.get(g.account)));
      },
      'apps:revoke': async (p) => ({ revoked: (await core.broker.revokeGrant(p.appId, p.account)).length }),
      'activity:list': (p) => {
        const entries = core.broker
          .auditLog()
          .filter((e) => (!p?.appId || e.appId === p.appId) && (!p?.account || e.account === p.account) && (!p?.event || e.event === p.event) && (p?.since === undefined || e.at >= p.since));
        return entries.slice(-(p?.limit ?? 500));
      },
      'settings:get': () => options.settings.get(),
      'settings:set': (p) => options.settings.set(p),
      'demo:start': async () => {
        const result = await core.startDemo();
        this.emit({ type: 'providers.changed' });
        return result;
      },
      'consent:list': () => prompter.pending(),
      'consent:respond': (p) => {
        prompter.respond(p.id, { decision: p.decision, ...(p.account ? { account: p.account } : {}) });
        return { answered: true };
      },
    };
  }

  /** The one entry point: parse, run, and turn any failure into a `{ code, message }` value. */
  call(channel: unknown, params: unknown): Promise<Outcome<unknown>> {
    return dispatch(this.handlers, channel, params, (c) => new LatchkeyError('internal', `No handler for ${c}.`));
  }

  /** Cancels running sign-ins and denies waiting prompts (the app is quitting). */
  shutdown(): void {
    for (const flow of this.signIns.values()) flow.controller.abort();
    this.options.prompter.denyAll('The Latchkey app is quitting.');
  }

  private state(): Results['app:state'] {
    const status = this.options.core.status();
    return {
      version: LATCHKEY_VERSION,
      keySource: this.options.keySource,
      providers: status.providers,
      signIns: [...this.signIns.values()].map((f) => f.progress),
      pendingConsents: this.options.prompter.pending().length,
      ...(status.demo ? { demo: status.demo } : {}),
    };
  }

  private async signIn(flowId: string, provider: string | undefined): Promise<Results['accounts:sign-in']> {
    if (this.signIns.has(flowId)) throw new LatchkeyError('already_exists', 'That sign-in is already running.');
    const controller = new AbortController();
    const providerName = this.options.core.engine.provider(provider).name;
    const flow = { progress: { flowId, provider: providerName, stage: 'starting' } as SignInProgress, controller };
    this.signIns.set(flowId, flow);
    const progress = (update: Partial<SignInProgress>) => {
      flow.progress = { ...flow.progress, ...update };
      this.emit({ type: 'signin.progress', progress: flow.progress });
    };
    progress({});
    const warnings: SignInWarning[] = [];
    try {
      const account = await this.options.core.engine.signIn({
        provider: providerName,
        signal: controller.signal,
        onAuthorizationUrl: async (url) => {
          await this.options.browser.open(url);
          progress({ stage: 'browser' });
        },
        onWarning: (w) => void warnings.push(w),
      });
      progress({ stage: 'done', ...(warnings.length ? { warnings } : {}) });
      this.emit({ type: 'accounts.changed' });
      return { account, warnings };
    } catch (err) {
      const error = toWireError(err);
      progress({ stage: controller.signal.aborted || error.code === 'cancelled' ? 'cancelled' : 'failed', error });
      throw err;
    } finally {
      this.signIns.delete(flowId);
    }
  }

  private async checkDiscovery(issuer: string): Promise<DiscoveryCheck> {
    const probe = { name: 'check', issuer: issuer.trim(), clientId: 'latchkey-discovery-check', scope: '', redirect: 'loopback' as const, kind: 'user' as const, createdAt: 0 };
    try {
      const metadata = (await this.options.core.discovery.get(probe)).serverMetadata();
      return {
        issuer: metadata.issuer,
        scopesSupported: metadata.scopes_supported ?? [],
        ...(metadata.authorization_endpoint ? { authorizationEndpoint: metadata.authorization_endpoint } : {}),
      };
    } finally {
      this.options.core.discovery.forget(probe);
    }
  }

  private emit(event: DesktopEvent): void {
    this.events.emit('event', event);
  }
}

function toGrantView(g: ReturnType<AgentCore['broker']['listGrants']>[number], account: AccountSummary | undefined): GrantView {
  return {
    id: g.id,
    appId: g.appId,
    appName: g.appName,
    keyFingerprint: keyFingerprint(g.publicKey),
    account: g.account,
    scope: g.scope,
    scopeWords: describeScopes(g.scope),
    createdAt: g.createdAt,
    ...(g.exePath ? { exePath: g.exePath } : {}),
    ...(g.resource ? { resource: g.resource } : {}),
    ...(g.lastUsedAt ? { lastUsedAt: g.lastUsedAt } : {}),
    ...(account ? { accountSummary: account } : {}),
  };
}
