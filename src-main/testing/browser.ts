/**
 * Test-only: Playwright driving Debian's Chromium through the demo provider's
 * pages the way a person would in their own browser.
 *
 * The pages it knows (found by running them; see demo-provider.ts):
 * - devInteractions login: a form with `input[name=prompt][value=login]`,
 *   `input[name=login]`, `input[name=password]`, `button[type=submit]`;
 * - devInteractions consent: a form with `input[name=prompt][value=consent]`
 *   and `button[type=submit]` ("Continue");
 * - both have a "[ Cancel ]" link `a[href$="/abort"]`, which ends the request
 *   with `access_denied`;
 * - the demo provider's own pages carry `body[data-page]`: `device-code-input`,
 *   `device-code-confirm`, `device-success`, `device-error`, `logout`,
 *   `logged-out`, `error`.
 *
 * Every page is recognised by evaluating a {@link ProviderPages} script in a polling loop
 * bounded by one deadline: login and consent share a URL pattern, and a
 * private-use-scheme redirect never produces a new document.
 *
 * No `page.route()` here: with request interception on, Chromium reports the
 * redirect to a private-use scheme as a failed request without a response, so
 * its `Location` (the authorization response) could not be captured.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type BrowserContext, type Page, type Request, type Response } from 'playwright-core';

export const CHROMIUM_PATH = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** Why browser tests skip, for `describe.skipIf(!chromiumAvailable())` to print. */
export const CHROMIUM_MISSING = `browser tests skipped: ${CHROMIUM_PATH} is not installed (apt-get install chromium, or set LATCHKEY_CHROMIUM)`;

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Launches headless Chromium; the caller closes it (in `afterAll`). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
}

/** Where to drive: a page as is, or a new page in a context, or a new context (a fresh session) in a browser. */
export type BrowserTarget = Browser | BrowserContext | Page;

/**
 * How to recognise and work one provider's pages. The default,
 * {@link DEMO_PAGES}, knows the demo provider (oidc-provider); the interop
 * fixtures (src-main/testing/interop/) bring their own for Glewlwyd and
 * LemonLDAP::NG, whose login pages look nothing alike.
 */
export interface ProviderPages {
  /**
   * A script evaluated in the page that returns the kind of page showing
   * ('login', 'consent', 'logout', 'logged-out', 'device-code-input', …) or ''
   * while none is recognisable.
   */
  kindScript: string;
  /**
   * True for a single-page app that changes its view without a new document:
   * after an action, the same kind of page does not count as the next one.
   */
  sameDocument?: boolean;
  /** Fills in and submits the login form. */
  login(page: Page, options: SignInOptions): Promise<void>;
  /** Consents (or, with `consent: false`, declines) on the consent page. */
  consent(page: Page, options: SignInOptions): Promise<void>;
  /** Confirms the "sign me out" question of an RP-initiated logout. */
  confirmLogout?(page: Page): Promise<void>;
  /** Works one page of the device flow's code entry and confirmation; returns false for a kind it does not know. */
  device?(page: Page, kind: string, options: SignInOptions): Promise<boolean>;
}

export interface SignInOptions {
  /** The provider's pages; default the demo provider's. */
  pages?: ProviderPages;
  /** Login name at the demo provider; it becomes the subject. Default `demo`. */
  login?: string;
  /** Any password works at the demo provider. */
  password?: string;
  /** `false` clicks "Cancel" on the consent page, so the provider answers `access_denied`. Default true. */
  consent?: boolean;
  /**
   * `true`: fail unless the provider asks for the password; `false`: fail if it
   * does instead of typing it in (a reused session must not prompt again).
   */
  expectLoginForm?: boolean;
  /** The device flow's user code, for providers whose page asks for it to be typed in. */
  userCode?: string;
  /** Bound on the whole sign-in (default 20 s). */
  timeoutMs?: number;
}

export interface SignInResult {
  sawLoginForm: boolean;
  sawConsent: boolean;
  /**
   * The authorization response URL the provider sent the browser to. Loopback:
   * the URL the browser requested from the app under test. Private-use scheme:
   * the `Location` of the provider's redirect, which Chromium cannot open.
   */
  redirectUrl: string;
}

export interface SignOutResult {
  /** Where the browser ended: the provider's "signed out" page, or the post_logout_redirect_uri. */
  finalUrl: string;
}

export interface DeviceApprovalResult {
  sawLoginForm: boolean;
  sawConsent: boolean;
  /** false when the user cancelled at the consent page (`consent: false`). */
  approved: boolean;
}

/** Returns the kind of page showing, or '' while none is recognisable (or the document is stale). */
const PAGE_KIND = `(() => {
  if (window.__latchkeyStale) return '';
  const prompt = document.querySelector('form input[name=prompt]');
  if (prompt) return prompt.value;
  return (document.body && document.body.dataset.page) || '';
})()`;
const MARK_STALE = 'window.__latchkeyStale = true';

/** The demo provider's pages (oidc-provider's devInteractions plus the demo's own `data-page` pages). */
export const DEMO_PAGES: ProviderPages = {
  kindScript: PAGE_KIND,
  login: async (page, options) => {
    await page.fill('input[name=login]', options.login ?? 'demo');
    await page.fill('input[name=password]', options.password ?? 'demo');
    await act(page, () => page.click('form button[type=submit]'));
  },
  consent: (page, options) => act(page, () => page.click(options.consent === false ? 'a[href$="/abort"]' : 'form button[type=submit]')),
  confirmLogout: (page) => act(page, () => page.click('button[name=logout][value=yes]')),
  device: async (page, kind) => {
    if (kind === 'device-code-input') await act(page, () => page.click('button[form="op.deviceInputForm"]'));
    else if (kind === 'device-code-confirm') await act(page, () => page.click('button[form="op.deviceConfirmForm"]:not([name=abort])'));
    else return false;
    return true;
  },
};
const DONE = Symbol('done');
const MAX_STEPS = 8;

/**
 * Opens `authorizationUrl`, signs in and consents as needed, and resolves once
 * the provider has redirected to the client's redirect URI (and, for a loopback
 * redirect, the app under test has answered that request).
 */
export function signInAtProvider(target: BrowserTarget, authorizationUrl: string, options: SignInOptions = {}): Promise<SignInResult> {
  return withPage(target, (page) => driveSignIn(page, authorizationUrl, options));
}

/**
 * Approves a device authorization (RFC 8628 §3.3) at `verificationUriComplete`:
 * submits the prefilled user code, confirms it, signs in, consents (or cancels
 * when `consent: false`), and resolves on the provider's final page.
 */
export function approveDeviceCode(target: BrowserTarget, verificationUriComplete: string, options: SignInOptions = {}): Promise<DeviceApprovalResult> {
  return withPage(target, (page) => driveDeviceApproval(page, verificationUriComplete, options));
}

/**
 * Opens an RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0)
 * and confirms "Yes, sign me out"; resolves on the provider's "signed out"
 * page or once the browser has left the provider for the post-logout redirect.
 */
export function signOutAtProvider(target: BrowserTarget, endSessionUrl: string, options: Pick<SignInOptions, 'timeoutMs' | 'pages'> = {}): Promise<SignOutResult> {
  return withPage(target, async (page) => {
    const pages = options.pages ?? DEMO_PAGES;
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    const origin = new URL(endSessionUrl).origin;
    const left = () => !page.url().startsWith(origin);
    await page.goto(endSessionUrl, { waitUntil: 'commit', timeout: remaining(deadline) });
    let previous: string | undefined;
    for (let step = 0; step < MAX_STEPS; step++) {
      const kind = await nextPage(page, left, deadline, pages, previous);
      // A login page right after the confirmation also says the session is gone (LemonLDAP::NG shows its portal).
      if (kind === DONE || kind === 'logged-out' || (kind === 'login' && previous === 'logout')) return { finalUrl: page.url() };
      if (kind !== 'logout' || !pages.confirmLogout) throw new Error(`Unexpected page while signing out (${kind}): ${await describe(page)}`);
      await pages.confirmLogout(page);
      previous = kind;
    }
    throw new Error(`The sign-out did not finish within ${MAX_STEPS} pages: ${await describe(page)}`);
  });
}

async function driveSignIn(page: Page, authorizationUrl: string, options: SignInOptions): Promise<SignInResult> {
  const pages = options.pages ?? DEMO_PAGES;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const authorization = new URL(authorizationUrl);
  const expected = authorization.searchParams.get('redirect_uri');
  // Without redirect_uri (e.g. a pushed request) anything outside the provider counts as the redirect.
  const isRedirect = (url: string) =>
    expected ? url.split(/[?#]/)[0] === expected : !url.startsWith(authorization.origin) && /^[a-z][a-z0-9+.-]*:/i.test(url);
  const same = (a: string, b: string) => URL.parse(a)?.href === URL.parse(b)?.href;

  let redirectUrl: string | undefined;
  let finished = false;
  const onLocation = (status: number, location: string | undefined) => {
    if (redirectUrl || !location || status < 300 || status > 399 || !isRedirect(location)) return;
    redirectUrl = location;
    // Chromium cannot open a private-use scheme (the navigation is aborted): the redirect itself is the hand-off.
    if (!/^https?:/i.test(location)) finished = true;
  };
  const onResponse = (response: Response) => onLocation(response.status(), response.headers()['location']);
  // A form POST answered with a redirect to a private-use scheme (LemonLDAP::NG after its login form) is
  // aborted without any Playwright `response`; the DevTools protocol still reports its headers.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceivedExtraInfo', (event) => onLocation(event.statusCode, event.headers['location'] ?? event.headers['Location']));
  // A loopback redirect really loads: done once the app under test has answered (or refused) it.
  const onRequestDone = (request: Request) => {
    if (redirectUrl && same(request.url(), redirectUrl)) finished = true;
  };
  page.on('response', onResponse);
  page.on('requestfinished', onRequestDone);
  page.on('requestfailed', onRequestDone);

  const result = { sawLoginForm: false, sawConsent: false };
  try {
    await page.goto(authorizationUrl, { waitUntil: 'commit', timeout: remaining(deadline) }).catch((err: unknown) => {
      // With a live session the provider redirects at once; to a private-use scheme that aborts the navigation.
      if (!redirectUrl) throw err;
    });
    let previous: string | undefined;
    for (let step = 0; step < MAX_STEPS; step++) {
      const kind = await nextPage(page, () => finished, deadline, pages, previous);
      if (kind === DONE) {
        if (options.expectLoginForm === true && !result.sawLoginForm) throw new Error('The provider did not ask for the password, but the test expected it to.');
        return { ...result, redirectUrl: redirectUrl! };
      }
      if (kind === 'login') {
        if (options.expectLoginForm === false) throw new Error('The provider asked for the password, but the test expected the session to be reused.');
        result.sawLoginForm = true;
        await pages.login(page, options);
      } else if (kind === 'consent') {
        result.sawConsent = true;
        await pages.consent(page, options);
      } else {
        throw new Error(`Unexpected page at the provider (${kind}): ${await describe(page)}`);
      }
      previous = kind;
    }
    throw new Error(`The sign-in did not finish within ${MAX_STEPS} pages: ${await describe(page)}`);
  } finally {
    page.off('response', onResponse);
    page.off('requestfinished', onRequestDone);
    page.off('requestfailed', onRequestDone);
    await cdp.detach().catch(() => undefined);
  }
}

async function driveDeviceApproval(page: Page, verificationUriComplete: string, options: SignInOptions): Promise<DeviceApprovalResult> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const result = { sawLoginForm: false, sawConsent: false };
  const pages = options.pages ?? DEMO_PAGES;
  await page.goto(verificationUriComplete, { waitUntil: 'commit', timeout: remaining(deadline) });
  let previous: string | undefined;
  for (let step = 0; step < MAX_STEPS; step++) {
    const kind = await nextPage(page, () => false, deadline, pages, previous);
    if (kind === DONE) break; // never: nothing but a page ends this loop
    previous = kind;
    if (await pages.device?.(page, kind, options)) continue;
    switch (kind) {
      case 'login':
        result.sawLoginForm = true;
        await pages.login(page, options);
        break;
      case 'consent':
        result.sawConsent = true;
        await pages.consent(page, options);
        break;
      case 'device-success':
        return { ...result, approved: true };
      // The code page comes back as device-error when the code is wrong, expired or used, or the user cancelled.
      case 'device-error':
        if (options.consent === false && result.sawConsent) return { ...result, approved: false };
        throw new Error(`The provider rejected the device sign-in: ${await describe(page)}`);
      default:
        throw new Error(`Unexpected device flow page (${String(kind)}): ${await describe(page)}`);
    }
  }
  throw new Error(`The device flow did not finish within ${MAX_STEPS} pages: ${await describe(page)}`);
}

/** Marks the current document stale, then acts: the next page is only recognised in a new document. */
export async function act(page: Page, action: () => Promise<void>): Promise<void> {
  await page.evaluate(MARK_STALE);
  await action();
}

/**
 * Waits, polling, until a known page shows or `isDone()`; never past the
 * deadline. On a single-page app the page just acted on (`previous`) does not count.
 */
async function nextPage(page: Page, isDone: () => boolean, deadline: number, pages: ProviderPages, previous?: string): Promise<string | typeof DONE> {
  while (Date.now() < deadline) {
    if (isDone()) return DONE;
    // Evaluating during a navigation throws (the context is destroyed); that just means "not yet".
    const kind = await page.evaluate<string>(pages.kindScript).catch(() => '');
    if (kind && !(pages.sameDocument && kind === previous)) return kind;
    await sleep(25);
  }
  throw new Error(`Timed out waiting for the provider: ${await describe(page)}`);
}

async function describe(page: Page): Promise<string> {
  const text = await page
    .evaluate<string>('document.body ? document.body.innerText : ""')
    .catch(() => '');
  return `${page.url()}\n${text.replace(/\s+/g, ' ').trim().slice(0, 400)}`;
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

async function withPage<T>(target: BrowserTarget, drive: (page: Page) => Promise<T>): Promise<T> {
  if ('goto' in target) return drive(target);
  // A Browser gets a fresh context: provider sessions (cookies) are per context.
  const context = 'newContext' in target ? await target.newContext() : target;
  const page = await context.newPage();
  try {
    return await drive(page);
  } finally {
    await (context === target ? page.close() : context.close());
  }
}
