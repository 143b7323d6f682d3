/**
 * The Electron shell: thin glue, wired in one place. Everything with a rule
 * in it lives in Electron-free modules with tests: the desktop host and
 * service (src-main/desktop/), deep-link queueing, the IPC sender check, the
 * URL gate for shell.openExternal, the key source choice and the locked state.
 *
 * What it sets up:
 * - one instance per user (single-instance lock), the `dev.latchkey.app:`
 *   scheme, deep links from `open-url` (macOS) and `second-instance` argv
 *   (Windows, Linux) queued until the engine is ready;
 * - the vault owner in this process (DesktopApp); if the headless agent
 *   already owns the vault (`agent_running`), the app says so and quits; when
 *   no key source may open the vault on its own (Linux `basic_text`, or a
 *   passphrase vault without LATCHKEY_PASSPHRASE_FILE) the window asks for the
 *   passphrase first, and the tray and deep links wait for the open vault;
 * - hardened windows (context isolation, sandbox, no Node, CSP in the page,
 *   no navigation, no new windows, no permissions) and one IPC handler that
 *   checks its sender before anything else;
 * - a tray with accounts, sign in, sign out, pending consent, open, quit;
 *   a focused, on-top consent window whenever an app is waiting.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, safeStorage, session, shell, Tray, type MenuItemConstructorOptions } from 'electron';
import Store from 'electron-store';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolvePaths } from '../platform/paths.js';
import { DEFAULT_SCHEME_REDIRECT_URI } from '../engine/callback/scheme-receiver.js';
import { LatchkeyError, toWireError } from '../errors.js';
import { DesktopApp } from '../desktop/desktop-app.js';
import type { DesktopHost } from '../desktop/desktop-host.js';
import { DeepLinkQueue, deepLinksFromArgv } from '../desktop/deep-links.js';
import { isAllowedNavigation, isTrustedSender } from '../desktop/ipc-guard.js';
import { chooseDesktopKeySource } from '../desktop/desktop-key-source.js';
import type { SettingsPort } from '../desktop/desktop-service.js';
import { EVENT_CHANNEL, INVOKE_CHANNEL, type DesktopEvent, type DesktopSettings } from '../../src-preload/contract.js';

const SCHEME = new URL(DEFAULT_SCHEME_REDIRECT_URI).protocol.slice(0, -1);
const DIST = join(import.meta.dirname, '..', '..');
const RENDERER_URL = pathToFileURL(join(DIST, 'renderer', 'index.html')).href;
const PRELOAD = join(DIST, 'preload', 'preload.cjs');

let desktop: DesktopApp | undefined;
/** The vault owner, once the vault is open. */
let host: DesktopHost | undefined;
let mainWindow: BrowserWindow | undefined;
let consentWindow: BrowserWindow | undefined;
let tray: Tray | undefined;
const deepLinks = new DeepLinkQueue((url, err) => console.warn(`Ignored a ${SCHEME}: link: ${toWireError(err).message} (${url.slice(0, 80)})`));

if (!app.requestSingleInstanceLock()) {
  // The first instance gets our argv through `second-instance`.
  app.quit();
} else {
  app.setAsDefaultProtocolClient(SCHEME);
  app.on('open-url', (event, url) => {
    event.preventDefault();
    deepLinks.accept(url);
  });
  app.on('second-instance', (_event, argv) => {
    for (const url of deepLinksFromArgv(argv, SCHEME)) deepLinks.accept(url);
    showMain();
  });
  for (const url of deepLinksFromArgv(process.argv, SCHEME)) deepLinks.accept(url);
  app.on('window-all-closed', () => undefined); // the tray keeps the app (and the vault owner) running
  app.on('before-quit', () => void desktop?.stop());
  app.whenReady().then(start, (err: unknown) => fail(err));
}

async function start(): Promise<void> {
  hardenSessions();
  const env = process.env;
  try {
    desktop = await DesktopApp.launch({
      env,
      paths: resolvePaths(env),
      settings: electronSettings(),
      keys: chooseDesktopKeySource(safeStorage, env, process.platform),
      // Only reached through the URL gate: authorization requests the engine built.
      openExternal: (url) => shell.openExternal(url),
    });
  } catch (err) {
    return fail(err);
  }
  ipcMain.handle(INVOKE_CHANNEL, async (event, channel: unknown, params: unknown) => {
    const frame = event.senderFrame;
    if (!isTrustedSender(frame && { url: frame.url, isMainFrame: frame.parent === null }, RENDERER_URL)) return { ok: false, error: { code: 'unauthorized', message: 'IPC from an untrusted frame.' } };
    return desktop!.call(channel, params);
  });
  desktop.events.on('event', onDesktopEvent);
  tray = new Tray(nativeImage.createFromPath(join(DIST, '..', 'assets', 'tray.png')));
  tray.setToolTip('Latchkey');
  if (!desktop.host) showMain(); // locked: the window asks for the passphrase
  host = await desktop.opened;
  deepLinks.ready((url) => host!.agent.core.schemeRouter.deliver(url));
  refreshTray();
  if (!host.agent.core.providers().length) showMain('settings'); // offer the demo provider on first run
}

function onDesktopEvent(event: DesktopEvent): void {
  for (const w of [mainWindow, consentWindow]) if (w && !w.isDestroyed()) w.webContents.send(EVENT_CHANNEL, event);
  if (event.type === 'consent.changed') {
    if (event.pending.length) showConsent();
    else consentWindow?.close();
  }
  refreshTray();
}

function refreshTray(): void {
  if (!tray) return;
  if (!host) return tray.setContextMenu(Menu.buildFromTemplate([{ label: 'Unlock Latchkey…', click: () => showMain() }, { type: 'separator' }, { label: 'Quit', click: () => app.quit() }]));
  const { core, service } = { core: host.agent.core, service: host.service };
  const accounts = core.engine.accounts();
  const pending = host.prompter.pending();
  const items: MenuItemConstructorOptions[] = [
    ...accounts.map((a) => ({
      label: `${a.email ?? a.name ?? a.id} (${a.provider})${a.status === 'sign_in_needed' ? ' — sign-in needed' : ''}`,
      submenu: [{ label: 'Sign out', click: () => void service.call('accounts:sign-out', { account: a.id }) }],
    })),
    ...(accounts.length ? [{ type: 'separator' as const }] : []),
    {
      label: 'Sign in',
      submenu: core.providers().filter((p) => p.kind === 'user').map((p) => ({ label: p.name, click: () => void service.call('accounts:sign-in', { flowId: crypto.randomUUID(), provider: p.name }) })),
    },
    ...(pending.length ? [{ label: `${pending.length} app(s) waiting for your answer…`, click: () => showConsent() }] : []),
    { type: 'separator' },
    { label: 'Open Latchkey', click: () => showMain() },
    { label: 'Quit', click: () => app.quit() },
  ];
  tray.setContextMenu(Menu.buildFromTemplate(items));
}

function createWindow(options: Electron.BrowserWindowConstructorOptions, view: string): BrowserWindow {
  const win = new BrowserWindow({
    ...options,
    show: false,
    webPreferences: { preload: PRELOAD, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false, devTools: !app.isPackaged },
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.webContents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, RENDERER_URL)) event.preventDefault();
  });
  win.webContents.on('will-redirect', (event) => event.preventDefault());
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${RENDERER_URL}#${view}`);
  return win;
}

function showMain(view = 'accounts'): void {
  if (!desktop) return;
  if (!mainWindow || mainWindow.isDestroyed()) {
    mainWindow = createWindow({ width: 1100, height: 720, minWidth: 720, minHeight: 480, title: 'Latchkey' }, view);
  } else {
    mainWindow.show();
    mainWindow.focus();
  }
}

function showConsent(): void {
  if (consentWindow && !consentWindow.isDestroyed()) return void consentWindow.focus();
  consentWindow = createWindow({ width: 560, height: 620, resizable: false, alwaysOnTop: true, title: 'Latchkey — an app asks for access', minimizable: false }, 'consent');
  consentWindow.once('ready-to-show', () => consentWindow?.focus());
}

/** No remote content, no permissions (camera, notifications, …), nothing but our files. */
function hardenSessions(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.webRequest.onBeforeRequest((details, callback) => {
    const url = URL.parse(details.url);
    // Account pictures (https images) are the only remote content the CSP admits.
    const allowed = url?.protocol === 'file:' || url?.protocol === 'devtools:' || (url?.protocol === 'https:' && details.resourceType === 'image');
    callback({ cancel: !allowed });
  });
}

/** Start-at-login lives in electron-store (nothing secret) and in the OS login items. */
function electronSettings(): SettingsPort {
  const store = new Store<DesktopSettings>({ name: 'settings', defaults: { startAtLogin: false } });
  return {
    get: () => ({ startAtLogin: store.get('startAtLogin') }),
    set: (patch) => {
      if (patch.startAtLogin !== undefined) {
        store.set('startAtLogin', patch.startAtLogin);
        app.setLoginItemSettings({ openAtLogin: patch.startAtLogin });
      }
      return { startAtLogin: store.get('startAtLogin') };
    },
  };
}

function fail(err: unknown): void {
  const wire = toWireError(err);
  const message =
    wire.code === 'agent_running'
      ? `The Latchkey agent is already running for this user, and it owns your vault. Stop it with \`latchkey agent stop\`, then start the app again.\n\n${wire.message}`
      : wire.message;
  dialog.showErrorBox('Latchkey cannot start', message);
  app.exit(err instanceof LatchkeyError && err.code === 'agent_running' ? 6 : 1);
}
