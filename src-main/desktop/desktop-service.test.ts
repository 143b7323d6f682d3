/**
 * The desktop service against a real agent (vault, engine, broker, socket),
 * the real demo provider and a real SDK client. No browser: sign-ins are
 * started and cancelled, consent is answered through the service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { createLogger } from '../log/logger.js';
import { resolvePaths } from '../platform/paths.js';
import { startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { LatchkeyClient } from '../sdk/latchkey-client.js';
import type { DesktopEvent, PendingConsent } from '../../src-preload/contract.js';
import { startDesktopHost, type DesktopHost } from './desktop-host.js';
import { memorySettings } from './desktop-service.js';
import { createTestHome, type TestHome } from '../testing/test-home.js';

describe('DesktopService', () => {
  let home: TestHome;
  let demo: DemoProvider;
  let host: DesktopHost;
  const opened: string[] = [];
  const events: DesktopEvent[] = [];
  const logger = createLogger({ level: 'silent' });

  beforeAll(async () => {
    home = await createTestHome('latchkey-desktop-');
    const env = home.env;
    demo = await startDemoProvider({ logger });
    host = await startDesktopHost({ env, paths: resolvePaths(env), logger, settings: memorySettings(), openExternal: async (url) => void opened.push(url) });
    host.service.events.on('event', (e) => events.push(e));
  });

  afterAll(async () => {
    await host?.stop();
    await demo?.close();
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  const call = (channel: string, params?: unknown) => host.service.call(channel, params);

  it('turns unknown channels and malformed params into usage errors, never throws', async () => {
    await expect(call('vault:dump')).resolves.toEqual({ ok: false, error: { code: 'usage', message: expect.stringMatching(/Unknown channel/) } });
    await expect(call('accounts:sign-out', { account: 1 })).resolves.toMatchObject({ ok: false, error: { code: 'usage' } });
    await expect(call('accounts:sign-out', { account: 'x', extra: true })).resolves.toMatchObject({ ok: false, error: { code: 'usage' } });
    await expect(call('accounts:sign-out', { account: 'nobody' })).resolves.toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('checks an issuer with live discovery, then adds and lists the provider without its secrets', async () => {
    await expect(call('providers:check', { issuer: demo.issuer })).resolves.toMatchObject({ ok: true, value: { issuer: demo.issuer, scopesSupported: expect.arrayContaining(['openid']) } });
    await expect(call('providers:check', { issuer: 'http://example.com' })).resolves.toMatchObject({ ok: false, error: { code: 'usage' } });
    await expect(call('providers:add', { name: 'work', issuer: demo.issuer, clientId: 'latchkey-demo', scope: 'openid profile email api:read' })).resolves.toMatchObject({ ok: true, value: { name: 'work' } });
    const list = await call('providers:list');
    expect(list).toMatchObject({ ok: true, value: [{ name: 'work', issuer: demo.issuer, hasClientSecret: false }] });
    expect(events).toContainEqual({ type: 'providers.changed' });
  });

  it('a sign-in opens only the engine-built URL, reports progress and can be cancelled', async () => {
    const signIn = call('accounts:sign-in', { flowId: 'flow-0001', provider: 'work' });
    await waitFor(() => opened.length === 1);
    expect(new URL(opened[0]!).searchParams.get('code_challenge_method')).toBe('S256');
    await waitFor(() => events.some((e) => e.type === 'signin.progress' && e.progress.stage === 'browser'));
    await expect(call('app:state')).resolves.toMatchObject({ ok: true, value: { signIns: [{ flowId: 'flow-0001', stage: 'browser' }] } });
    await expect(call('accounts:cancel-sign-in', { flowId: 'flow-0001' })).resolves.toEqual({ ok: true, value: { cancelled: true } });
    await expect(signIn).resolves.toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(events).toContainEqual({ type: 'signin.progress', progress: expect.objectContaining({ flowId: 'flow-0001', stage: 'cancelled' }) });
  });

  it('queues an app consent request for the UI; a deny reaches the app and the activity log', async () => {
    const client = await LatchkeyClient.connect({ appId: 'com.example.tool', name: 'Example Tool', version: '1.0.0', keyPath: join(home.dir, 'app-key.json'), socket: home.paths.socket });
    try {
      const asked = once(host.service.events, 'event', { signal: AbortSignal.timeout(10_000) });
      const token = client.getAuthTokens({ provider: 'work', scope: 'openid email' });
      const [event] = (await asked) as [DesktopEvent];
      expect(event.type).toBe('consent.changed');
      const pending = (await call('consent:list')) as { ok: true; value: PendingConsent[] };
      expect(pending.value).toEqual([expect.objectContaining({ app: expect.objectContaining({ id: 'com.example.tool', name: 'Example Tool', fingerprint: client.keyFingerprint }), scopeWords: ['see your email address', 'know who you are'] })]);
      await expect(call('consent:respond', { id: pending.value[0]!.id, decision: 'deny' })).resolves.toEqual({ ok: true, value: { answered: true } });
      await expect(token).rejects.toMatchObject({ code: 'access_denied' });
      await expect(call('consent:respond', { id: pending.value[0]!.id, decision: 'once' })).resolves.toMatchObject({ ok: false, error: { code: 'not_found' } });
      await host.agent.core.broker.flush();
      const denied = await call('activity:list', { event: 'consent_denied' });
      expect(denied).toMatchObject({ ok: true, value: [expect.objectContaining({ appId: 'com.example.tool', event: 'consent_denied' })] });
      await expect(call('activity:list', { event: 'token_issued' })).resolves.toEqual({ ok: true, value: [] });
    } finally {
      await client.close();
    }
  });

  it('keeps settings and reports the key source', async () => {
    await expect(call('settings:set', { startAtLogin: true })).resolves.toEqual({ ok: true, value: { startAtLogin: true } });
    await expect(call('settings:get')).resolves.toEqual({ ok: true, value: { startAtLogin: true } });
    await expect(call('app:state')).resolves.toMatchObject({ ok: true, value: { keySource: { kind: 'passphrase', encrypted: true } } });
  });

  it('a second vault owner is refused while the app holds the lock (agent_running)', async () => {
    await expect(startDesktopHost({ env: home.env, paths: home.paths, logger, settings: memorySettings(), openExternal: async () => undefined })).rejects.toMatchObject({ code: 'agent_running' });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
