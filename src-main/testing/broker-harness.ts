/**
 * Test-only: the world the broker's end-to-end suites run in, set up and torn
 * down in one place: a private test home, the demo provider, real Chromium,
 * the real agent (its "system browser" signs in at the demo provider through
 * Chromium) and an owner connection that has added the demo provider as
 * `work`. Only the consent prompter is the suite's to choose.
 */
import { rm } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { startAgent, type RunningAgent } from '../agent/agent-main.js';
import type { ConsentPrompter } from '../broker/consent-prompter.js';
import { startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import type { Logger } from '../log/logger.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { LatchkeyClient } from '../sdk/latchkey-client.js';
import { connectOwner } from '../wire/owner-client.js';
import type { RpcClient } from '../wire/rpc-client.js';
import { launchBrowser, signInAtProvider } from './browser.js';
import { createTestHome, type TestHome, type TestHomeOptions } from './test-home.js';

export interface BrokerHarnessOptions {
  /** Prefix of the test home's temp directory. */
  prefix: string;
  home?: TestHomeOptions;
  /** The agent's logger (and the demo provider's, unless `providerLogger` is given). */
  logger: Logger;
  providerLogger?: Logger;
  /** Who answers consent prompts; given the home's paths (the policy file lives there). */
  prompter: (paths: LatchkeyPaths) => ConsentPrompter;
  /** The scope `latchkey providers add` gives the `work` provider. */
  scope: string;
  /** Who signs in when the agent opens a sign-in page (called with its URL); default alice. */
  signInAs?: (url: string) => string;
  /** The agent's clock (default: the real one). */
  now?: () => number;
}

export interface BrokerHarness {
  dir: string;
  env: TestHome['env'];
  paths: LatchkeyPaths;
  demo: DemoProvider;
  browser: Browser;
  agent: RunningAgent;
  /** The owner's connection (what the CLI uses), with the `work` provider added. */
  owner: RpcClient;
  /** An SDK client connected to the agent; close() closes it. */
  connectApp(app: { appId: string; name: string; keyPath: string; version?: string }): Promise<LatchkeyClient>;
  /** Closes the apps, the owner connection, the agent, Chromium and the provider, then removes the home. */
  close(): Promise<void>;
}

export async function startBrokerHarness(options: BrokerHarnessOptions): Promise<BrokerHarness> {
  const { logger } = options;
  const home = await createTestHome(options.prefix, options.home);
  const clients: LatchkeyClient[] = [];
  let demo: DemoProvider | undefined;
  let browser: Browser | undefined;
  let agent: RunningAgent | undefined;
  let owner: RpcClient | undefined;
  const close = async () => {
    await Promise.all(clients.map((c) => c.close()));
    await owner?.close();
    await agent?.stop();
    await browser?.close();
    await demo?.close();
    await rm(home.dir, { recursive: true, force: true });
  };
  try {
    [demo, browser] = await Promise.all([startDemoProvider({ logger: options.providerLogger ?? logger }), launchBrowser()]);
    const signInBrowser = browser;
    agent = await startAgent({
      env: home.env,
      paths: home.paths,
      logger,
      ...(options.now ? { now: options.now } : {}),
      prompter: options.prompter(home.paths),
      browser: {
        open: async (url) => {
          const login = options.signInAs?.(url) ?? 'alice';
          void signInAtProvider(signInBrowser, url, { login }).catch((err) => logger.error({ err }, 'test browser sign-in failed'));
        },
      },
    });
    owner = await connectOwner(home.paths.socket, home.paths.ownerKey);
    await owner.call('admin.providers.add', { name: 'work', issuer: demo.issuer, client_id: 'latchkey-demo', scope: options.scope });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ...home,
    demo,
    browser,
    agent,
    owner,
    async connectApp(app) {
      const client = await LatchkeyClient.connect({ ...app, version: app.version ?? '1.0.0', socket: home.paths.socket });
      clients.push(client);
      return client;
    },
    close,
  };
}
