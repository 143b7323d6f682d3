import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/test-home.js';
import { desktopEntry, registerUrlScheme, schemeOf } from './url-scheme.js';

describe('URL scheme registration (Linux desktop entry)', () => {
  it('declares the scheme handler and quotes the command so paths with spaces or quotes survive', () => {
    const entry = desktopEntry('dev.latchkey.app', ['/opt/node js/node', '/home/a"b/latchkey.js']);
    expect(entry).toContain('MimeType=x-scheme-handler/dev.latchkey.app;');
    expect(entry).toContain('Exec="/opt/node js/node" "/home/a\\"b/latchkey.js" handle-url %u');
    expect(schemeOf('dev.latchkey.app:/callback')).toBe('dev.latchkey.app');
  });

  it('writes the desktop entry under $XDG_DATA_HOME/applications', async () => {
    const home = await tempDir('lk-xdg-');
    const r = await registerUrlScheme({ redirectUri: 'dev.latchkey.app:/callback', command: ['/usr/bin/latchkey'], env: { XDG_DATA_HOME: home }, platform: 'linux', runXdgMime: false });
    expect(r.desktopFile).toBe(join(home, 'applications', 'latchkey-url-handler.desktop'));
    expect(await readFile(r.desktopFile, 'utf8')).toContain('"/usr/bin/latchkey" handle-url %u');
  });

  it('explains what to do on platforms where the app bundle or installer registers the scheme', async () => {
    await expect(registerUrlScheme({ redirectUri: 'dev.latchkey.app:/callback', command: ['x'], platform: 'darwin' })).rejects.toMatchObject({ code: 'usage' });
  });
});
