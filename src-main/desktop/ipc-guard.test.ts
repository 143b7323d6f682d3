import { describe, expect, it } from 'vitest';
import { isAllowedNavigation, isTrustedSender } from './ipc-guard.js';

const renderer = 'file:///opt/Latchkey/resources/app.asar/dist/renderer/index.html';

describe('isTrustedSender', () => {
  it('trusts the renderer page in its main frame, on any view', () => {
    expect(isTrustedSender({ url: renderer, isMainFrame: true }, renderer)).toBe(true);
    expect(isTrustedSender({ url: `${renderer}#consent`, isMainFrame: true }, renderer)).toBe(true);
  });

  it.each([
    ['a child frame', { url: renderer, isMainFrame: false }],
    ['a web page', { url: 'https://evil.test/index.html', isMainFrame: true }],
    ['another local file', { url: 'file:///tmp/index.html', isMainFrame: true }],
    ['a sibling file in the app', { url: renderer.replace('index.html', 'app.js'), isMainFrame: true }],
    ['a query string', { url: `${renderer}?x=1`, isMainFrame: true }],
    ['a data URL', { url: 'data:text/html,<script>', isMainFrame: true }],
    ['devtools', { url: 'devtools://devtools/bundled/inspector.html', isMainFrame: true }],
    ['garbage', { url: 'not a url', isMainFrame: true }],
  ])('refuses %s', (_what, frame) => {
    expect(isTrustedSender(frame, renderer)).toBe(false);
  });

  it('refuses a frame that is gone', () => {
    expect(isTrustedSender(null, renderer)).toBe(false);
    expect(isTrustedSender(undefined, renderer)).toBe(false);
  });
});

describe('isAllowedNavigation', () => {
  it('allows moving between views and nothing else', () => {
    expect(isAllowedNavigation(`${renderer}#settings`, renderer)).toBe(true);
    expect(isAllowedNavigation('https://login.example.com/', renderer)).toBe(false);
    expect(isAllowedNavigation('file:///etc/passwd', renderer)).toBe(false);
  });
});
