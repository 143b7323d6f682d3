/**
 * The desktop UI on a Linux desktop without a keyring: Electron's safeStorage
 * (a test double) reports `basic_text`, and no passphrase file is set. The
 * built renderer in Chromium, bridged to a real DesktopApp, says why, creates
 * a passphrase vault, and after a restart unlocks it (a wrong passphrase
 * first). Screenshots of both locked views land in e2e/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { captureLog } from '../src-main/testing/capture-log.js';
import { resolvePaths, type LatchkeyPaths } from '../src-main/platform/paths.js';
import { DesktopApp } from '../src-main/desktop/desktop-app.js';
import { chooseDesktopKeySource } from '../src-main/desktop/desktop-key-source.js';
import { memorySettings } from '../src-main/desktop/desktop-service.js';
import { fakeSafeStorage } from '../src-main/testing/safe-storage-double.js';
import { createTestHome, type TestHome } from '../src-main/testing/test-home.js';
import { chromiumAvailable, CHROMIUM_MISSING, launchBrowser } from '../src-main/testing/browser.js';
import { serveRenderer } from './support/static-server.js';
import { bridgePreload } from './support/preload-bridge.js';
import { saveScreenshot } from './support/screenshots.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(`SKIP desktop unlock e2e: ${CHROMIUM_MISSING}`);
const RENDERER = join(import.meta.dirname, '..', 'dist', 'renderer');
const PASSPHRASE = 'marble kettle orchard 7 swift';

describe.skipIf(!hasChromium)('desktop UI: no keyring (safeStorage basic_text) → passphrase', () => {
  let home: TestHome | undefined;
  let paths: LatchkeyPaths;
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serveRenderer>>;
  let app: DesktopApp | undefined;
  const log = captureLog('debug');
  const pageErrors: string[] = [];
  const env = () => home!.env;

  /** Starts the app as the Electron shell would on that desktop, and a window on it. */
  async function startApp(): Promise<Page> {
    app = await DesktopApp.launch({
      env: env(),
      paths,
      logger: log.logger,
      settings: memorySettings(),
      keys: chooseDesktopKeySource(fakeSafeStorage('basic_text'), env(), 'linux'),
      openExternal: async () => undefined,
    });
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    await bridgePreload(page, app);
    await page.goto(site.url);
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    const s = await saveScreenshot(page, name);
    expect(s.bytes, `${name}.png is too small to show anything`).toBeGreaterThan(8_000);
    expect(s.colours, `${name}.png looks blank`).toBeGreaterThan(20);
  }

  beforeAll(async () => {
    // No passphrase file: the app must ask for one.
    home = await createTestHome('latchkey-unlock-ui-', { passphraseFile: false });
    paths = resolvePaths(env());
    [browser, site] = await Promise.all([launchBrowser(), serveRenderer(RENDERER)]);
  });

  afterAll(async () => {
    await app?.stop();
    await browser?.close();
    await site?.close();
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  it('says why, refuses a short passphrase, creates the vault, then shows the accounts', async () => {
    const page = await startApp();
    const form = page.getByRole('form', { name: 'Protect your vault with a passphrase' });
    await form.waitFor();
    expect(await form.textContent()).toContain('safeStorage backend "basic_text"');
    expect(await form.textContent()).toContain('will not store its vault key unprotected');
    // The first field has the focus: type, Tab, type, Enter — no mouse needed.
    await expect.poll(() => page.evaluate<string | null | undefined>('document.activeElement?.getAttribute("name")')).toBe('passphrase');
    await shot(page, 'unlock-create');

    await page.keyboard.type('short one');
    await page.keyboard.press('Tab');
    await page.keyboard.type('short one');
    await page.keyboard.press('Enter');
    await expect.poll(() => form.getByRole('alert').textContent()).toContain('at least 12 characters');
    await expect(readFile(paths.vault)).rejects.toMatchObject({ code: 'ENOENT' });

    await form.getByLabel('New passphrase').fill(PASSPHRASE);
    await form.getByLabel('Repeat the passphrase').fill(PASSPHRASE);
    await form.getByRole('button', { name: 'Create vault' }).click();
    await page.getByRole('heading', { level: 2, name: 'Accounts' }).waitFor();
    expect(JSON.parse(await readFile(paths.vault, 'utf8'))).toMatchObject({ key: { kind: 'passphrase' } });
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect.poll(() => page.locator('[data-key-source=passphrase]').textContent()).toContain('Healthy');
    await page.close();
    await app!.stop();
  });

  it('restarted: locked; a wrong passphrase is refused inline and changes nothing; the right one opens it', async () => {
    const before = await readFile(paths.vault);
    const page = await startApp();
    const form = page.getByRole('form', { name: 'Unlock Latchkey' });
    await form.waitFor();
    await shot(page, 'unlock');

    await form.getByLabel('Passphrase').fill('marble kettle orchard 8 swift');
    await form.getByLabel('Passphrase').press('Enter');
    const alert = form.getByRole('alert');
    await expect.poll(() => alert.getAttribute('data-code')).toBe('vault_locked');
    expect(await alert.textContent()).toContain('does not open this vault');
    expect(await form.getByLabel('Passphrase').inputValue()).toBe('');
    expect(await readFile(paths.vault)).toEqual(before);
    expect(app!.host).toBeUndefined();

    await form.getByLabel('Passphrase').fill(PASSPHRASE);
    await form.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('heading', { level: 2, name: 'Accounts' }).waitFor();
    await page.getByText('No accounts yet').waitFor();
    expect(pageErrors).toEqual([]);
    expect(log.text()).not.toContain('marble kettle');
  });
});
