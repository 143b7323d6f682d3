/**
 * The desktop UI end to end, in Debian's Chromium: the built renderer served
 * on 127.0.0.1, its preload API bridged to a real DesktopService (agent core,
 * vault, broker, socket) in this process, a real oidc-provider, and a second
 * Chromium context as "the system browser" for sign-ins. Apps are real SDK
 * clients on the agent's socket. Screenshots of each view and the consent
 * prompt land in e2e/artifacts/ and must not be blank.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createLogger } from '../src-main/log/logger.js';
import type { LatchkeyPaths } from '../src-main/platform/paths.js';
import { startDemoProvider, type DemoProvider } from '../src-main/demo/demo-provider.js';
import { startDesktopHost, type DesktopHost } from '../src-main/desktop/desktop-host.js';
import { memorySettings } from '../src-main/desktop/desktop-service.js';
import { LatchkeyClient } from '../src-main/sdk/latchkey-client.js';
import { chromiumAvailable, CHROMIUM_MISSING, launchBrowser, signInAtProvider } from '../src-main/testing/browser.js';
import { serveRenderer } from './support/static-server.js';
import { bridgePreload } from './support/preload-bridge.js';
import { saveScreenshot } from './support/screenshots.js';
import { createTestHome } from '../src-main/testing/test-home.js';
import { shortFingerprint } from '../src-main/broker/short-fingerprint.js';
import { copyNode, runClientProcess } from '../src-main/testing/node-copy-client.js';

const hasChromium = chromiumAvailable();
if (!hasChromium) console.warn(`SKIP desktop UI e2e: ${CHROMIUM_MISSING}`);
const RENDERER = join(import.meta.dirname, '..', 'dist', 'renderer');

describe.skipIf(!hasChromium)('desktop UI: sign in, consent, connected apps, activity, sign out', () => {
  let dir: string;
  let paths: LatchkeyPaths;
  let demo: DemoProvider;
  let browser: Browser;
  let host: DesktopHost;
  let site: Awaited<ReturnType<typeof serveRenderer>>;
  let page: Page;
  const clients: LatchkeyClient[] = [];
  const pageErrors: string[] = [];
  const logger = createLogger({ level: 'silent' });

  async function app(id: string, name: string): Promise<LatchkeyClient> {
    const c = await LatchkeyClient.connect({ appId: id, name, version: '2.1.0', keyPath: join(dir, 'apps', id, 'key.json'), socket: paths.socket });
    clients.push(c);
    return c;
  }

  async function shot(name: string): Promise<void> {
    const s = await saveScreenshot(page, name);
    expect(s.bytes, `${name}.png is too small to show anything`).toBeGreaterThan(8_000);
    expect(s.colours, `${name}.png looks blank`).toBeGreaterThan(20);
  }

  async function go(view: string): Promise<void> {
    await page.getByRole('link', { name: view }).click();
    await page.getByRole('heading', { level: 2, name: view === 'Settings' ? 'Providers' : view }).waitFor();
  }

  beforeAll(async () => {
    const home = await createTestHome('latchkey-ui-');
    dir = home.dir;
    const env = home.env;
    paths = home.paths;
    [demo, browser, site] = await Promise.all([startDemoProvider({ logger }), launchBrowser(), serveRenderer(RENDERER)]);
    host = await startDesktopHost({
      env,
      paths,
      logger,
      settings: memorySettings(),
      // "The system browser": a fresh Chromium context signs in as alice, after a moment so the UI shows its progress.
      openExternal: async (url) => {
        setTimeout(() => void signInAtProvider(browser, url, { login: 'alice' }).catch((err) => pageErrors.push(`sign-in: ${String(err)}`)), 700);
      },
    });
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    await bridgePreload(page, host.service);
    await page.goto(site.url);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await host?.stop();
    await browser?.close();
    await site?.close();
    await demo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('adds a provider in Settings after a live discovery check', async () => {
    await go('Settings');
    const form = page.getByRole('form', { name: 'Add a provider' });
    // A failed check says one sentence, and goes away once the address is edited.
    await form.getByLabel('Issuer URL').fill('http://127.0.0.1:9/nothing-here');
    await form.getByRole('button', { name: 'Check' }).click();
    const checkError = form.getByRole('alert');
    await checkError.waitFor();
    const sentence = (await checkError.textContent())!;
    expect(sentence.trim()).toMatch(/[.!?]$/);
    expect(sentence.trim().slice(0, -1)).not.toMatch(/[.!?]\s+[A-Z]/);
    await form.getByLabel('Issuer URL').fill('http://127.0.0.1:9/nothing-her');
    await checkError.waitFor({ state: 'detached' });
    // Each radio button sits right beside its label.
    for (const label of ['Loopback (http://127.0.0.1)', 'URL scheme (dev.latchkey.app:/callback)']) {
      const radio = (await form.getByRole('radio', { name: label }).boundingBox())!;
      const text = (await form.getByText(label, { exact: true }).boundingBox())!;
      expect(text.x - (radio.x + radio.width), `gap between the radio and "${label}"`).toBeLessThan(16);
      expect(Math.abs(text.y + text.height / 2 - (radio.y + radio.height / 2))).toBeLessThan(8);
    }
    await form.getByLabel('Name').fill('work');
    await form.getByLabel('Issuer URL').fill(demo.issuer);
    await form.getByRole('button', { name: 'Check' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toContain(`Found ${demo.issuer}`);
    await form.getByLabel('Client id').fill('latchkey-demo');
    await form.getByRole('button', { name: 'Add provider' }).click();
    await page.locator('li[data-provider=work]').waitFor();
    await expect.poll(() => page.locator('[data-key-source=passphrase]').textContent()).toContain('Healthy');
    await shot('settings');
  });

  it('signs in: "continue in your browser", then the account shows', async () => {
    await go('Accounts');
    await page.getByRole('button', { name: 'Sign in with work' }).click();
    await page.getByText('Continue in your browser').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).waitFor();
    await page.locator('li.account').filter({ hasText: 'alice@demo.latchkey.test' }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('li.account').textContent()).toContain('Signed in');
    // The provider's card offers "Sign in" again (another account): it does not also say "Signed in.".
    const card = page.locator('li.card[data-provider=work]');
    await card.getByRole('button', { name: 'Sign in with work' }).waitFor();
    expect(await card.textContent()).not.toContain('Signed in.');
    await shot('accounts');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('accounts-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('consent from an SDK client: allow once, always allow, deny', async () => {
    const notes = await app('com.example.notes', 'Example Notes');
    // Allow once: one token, nothing remembered.
    const first = notes.getAuthTokens({ provider: 'work', scope: 'openid email' });
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    await expect.poll(() => dialog.textContent()).toContain('Example Notes');
    const text = (await dialog.textContent())!;
    expect(text).toContain(notes.keyFingerprint);
    expect(text).toContain('see your email address');
    expect(text).toContain('alice@demo.latchkey.test');
    expect(text).toMatch(/Denied automatically in \d+ s/);
    // Focus starts on Deny, so Enter never allows by accident.
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Deny');
    await shot('consent');
    await dialog.getByRole('button', { name: 'Allow once' }).click();
    expect((await first).scope.split(' ').sort()).toEqual(['email', 'openid']);
    await dialog.waitFor({ state: 'detached' });
    await expect(notes.tryGetAuthTokens({ provider: 'work', scope: 'openid email' })).rejects.toMatchObject({ code: 'consent_required' });

    // Always allow: remembered, silent next time.
    const second = notes.getAuthTokens({ provider: 'work', scope: 'openid email' });
    await dialog.getByRole('button', { name: 'Always allow' }).click();
    await second;
    await expect(notes.tryGetAuthTokens({ provider: 'work', scope: 'email' })).resolves.toMatchObject({ scope: 'email' });

    // An impostor: the same app id with another key. The warning leads, Deny is primary and focused.
    const impostor = await LatchkeyClient.connect({ appId: 'com.example.notes', name: 'Example Notes', version: '2.1.0', keyPath: join(dir, 'apps', 'impostor', 'key.json'), socket: paths.socket });
    clients.push(impostor);
    const faked = impostor.getAuthTokens({ provider: 'work', scope: 'openid email' });
    faked.catch(() => undefined); // asserted below, after Escape
    await page.locator('[role=alertdialog][data-warning=key_changed]').waitFor();
    expect(await dialog.getByRole('alert').textContent()).toContain(`com.example.notes was allowed before with a different key (${notes.keyFingerprint}); this may be another program pretending to be it.`);
    expect(await dialog.getByRole('button', { name: 'Deny' }).getAttribute('class')).toContain('primary');
    for (const name of ['Allow once', 'Always allow']) expect((await dialog.getByRole('button', { name }).getAttribute('class')) ?? '').not.toContain('primary');
    await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Deny');
    await shot('consent-key-changed');
    // Tab and Shift+Tab stay inside the dialog.
    const focusInDialog = () => page.evaluate<boolean>(`Boolean(document.activeElement?.closest('[role=alertdialog]'))`);
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      expect(await focusInDialog(), `focus after Tab ${i + 1}`).toBe(true);
    }
    await dialog.getByRole('button', { name: 'Deny' }).focus();
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Always allow');
    // Escape denies.
    await page.keyboard.press('Escape');
    await expect(faked).rejects.toMatchObject({ code: 'access_denied' });
    await page.locator('[role=alertdialog][data-warning=key_changed]').waitFor({ state: 'detached' });

    // A new app id claiming the allowed app's name. Enter, with focus left on the page behind, denies and starts nothing there.
    await page.getByRole('button', { name: 'Sign in with work' }).focus();
    const namesake = await app('com.example.notes-sync', 'Example Notes');
    const borrowed = namesake.getAuthTokens({ provider: 'work', scope: 'openid email' });
    borrowed.catch(() => undefined);
    await page.locator('[role=alertdialog][data-warning=name_clash]').waitFor();
    expect(await dialog.getByRole('alert').textContent()).toContain('Another app already uses the name "Example Notes": com.example.notes');
    await shot('consent-name-clash');
    await page.keyboard.press('Enter');
    await expect(borrowed).rejects.toMatchObject({ code: 'access_denied' });
    expect(await page.getByText('Continue in your browser').count()).toBe(0);

    // The allowed app id and key, run by another program (a copy of node elsewhere): the prompt names both programs.
    if (process.platform === 'linux') {
      const otherNode = await copyNode(dir, 'other-bin');
      const notesApp = { appId: 'com.example.notes', name: 'Example Notes', keyPath: join(dir, 'apps', 'com.example.notes', 'key.json'), socket: paths.socket };
      const copied = runClientProcess(otherNode, dir, notesApp, [{ method: 'get', provider: 'work', scope: 'openid email' }]);
      await page.locator('[role=alertdialog][data-warning=executable_changed]').waitFor();
      expect(await dialog.getByRole('alert').textContent()).toContain(`com.example.notes was allowed before as the program ${process.execPath}`);
      expect(await dialog.getByRole('alert').textContent()).toContain(`this program (${otherNode},`);
      await expect.poll(() => page.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Deny');
      await shot('consent-program-changed');
      await page.keyboard.press('Enter');
      expect((await copied).results).toEqual([expect.objectContaining({ ok: false, code: 'access_denied' })]);
      await page.locator('[role=alertdialog][data-warning=executable_changed]').waitFor({ state: 'detached' });
    } else {
      console.warn(`SKIP the changed-program prompt: peer executables are only identified on Linux (this is ${process.platform}).`);
    }

    // Deny: the app hears access_denied.
    const pushy = await app('com.example.pushy', 'Pushy Tool');
    const denied = pushy.getAuthTokens({ provider: 'work', scope: 'profile' });
    denied.catch(() => undefined); // asserted below, after the click
    await expect.poll(() => dialog.textContent()).toContain('Pushy Tool');
    await dialog.getByRole('button', { name: 'Deny' }).click();
    await expect(denied).rejects.toMatchObject({ code: 'access_denied' });
  });

  it('Connected apps lists the grant; revoke ends it', async () => {
    await go('Connected apps');
    const grant = page.locator('li.grant[data-app="com.example.notes"]');
    await grant.waitFor();
    const card = (await grant.textContent())!;
    expect(card).toContain('see your email address');
    // Who it really is (app id, short key fingerprint) and the account as people know it, not its internal id.
    expect(card).toContain('com.example.notes');
    expect(card).toContain(shortFingerprint(clients[0]!.keyFingerprint));
    expect(card).toContain('Account alice@demo.latchkey.test');
    expect(card).not.toContain(host.agent.core.engine.accounts()[0]!.id);
    await shot('connected-apps');
    await grant.getByRole('button', { name: /Revoke Example Notes/ }).click();
    await grant.waitFor({ state: 'detached' });
    await page.getByText('No app has a remembered permission').waitFor();
    const notes = clients[0]!;
    await expect(notes.tryGetAuthTokens({ provider: 'work', scope: 'email' })).rejects.toMatchObject({ code: 'consent_required' });
  });

  it('Activity shows the log with filters and the chart', async () => {
    await host.agent.core.broker.flush();
    await go('Activity');
    await page.locator('tr[data-event=consent_denied]').first().waitFor();
    await page.locator('figure.chart').waitFor();
    // Bars for the tokens given to Example Notes (allow once, always allow, and the silent tryGet).
    await expect.poll(() => page.locator('figure.chart rect:not([height="0"])').count()).toBeGreaterThan(0);
    // The impostors are told apart from the genuine app by their keys.
    const keyChange = page.locator('tr[data-event=key_changed]');
    await keyChange.waitFor();
    expect(await keyChange.textContent()).toContain(shortFingerprint(clients[1]!.keyFingerprint));
    expect(await page.locator('tr[data-event=name_clash]').textContent()).toContain('com.example.notes-sync');
    // At the default width, dates and accounts stay on one line each.
    const lineCounts = await page.evaluate<number[]>(`[...document.querySelectorAll('table.log td.nowrap')].map((td) => { const r = document.createRange(); r.selectNodeContents(td); return new Set([...r.getClientRects()].map((c) => Math.round(c.top))).size; })`);
    expect(lineCounts.length).toBeGreaterThan(0);
    expect(Math.max(...lineCounts)).toBe(1);
    // … and the whole log fits: nothing to scroll sideways.
    expect(await page.evaluate<boolean>(`(() => { const t = document.querySelector('.table-scroll'); return t.scrollWidth <= t.clientWidth; })()`)).toBe(true);
    await shot('activity');
    // At 600 px nothing is cut off: the Refresh button and the filters are in view (the log table scrolls on its own).
    await page.setViewportSize({ width: 600, height: 720 });
    for (const control of [page.getByRole('button', { name: 'Refresh' }), page.getByRole('combobox', { name: /^Since/ })]) {
      const box = (await control.boundingBox())!;
      expect(box.x + box.width, 'right edge at 600 px').toBeLessThanOrEqual(600);
    }
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(600);
    await shot('activity-600px');
    await page.setViewportSize({ width: 1100, height: 720 });
    await page.getByRole('combobox', { name: /^What/ }).selectOption('grant_revoked');
    await expect.poll(() => page.locator('table.log tbody tr').count()).toBe(1);
    await page.getByRole('combobox', { name: /^What/ }).selectOption('');
    await page.getByRole('combobox', { name: /^App/ }).selectOption('com.example.pushy');
    await expect.poll(async () => (await page.locator('table.log tbody').textContent())?.includes('Example Notes')).toBe(false);
  });

  it('signs out', async () => {
    await go('Accounts');
    await page.getByRole('button', { name: 'Sign out alice@demo.latchkey.test' }).click();
    await page.getByText('No accounts yet').waitFor();
    expect(host.agent.core.engine.accounts()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('a sign-in that gets no refresh token says so, with the reason and the fix', async () => {
    // Set to skip prompt=consent, against a provider (oidc-provider's defaults) that then drops offline_access.
    await host.agent.core.addProvider({ name: 'strict', issuer: demo.issuer, clientId: 'latchkey-demo', refreshWithoutConsent: true });
    await go('Settings');
    await go('Accounts');
    await page.getByRole('button', { name: 'Sign in with strict' }).click();
    const warning = page.locator('li[data-provider=strict] [data-warning=refresh_token_not_issued]');
    await warning.waitFor({ timeout: 20_000 });
    expect(await warning.textContent()).toMatch(/issued no refresh token.*--prompt consent/);
    expect(await page.locator('li[data-provider=strict] [role=status]').textContent()).toContain('Done: the account is listed above.');
    expect(pageErrors).toEqual([]);
  });
});
