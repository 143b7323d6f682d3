/**
 * The preload API for a plain browser page: `window.latchkey` with the same
 * shape as src-preload/preload.ts, bridged with `exposeBinding` to a real
 * DesktopService (or the DesktopApp in front of it) in the test process
 * instead of Electron IPC.
 */
import type { Page } from 'playwright-core';
import type { DesktopService } from '../../src-main/desktop/desktop-service.js';

const INIT = `(() => {
  const listeners = new Set();
  window.__latchkeyDispatch = (event) => { for (const l of listeners) l(event); };
  window.latchkey = Object.freeze({
    invoke: (channel, params) => window.__latchkeyInvoke(channel, params),
    onEvent(listener) { listeners.add(listener); return () => listeners.delete(listener); },
  });
})()`;

export async function bridgePreload(page: Page, service: Pick<DesktopService, 'call' | 'events'>): Promise<() => void> {
  await page.exposeBinding('__latchkeyInvoke', (_source, channel: unknown, params: unknown) => service.call(channel, params));
  await page.addInitScript(INIT);
  const forward = (event: unknown) => void page.evaluate((e) => (globalThis as unknown as { __latchkeyDispatch?: (e: unknown) => void }).__latchkeyDispatch?.(e), event).catch(() => undefined);
  service.events.on('event', forward);
  return () => void service.events.off('event', forward);
}
