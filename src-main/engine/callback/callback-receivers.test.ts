import { describe, expect, it } from 'vitest';
import { LoopbackReceiver } from './loopback-receiver.js';
import { SchemeCallbackRouter } from './scheme-receiver.js';

describe('loopback receiver (RFC 8252 §7.3)', () => {
  it('listens on 127.0.0.1 with an ephemeral port and resolves on the matching state, once', async () => {
    const receiver = await LoopbackReceiver.start();
    expect(receiver.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const waiting = receiver.waitForCallback('good-state', { timeoutMs: 5000 });

    const wrong = await fetch(`${receiver.redirectUri}?code=x&state=other`);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('not recognised');

    const ok = await fetch(`${receiver.redirectUri}?code=abc&state=good-state`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('You can close this tab');
    const url = await waiting;
    expect(url.searchParams.get('code')).toBe('abc');

    // Single use: the server is gone after the first matching response, so a replay cannot land.
    await expect(fetch(`${receiver.redirectUri}?code=abc&state=good-state`)).rejects.toThrow();
  });

  it('rejects other paths and methods without consuming the sign-in', async () => {
    const receiver = await LoopbackReceiver.start();
    const waiting = receiver.waitForCallback('s1', { timeoutMs: 5000 });
    const base = new URL(receiver.redirectUri);
    expect((await fetch(`${base.origin}/other?state=s1`)).status).toBe(400);
    expect((await fetch(`${receiver.redirectUri}?state=s1`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${receiver.redirectUri}?state=s1&state=s1`)).status).toBe(400);
    expect((await fetch(`${receiver.redirectUri}?code=c&state=s1`)).status).toBe(200);
    await expect(waiting).resolves.toBeInstanceOf(URL);
  });

  it('times out with a clear error and frees the port', async () => {
    const receiver = await LoopbackReceiver.start();
    await expect(receiver.waitForCallback('s', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
    await expect(fetch(`${receiver.redirectUri}?state=s`)).rejects.toThrow();
  });

  it('listens on a registered port for providers that match redirect URIs exactly, and reports a port in use', async () => {
    const first = await LoopbackReceiver.start();
    const port = Number(new URL(first.redirectUri).port);
    await first.close();
    const pinned = await LoopbackReceiver.start({ port });
    expect(pinned.redirectUri).toBe(`http://127.0.0.1:${port}/callback`);
    await expect(LoopbackReceiver.start({ port })).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('loopback port') });
    await pinned.close();
  });

  it('can be cancelled', async () => {
    const receiver = await LoopbackReceiver.start();
    const controller = new AbortController();
    const waiting = receiver.waitForCallback('s', { signal: controller.signal, timeoutMs: 5000 });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled' });
  });
});

describe('private-use scheme router (RFC 8252 §7.1)', () => {
  it('delivers a callback to the waiting sign-in and rejects a replay', async () => {
    const router = new SchemeCallbackRouter('dev.latchkey.app:/callback');
    const receiver = router.receiver();
    const waiting = receiver.waitForCallback('st', { timeoutMs: 5000 });
    router.deliver('dev.latchkey.app:/callback?code=abc&state=st&iss=http%3A%2F%2F127.0.0.1');
    expect((await waiting).searchParams.get('code')).toBe('abc');
    expect(() => router.deliver('dev.latchkey.app:/callback?code=abc&state=st')).toThrow(/unknown, already used, or expired/);
  });

  it('rejects forged deep links and leaves the pending sign-in alone', async () => {
    const router = new SchemeCallbackRouter();
    const receiver = router.receiver();
    const waiting = receiver.waitForCallback('real-state', { timeoutMs: 5000 });
    // Aimed at Latchkey but not from a waiting sign-in: rejected.
    const forged = ['dev.latchkey.app:/callback?code=evil&state=guessed', 'dev.latchkey.app:/callback?code=evil'];
    // Not aimed at Latchkey at all: someone passed the wrong thing, a usage error (exit 2 from `handle-url`).
    const notOurs = [
      'dev.latchkey.app:/elsewhere?code=evil&state=real-state',
      'evil.example.app:/callback?code=evil&state=real-state',
      'https://127.0.0.1/callback?code=evil&state=real-state',
      'not a url',
      `dev.latchkey.app:/callback?state=real-state&pad=${'x'.repeat(9000)}`,
    ];
    for (const url of forged) expect(() => router.deliver(url), url).toThrow(expect.objectContaining({ code: 'callback_rejected' }));
    for (const url of notOurs) expect(() => router.deliver(url), url).toThrow(expect.objectContaining({ code: 'usage' }));
    expect(router.waiting).toBe(1);
    router.deliver('dev.latchkey.app:/callback?code=good&state=real-state');
    expect((await waiting).searchParams.get('code')).toBe('good');
  });

  it('refuses a configured redirect that is not a private-use scheme', () => {
    expect(() => new SchemeCallbackRouter('https://example.com/callback')).toThrow(/private-use scheme/);
    expect(() => new SchemeCallbackRouter('myapp:/callback')).toThrow(/private-use scheme/);
  });

  it('closing one sign-in cancels only that one', async () => {
    const router = new SchemeCallbackRouter();
    const a = router.receiver();
    const b = router.receiver();
    const wa = a.waitForCallback('a', { timeoutMs: 5000 });
    const wb = b.waitForCallback('b', { timeoutMs: 5000 });
    await a.close();
    await expect(wa).rejects.toMatchObject({ code: 'cancelled' });
    router.deliver('dev.latchkey.app:/callback?code=c&state=b');
    await expect(wb).resolves.toBeInstanceOf(URL);
  });
});
