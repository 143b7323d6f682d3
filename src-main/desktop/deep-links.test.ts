import { describe, expect, it } from 'vitest';
import { DeepLinkQueue, deepLinksFromArgv } from './deep-links.js';

describe('deepLinksFromArgv', () => {
  it('takes only our scheme from a second instance argv', () => {
    const argv = ['/opt/Latchkey/latchkey', '--no-sandbox', 'https://evil.test/', 'DEV.LATCHKEY.APP:/callback?code=c&state=s', '/tmp/file', 'dev.latchkey.apps:/x'];
    expect(deepLinksFromArgv(argv, 'dev.latchkey.app')).toEqual(['DEV.LATCHKEY.APP:/callback?code=c&state=s']);
    expect(deepLinksFromArgv([`dev.latchkey.app:/callback?x=${'a'.repeat(9000)}`], 'dev.latchkey.app:')).toEqual([]);
  });
});

describe('DeepLinkQueue', () => {
  it('holds links until the engine is ready, then delivers them in order, and later ones at once', () => {
    const delivered: string[] = [];
    const queue = new DeepLinkQueue(() => undefined);
    queue.accept('dev.latchkey.app:/callback?state=1');
    queue.accept('dev.latchkey.app:/callback?state=2');
    expect(delivered).toEqual([]);
    expect(queue.pending).toBe(2);
    queue.ready((u) => delivered.push(u));
    queue.accept('dev.latchkey.app:/callback?state=3');
    expect(delivered.map((u) => u.slice(-1))).toEqual(['1', '2', '3']);
    expect(queue.pending).toBe(0);
  });

  it('is bounded before ready, dropping the oldest', () => {
    const delivered: string[] = [];
    const queue = new DeepLinkQueue(() => undefined);
    for (let i = 0; i < 20; i++) queue.accept(`dev.latchkey.app:/callback?state=${i}`);
    queue.ready((u) => delivered.push(u));
    expect(delivered).toHaveLength(16);
    expect(delivered[0]).toMatch(/state=4$/);
  });

  it('reports a rejected delivery instead of throwing into the event handler', () => {
    const rejected: string[] = [];
    const queue = new DeepLinkQueue((url) => rejected.push(url));
    queue.ready(() => {
      throw new Error('unknown state');
    });
    expect(() => queue.accept('dev.latchkey.app:/callback?state=x')).not.toThrow();
    expect(rejected).toEqual(['dev.latchkey.app:/callback?state=x']);
  });
});
