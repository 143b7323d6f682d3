/**
 * Test-only: an OIDC engine over an in-memory vault, and a sign-in through it
 * in Chromium that also returns what the provider was asked (the authorization
 * URL) and what the person was told (warnings).
 */
import type { Browser } from 'playwright-core';
import type { Logger } from '../log/logger.js';
import { emptyVaultDocument, type VaultDocument } from '../store/vault-document.js';
import { MemoryStore } from './memory-store.js';
import { SchemeCallbackRouter } from '../engine/callback/scheme-receiver.js';
import { DiscoveryCache } from '../engine/discovery.js';
import { OidcEngine, type AuthorizeOptions } from '../engine/oidc-engine.js';
import type { AccountSummary } from '../engine/accounts.js';
import type { SignInWarning } from '../engine/offline-access.js';
import { signInAtProvider } from './browser.js';

export interface EngineHarness {
  store: MemoryStore<VaultDocument>;
  discovery: DiscoveryCache;
  engine: OidcEngine;
}

export function createEngineHarness(logger: Logger, options: { now?: () => number } = {}): EngineHarness {
  const store = new MemoryStore(emptyVaultDocument());
  const discovery = new DiscoveryCache({ timeoutSeconds: 10 });
  const engine = new OidcEngine({ store, discovery, schemeRouter: new SchemeCallbackRouter(), logger, callbackTimeoutMs: 30_000, ...options });
  return { store, discovery, engine };
}

export interface BrowserSignIn {
  account: AccountSummary;
  /** The authorization request as sent to the provider. */
  request: URL;
  warnings: SignInWarning[];
}

/** A loopback sign-in in a fresh browser context, as `login` at the provider. */
export async function signInThroughBrowser(
  harness: EngineHarness,
  browser: Browser,
  options: Omit<Partial<AuthorizeOptions>, 'onAuthorizationUrl' | 'onWarning'> & { login?: string },
): Promise<BrowserSignIn> {
  const { login, ...authorize } = options;
  const warnings: SignInWarning[] = [];
  let request: URL | undefined;
  const account = await harness.engine.authorize({
    ...authorize,
    onAuthorizationUrl: async (url) => {
      request = new URL(url);
      await signInAtProvider(browser, url, { login: login ?? 'alice' });
    },
    onWarning: (w) => void warnings.push(w),
  });
  return { account, request: request!, warnings };
}
