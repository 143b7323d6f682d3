/**
 * The owner methods over a real socket with a real agent: strict params, typed
 * errors, and no secret (refresh token, client secret) in any answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { silentLogger } from '../log/logger.js';
import { createTestHome, type TestHome } from '../testing/test-home.js';
import { DEMO_SERVICE_CLIENT_SECRET, startDemoProvider, type DemoProvider } from '../demo/demo-provider.js';
import { startAgent, type RunningAgent } from './agent-main.js';
import type { RpcClient } from '../wire/rpc-client.js';
import { connectOwner } from '../wire/owner-client.js';
import type { AdminResults } from '../wire/owner-contract.js';

describe('agent owner methods', () => {
  let home: TestHome;
  let demo: DemoProvider;
  let agent: RunningAgent;
  let client: RpcClient;

  beforeAll(async () => {
    home = await createTestHome('lk-admin-');
    demo = await startDemoProvider();
    agent = await startAgent({ env: home.env, paths: home.paths, logger: silentLogger() });
    client = await connectOwner(home.paths.socket, home.paths.ownerKey);
  });
  afterAll(async () => {
    await client?.close();
    await agent?.stop();
    await demo?.close();
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  it('rejects unknown fields, wrong types and oversized values as usage errors', async () => {
    const bad: Array<[string, unknown]> = [
      ['admin.token', { acount: 'typo' }],
      ['admin.token', { min_ttl: -1 }],
      ['admin.token', { min_ttl: '60' }],
      ['admin.token', { scope: 'x'.repeat(5000) }],
      ['admin.login', { max_age: 1.5 }],
      ['admin.login', { prompt: 'always' }],
      ['admin.providers.add', { name: 'x', issuer: 'https://a.example' }],
      ['admin.callback', { url: 'x'.repeat(9000) }],
      ['admin.status', { extra: true }],
      ['admin.status', [1, 2]],
    ];
    for (const [method, params] of bad) {
      await expect(client.call(method, params), `${method} ${JSON.stringify(params).slice(0, 40)}`).rejects.toMatchObject({ code: 'usage' });
    }
  });

  it('adds a service profile, hands out its token, and never returns the client secret', async () => {
    const added = await client.call<AdminResults['admin.providers.add']>('admin.providers.add', {
      name: 'svc',
      issuer: demo.issuer,
      client_id: 'latchkey-service',
      client_secret: DEMO_SERVICE_CLIENT_SECRET,
      scope: 'api:read',
      service: true,
    });
    expect(added.provider).toMatchObject({ name: 'svc', kind: 'service', hasClientSecret: true });
    const token = await client.call<AdminResults['admin.token']>('admin.token', { provider: 'svc' });
    expect(token.access_token).toBeTruthy();
    const everything = JSON.stringify([
      added,
      token,
      await client.call('admin.providers.list', {}),
      await client.call('admin.status', {}),
      await client.call('admin.accounts.list', {}),
    ]);
    expect(everything).not.toContain(DEMO_SERVICE_CLIENT_SECRET);
    expect(everything).not.toMatch(/refresh_?token"\s*:/i);
  });

  it('adds a provider with a fixed loopback port (for providers that match redirect URIs exactly) and refuses a port that is not one', async () => {
    const added = await client.call<AdminResults['admin.providers.add']>('admin.providers.add', {
      name: 'pinned',
      issuer: demo.issuer,
      client_id: 'latchkey-demo',
      loopback_port: 48123,
    });
    expect(added.provider).toMatchObject({ name: 'pinned', redirect: 'loopback', loopbackPort: 48123 });
    for (const loopback_port of [0, 70000, 1.5]) {
      await expect(client.call('admin.providers.add', { name: 'bad', issuer: demo.issuer, client_id: 'x', loopback_port })).rejects.toMatchObject({ code: 'usage' });
    }
    await client.call('admin.providers.remove', { name: 'pinned' });
  });

  it('refuses duplicate names, the reserved demo name and unknown providers with typed errors', async () => {
    await expect(
      client.call('admin.providers.add', { name: 'svc', issuer: demo.issuer, client_id: 'x' }),
    ).rejects.toMatchObject({ code: 'already_exists' });
    await expect(client.call('admin.providers.add', { name: 'demo', issuer: demo.issuer, client_id: 'x' })).rejects.toMatchObject({ code: 'usage' });
    await expect(client.call('admin.providers.remove', { name: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.call('admin.token', { provider: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.call('admin.logout', {})).rejects.toMatchObject({ code: 'login_required' });
    await expect(client.call('admin.callback', { url: 'dev.latchkey.app:/callback?code=a&state=b' })).rejects.toMatchObject({ code: 'callback_rejected' });
  });

  it('removes a provider', async () => {
    await expect(client.call('admin.providers.remove', { name: 'svc' })).resolves.toMatchObject({ removed: 'svc' });
    await expect(client.call('admin.providers.list', {})).resolves.toEqual({ providers: [] });
  });
});
