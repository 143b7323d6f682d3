/**
 * The vault owner's brain, independent of how it is reached: the headless
 * agent serves it on a socket, the desktop app hosts the same object in its
 * main process. It wires the engine to the vault and runs the demo provider.
 */
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { LatchkeyConfig } from '../platform/config.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { DocumentStore, VaultDocument } from '../store/vault-document.js';
import { SchemeCallbackRouter } from '../engine/callback/scheme-receiver.js';
import { DiscoveryCache } from '../engine/discovery.js';
import { OidcEngine, type SignOutResult } from '../engine/oidc-engine.js';
import { addProvider, listProviders, removeProvider, type AddProviderInput, type ProviderSummary } from '../engine/provider-registry.js';
import type { DemoProvider } from '../demo/demo-provider.js';
import { systemBrowserLauncher, type BrowserLauncher } from '../engine/browser-launcher.js';
import { ChainPrompter, type ConsentPrompter } from '../broker/consent-prompter.js';
import { TokenBroker } from '../broker/token-broker.js';

import { LATCHKEY_VERSION } from '../version.js';
import type { AgentStatus } from '../wire/owner-contract.js';

export interface AgentCoreOptions {
  store: DocumentStore<VaultDocument>;
  config: LatchkeyConfig;
  paths: LatchkeyPaths;
  logger: Logger;
  keySource: { kind: string; description: string };
  now?: () => number;
  /** Who answers consent prompts for apps; default: nobody (every app request is denied). */
  prompter?: ConsentPrompter;
  /** Opens sign-in pages the agent starts itself (for apps); default the system browser. */
  browser?: BrowserLauncher;
  /** An unanswered consent prompt becomes a denial after this long; default the broker's (60 s). */
  promptTimeoutMs?: number;
}

export class AgentCore {
  readonly engine: OidcEngine;
  readonly discovery: DiscoveryCache;
  readonly schemeRouter: SchemeCallbackRouter;
  readonly broker: TokenBroker;
  private demo: DemoProvider | undefined;
  private readonly startedAt: number;
  private readonly stopListeners = new Set<() => void>();

  /** The agent's clock (tests move it). */
  readonly now: () => number;

  constructor(private readonly options: AgentCoreOptions) {
    this.now = options.now ?? Date.now;
    const { config, logger } = options;
    this.startedAt = (options.now ?? Date.now)();
    this.discovery = new DiscoveryCache({ ttlMs: config.discoveryTtlSeconds * 1000, timeoutSeconds: config.requestTimeoutSeconds });
    this.schemeRouter = new SchemeCallbackRouter(config.schemeRedirectUri);
    const engineOptions: ConstructorParameters<typeof OidcEngine>[0] = {
      store: options.store,
      discovery: this.discovery,
      schemeRouter: this.schemeRouter,
      logger,
      minTtlSeconds: config.minTtlSeconds,
      callbackTimeoutMs: config.callbackTimeoutSeconds * 1000,
      revokeAppTokensAtProvider: config.revokeAppTokensAtProvider,
    };
    if (options.now) engineOptions.now = options.now;
    this.engine = new OidcEngine(engineOptions);
    this.broker = new TokenBroker({
      store: options.store,
      engine: this.engine,
      prompter: options.prompter ?? new ChainPrompter([]),
      browser: options.browser ?? systemBrowserLauncher(),
      logger,
      ...(options.now ? { now: options.now } : {}),
      ...(options.promptTimeoutMs !== undefined ? { promptTimeoutMs: options.promptTimeoutMs } : {}),
    });
  }

  /** Signs an account out and tells the apps that held grants for it. */
  async signOut(selector: Parameters<OidcEngine['signOut']>[0]): Promise<SignOutResult> {
    const result = await this.engine.signOut(selector);
    await this.broker.forgetAccount(result.account.id);
    return result;
  }

  get store(): DocumentStore<VaultDocument> {
    return this.options.store;
  }

  get paths(): LatchkeyPaths {
    return this.options.paths;
  }

  get config(): LatchkeyConfig {
    return this.options.config;
  }

  /** Starts what the vault says should run: the demo provider, if configured. */
  async start(): Promise<void> {
    await this.broker.openAuditLog(this.options.paths.audit);
    const demo = this.store.read().providers.find((p) => p.demo);
    if (!demo) return;
    try {
      await this.startDemo();
    } catch (err) {
      // The agent stays useful for every other provider.
      this.options.logger.error({ err }, 'could not restart the demo provider');
    }
  }

  status(): AgentStatus {
    const doc = this.store.read();
    const status: AgentStatus = {
      pid: process.pid,
      version: LATCHKEY_VERSION,
      startedAt: this.startedAt,
      keySource: this.options.keySource,
      vault: this.options.paths.vault,
      socket: this.options.paths.socket,
      providers: listProviders(this.store),
      accounts: doc.accounts.length,
    };
    if (this.demo) status.demo = { issuer: this.demo.issuer };
    return status;
  }

  providers(): ProviderSummary[] {
    return listProviders(this.store);
  }

  addProvider(input: AddProviderInput): Promise<ProviderSummary> {
    if (input.name === 'demo' && !input.demo) {
      throw new LatchkeyError('usage', 'The name "demo" is reserved for the built-in demo provider (`latchkey demo`).');
    }
    return addProvider(this.store, this.discovery, input);
  }

  /** Removes a provider; with `force`, signs its accounts out first. */
  async removeProvider(name: string, force = false): Promise<{ signedOut: SignOutResult[] }> {
    const signedOut: SignOutResult[] = [];
    if (force) {
      for (const account of this.store.read().accounts.filter((a) => a.provider === name)) {
        signedOut.push(await this.signOut({ account: account.id }));
      }
    }
    const record = this.store.read().providers.find((p) => p.name === name);
    await removeProvider(this.store, name);
    if (record) this.discovery.forget(record);
    if (record?.demo) await this.stopDemo();
    return { signedOut };
  }

  /**
   * Runs the built-in demo provider on 127.0.0.1 inside the agent and
   * configures it as provider "demo". Idempotent.
   */
  async startDemo(): Promise<{ issuer: string; provider: ProviderSummary }> {
    // Loaded on first use: the demo provider's module graph costs more than the rest of the agent's start.
    const { DEMO_CLIENT_ID, startDemoProvider } = await import('../demo/demo-provider.js');
    if (!this.demo) {
      const port = this.options.config.demoPort;
      try {
        this.demo = await startDemoProvider({ port, logger: this.options.logger });
        await this.forgetDemoSessions();
      } catch (err) {
        const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        throw new LatchkeyError(
          busy ? 'usage' : 'internal',
          busy
            ? `Port ${port} on 127.0.0.1 is in use, so the demo provider cannot start. Set "demoPort" in ${this.options.paths.config}.`
            : `The demo provider failed to start: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    const existing = this.store.read().providers.find((p) => p.name === 'demo');
    const provider =
      existing && existing.issuer === this.demo.issuer
        ? this.providers().find((p) => p.name === 'demo')!
        : await this.addProvider({ name: 'demo', issuer: this.demo.issuer, clientId: DEMO_CLIENT_ID, demo: true, replace: true });
    return { issuer: this.demo.issuer, provider };
  }

  /**
   * A freshly started demo provider keeps its grants in memory, so it knows
   * none from before: every token it issued earlier is dead. Say so now
   * ("sign-in needed", as the README promises) instead of showing the account
   * as signed in and handing out a token the provider no longer accepts.
   */
  private async forgetDemoSessions(): Promise<void> {
    const names = new Set(this.store.read().providers.filter((p) => p.demo).map((p) => p.name));
    if (!this.store.read().accounts.some((a) => names.has(a.provider) && a.status === 'active')) return;
    await this.store.update((d) => {
      for (const a of d.accounts.filter((x) => names.has(x.provider) && x.status === 'active')) {
        a.status = 'sign_in_needed';
        a.lastError = 'The demo provider restarted and forgot its sign-ins.';
        a.tokens = [];
        delete a.refreshToken;
        a.updatedAt = (this.options.now ?? Date.now)();
      }
    });
    this.options.logger.info('demo provider restarted: its accounts need a new sign-in');
  }

  private async stopDemo(): Promise<void> {
    const demo = this.demo;
    this.demo = undefined;
    await demo?.close();
  }

  /** Lets the transport close itself when a client asks the agent to stop. */
  onStopRequested(listener: () => void): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  requestStop(): void {
    for (const l of this.stopListeners) l();
  }

  async close(): Promise<void> {
    await this.broker.flush({ all: true }).catch((err) => this.options.logger.error({ err }, 'could not write the audit log on shutdown'));
    await this.stopDemo();
  }
}
