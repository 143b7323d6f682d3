/**
 * The renderer's only door to the main process: `window.latchkey`, exposed
 * through contextBridge in a sandboxed, context-isolated preload. It forwards
 * only the contract's channels and passes plain values; it never hands the
 * renderer `ipcRenderer` itself. Bundled to CommonJS (sandboxed preloads
 * cannot load modules).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_CHANNEL, INVOKE_CHANNEL, isChannel, type DesktopEvent, type LatchkeyApi } from './contract.js';

const api: LatchkeyApi = {
  invoke: ((channel: string, params?: unknown) => {
    if (!isChannel(channel)) return Promise.resolve({ ok: false, error: { code: 'usage', message: `Unknown channel ${channel}` } });
    return ipcRenderer.invoke(INVOKE_CHANNEL, channel, params);
  }) as LatchkeyApi['invoke'],
  onEvent(listener) {
    const wrapped = (_event: IpcRendererEvent, payload: DesktopEvent) => listener(payload);
    ipcRenderer.on(EVENT_CHANNEL, wrapped);
    return () => void ipcRenderer.removeListener(EVENT_CHANNEL, wrapped);
  },
};

contextBridge.exposeInMainWorld('latchkey', api);
