/**
 * Test-only: Playwright driving Debian's Chromium through the demo provider's
 * login and consent pages (oidc-provider devInteractions), the way a person
 * would in their own browser.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';

export const CHROMIUM_PATH = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export interface SignInResult {
  sawLoginForm: boolean;
  sawConsent: boolean;
  /** Where the provider sent the browser back: a loopback URL, or a private-use-scheme URL captured from the redirect. */
  redirectUrl: string;
}

export interface SignInOptions {
  login?: string;
  password?: string;
  /** false clicks "Cancel" on the consent page, so the provider answers access_denied. */
  consent?: boolean;
  timeoutMs?: number;
}

const STEP_LIMIT = 8;

/**
 * Opens `authorizationUrl`, signs in and consents as needed, and returns once
 * the provider has redirected back to the client.
 */
export async function signInAtProvider(page: Page, authorizationUrl: string, options: SignInOptions = {}): Promise<SignInResult> {
  const providerOrigin = new URL(authorizationUrl).origin;
  const timeoutMs = options.timeoutMs ?? 15_000;
  let schemeRedirect: string | undefined;
  const onResponse = (response: Response) => {
    const location = response.headers()['location'];
    // Chromium cannot open a private-use scheme headless; the 30x that points there is the hand-off.
    if (location && response.status() >= 300 && response.status() < 400 && !/^(https?:|\/)/.test(location)) schemeRedirect = location;
  };
  page.on('response', onResponse);
  const result: SignInResult = { sawLoginForm: false, sawConsent: false, redirectUrl: '' };
  const leftProvider = () => schemeRedirect !== undefined || (page.url().startsWith('http') && !page.url().startsWith(providerOrigin));
  const settle = async (before: string) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !leftProvider() && page.url() === before) await page.waitForTimeout(25);
    await page.waitForLoadState('domcontentloaded').catch(() => undefined);
  };
  try {
    await page.goto(authorizationUrl).catch((err: Error) => {
      if (!schemeRedirect) throw err;
    });
    for (let step = 0; step < STEP_LIMIT && !leftProvider(); step++) {
      const before = page.url();
      if (await page.locator('input[name=login]').count()) {
        result.sawLoginForm = true;
        await page.fill('input[name=login]', options.login ?? 'demo');
        await page.fill('input[name=password]', options.password ?? 'demo');
        await page.click('button[type=submit]').catch(() => undefined);
      } else if (await page.locator('input[name=prompt][value=consent]').count()) {
        result.sawConsent = true;
        if (options.consent === false) await page.click('a[href$="/abort"]').catch(() => undefined);
        else await page.click('button[type=submit]').catch(() => undefined);
      } else if (step > 0) {
        throw new Error(`Unexpected page at the provider: ${page.url()}\n${(await page.content()).slice(0, 500)}`);
      }
      await settle(before);
    }
    if (!leftProvider()) throw new Error(`The provider did not redirect back (still at ${page.url()})`);
    result.redirectUrl = schemeRedirect ?? page.url();
    return result;
  } finally {
    page.off('response', onResponse);
  }
}

/** Approves a device authorization (RFC 8628) at `verificationUriComplete`: confirm the code, sign in, consent. */
export async function approveDeviceCode(page: Page, verificationUriComplete: string, options: SignInOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  await page.goto(verificationUriComplete);
  for (let step = 0; step < STEP_LIMIT; step++) {
    const before = page.url();
    const text = await page.content();
    if (/Sign-in Success|successfully signed in|can close this window/i.test(text)) return;
    if (await page.locator('input[name=login]').count()) {
      await page.fill('input[name=login]', options.login ?? 'demo');
      await page.fill('input[name=password]', options.password ?? 'demo');
      await page.click('button[type=submit]');
    } else if (await page.locator('input[name=prompt][value=consent]').count()) {
      await page.click('button[type=submit]');
    } else if (await page.locator('button[type=submit], input[type=submit]').count()) {
      // The user-code confirmation page.
      await page.locator('button[type=submit], input[type=submit]').first().click();
    } else {
      throw new Error(`Unexpected device flow page: ${page.url()}\n${text.slice(0, 500)}`);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && page.url() === before && (await page.content()) === text) await page.waitForTimeout(25);
    await page.waitForLoadState('domcontentloaded').catch(() => undefined);
  }
  throw new Error(`The device flow did not finish (at ${page.url()})`);
}
