/**
 * Starts the vault owner inside the desktop app: the same agent as the
 * headless one (lock, vault, core, socket for apps and the CLI), with the
 * desktop's consent queue as its prompter and a browser launcher that only
 * opens the engine's authorization URLs. One per user: when the headless
 * agent already runs, this fails with `agent_running` and the app says so
 * instead of opening the vault a second time.
 */
import { startAgent, type RunningAgent, type StartAgentOptions } from '../agent/agent-main.js';
import type { KeySourceHealth } from '../../src-preload/contract.js';
import { DesktopPrompter } from './desktop-prompter.js';
import { DesktopService, type SettingsPort } from './desktop-service.js';
import { gatedBrowserLauncher } from './external-url.js';

export interface DesktopHostOptions extends Pick<StartAgentOptions, 'env' | 'paths' | 'logger' | 'identifyPeer' | 'now'> {
  settings: SettingsPort;
  /** Opens a URL in the system browser (Electron: shell.openExternal); only ever called behind the URL gate. */
  openExternal: (url: string) => Promise<void>;
  /** The desktop's key source; default the agent's choice from the environment and vault header. */
  keySourceFor?: NonNullable<StartAgentOptions['vault']>['keySourceFor'];
  /** What the UI says about the key source beyond the agent's description (e.g. the safeStorage backend). */
  keySourceWarning?: { encrypted: boolean; warning?: string };
}

export interface DesktopHost {
  agent: RunningAgent;
  service: DesktopService;
  prompter: DesktopPrompter;
  stop(): Promise<void>;
}

export async function startDesktopHost(options: DesktopHostOptions): Promise<DesktopHost> {
  const prompter = new DesktopPrompter(options.now);
  let endpoints: () => Promise<string[]> = async () => [];
  const browser = gatedBrowserLauncher(options.openExternal, () => endpoints());
  const agent = await startAgent({
    env: options.env,
    paths: options.paths,
    prompter,
    browser,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.identifyPeer ? { identifyPeer: options.identifyPeer } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.keySourceFor ? { vault: { keySourceFor: options.keySourceFor } } : {}),
  });
  const { core } = agent;
  endpoints = async () => {
    const found = await Promise.all(
      core.store.read().providers.map((p) => core.discovery.get(p).then((c) => c.serverMetadata().authorization_endpoint, () => undefined)),
    );
    return found.filter((e): e is string => Boolean(e));
  };
  const status = core.status();
  const keySource: KeySourceHealth = {
    ...status.keySource,
    encrypted: options.keySourceWarning?.encrypted ?? true,
    ...(options.keySourceWarning?.warning ? { warning: options.keySourceWarning.warning } : {}),
  };
  const service = new DesktopService({ core, prompter, settings: options.settings, keySource, browser });
  return {
    agent,
    service,
    prompter,
    async stop() {
      service.shutdown();
      await agent.stop();
    },
  };
}
