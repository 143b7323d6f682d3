/**
 * The real desktop app under Electron (`_electron.launch`): hardened window,
 * preload API present, Node absent, first run offers a provider. Runs
 * wherever the Electron binary exists; elsewhere it prints why it skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { electronBinary, ELECTRON_MISSING } from '../src-main/electron/launch.js';
import { createTestHome } from '../src-main/testing/test-home.js';

const binary = electronBinary();
if (!binary) console.warn(`SKIP Electron app e2e: ${ELECTRON_MISSING}`);

describe.skipIf(!binary)('the Electron app', () => {
  let dir: string;
  let electronApp: ElectronApplication;
  let window: Page;

  beforeAll(async () => {
    const home = await createTestHome('latchkey-electron-');
    dir = home.dir;
    electronApp = await _electron.launch({
      executablePath: binary!,
      args: [join(import.meta.dirname, '..'), '--no-sandbox'],
      env: { ...process.env, ...home.env },
    });
    window = await electronApp.firstWindow();
  });

  afterAll(async () => {
    await electronApp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens Settings on first run, with the preload API and without Node', async () => {
    await window.getByRole('heading', { name: 'Providers' }).waitFor();
    expect(await window.evaluate('typeof window.latchkey.invoke')).toBe('function');
    expect(await window.evaluate('typeof require')).toBe('undefined');
    expect(await window.evaluate('typeof process')).toBe('undefined');
  });

  it('refuses navigation and new windows', async () => {
    const url = window.url();
    await window.evaluate('location.href = "https://example.com/"').catch(() => undefined);
    await window.waitForTimeout(300);
    expect(window.url()).toBe(url);
    await window.evaluate('window.open("https://example.com/")');
    await window.waitForTimeout(300);
    expect(electronApp.windows()).toHaveLength(1);
  });
});
