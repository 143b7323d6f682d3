/**
 * The slot policy on a real server and real sockets: unproven connections
 * give way (longest-idle first) instead of locking newcomers out, cannot keep
 * themselves alive past the handshake deadline, the owner gets in when every
 * slot is proven, and one process holds at most `maxConnectionsPerPeer`
 * proven app connections. The whole agent under a flood is in
 * broker/hostile-clients.test.ts.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createPeerIdentifier } from '../broker/peer-process.js';
import { proveConnection, OWNER_RESERVE } from './connection-slots.js';
import { connectRpc, type RpcClient } from '../wire/rpc-client.js';
import { createRpcServer, type RpcLimits, type RpcServer } from './rpc-server.js';
import { makeSocketDir, RawPeer, sleep, type SocketDir } from '../testing/rpc-testing.js';

const SS_PATHS = ['/usr/bin/ss', '/usr/sbin/ss', '/bin/ss', '/sbin/ss'];
const canIdentifyPeers = process.platform === 'linux' && SS_PATHS.some((p) => existsSync(p));
if (!canIdentifyPeers) console.warn('SKIP per-peer cap test: peers are identified only on Linux with ss (iproute2) installed.');

let dir: SocketDir | undefined;
let server: RpcServer | undefined;
const opened: Array<{ destroy(): void } | { close(): Promise<void> | void }> = [];

afterEach(async () => {
  for (const c of opened.splice(0)) ('destroy' in c ? c.destroy() : await c.close());
  await server?.close();
  await dir?.remove();
  server = undefined;
});

async function start(limits: Partial<RpcLimits>, identify = false): Promise<string> {
  dir = await makeSocketDir();
  const peers = createPeerIdentifier();
  server = createRpcServer({
    requireProof: true,
    limits,
    handlers: {
      'test.owner': async (_p, ctx) => (await proveConnection(ctx.connection, 'owner'), 'owner'),
      'test.app': async (_p, ctx) => (await proveConnection(ctx.connection, 'app'), 'app'),
    },
    ...(identify ? { identifyPeer: (socket) => peers.identify(socket) } : {}),
  });
  await server.listen(dir.socket);
  return dir.socket;
}

async function raw(path: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(path);
  opened.push(peer);
  return peer;
}

async function rpc(path: string, prove?: 'owner' | 'app'): Promise<RpcClient> {
  const client = await connectRpc(path, { timeoutMs: 5000 });
  opened.push(client);
  if (prove) await client.call(`test.${prove}`);
  return client;
}

/** Closed by the agent within `ms`? */
async function closedWithin(peer: RawPeer, ms: number): Promise<boolean> {
  return Promise.race([peer.closed.then(() => true), sleep(ms).then(() => false)]);
}

describe('connection slots', () => {
  it('a newcomer takes the slot of the longest-idle unproven connection instead of being turned away', async () => {
    const path = await start({ maxConnections: 4 });
    const idle = [await raw(path), await raw(path), await raw(path), await raw(path)];
    await sleep(20);
    // #0 speaks up, so #1 is now the longest idle.
    idle[0]!.send({ jsonrpc: '2.0', id: 1, method: 'rpc.version' });
    await idle[0]!.response(1);
    const newcomer = await rpc(path);
    await expect(newcomer.call('rpc.version')).resolves.toMatchObject({ protocol: 1 });
    expect(await closedWithin(idle[1]!, 1000)).toBe(true);
    expect(idle[1]!.lines).toEqual([]); // closed, not told busy
    for (const i of [0, 2, 3]) expect(idle[i]!.socket.destroyed).toBe(false);
    expect(server!.connections()).toBe(4);
  });

  it('closes an unproven connection at the handshake deadline however often it sends; proven ones stay', async () => {
    const path = await start({ handshakeTimeoutMs: 300 });
    const keepAlive = await raw(path);
    const app = await rpc(path, 'app');
    const owner = await rpc(path, 'owner');
    const started = Date.now();
    let sent = 0;
    for (; sent < 40 && !keepAlive.socket.destroyed; sent++) {
      keepAlive.send({ jsonrpc: '2.0', id: sent, method: 'rpc.version' });
      await sleep(25);
    }
    expect(keepAlive.socket.destroyed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(sent).toBeLessThan(40);
    await sleep(200);
    await expect(app.call('rpc.version')).resolves.toMatchObject({ protocol: 1 });
    await expect(owner.call('rpc.version')).resolves.toMatchObject({ protocol: 1 });
  });

  it('with every slot proven, the owner still gets in and an app on the reserve is refused busy; the reserve churns, apps stay', async () => {
    const path = await start({ maxConnections: 2 });
    const apps = [await rpc(path, 'app'), await rpc(path, 'app')];
    const owner = await rpc(path, 'owner');
    await expect(owner.call('rpc.version')).resolves.toMatchObject({ protocol: 1 });
    const late = await rpc(path);
    await expect(late.call('test.app')).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('too many connections (max 2)') });
    // Silent connections fill the reserve; one more takes the place of the idlest of them, not of an app.
    const reserve: RawPeer[] = [];
    for (let i = 0; i < OWNER_RESERVE; i++) reserve.push(await raw(path));
    const extra = await raw(path);
    extra.send({ jsonrpc: '2.0', id: 1, method: 'rpc.version' });
    expect(await extra.response(1)).toMatchObject({ result: { protocol: 1 } });
    expect(await closedWithin(reserve[0]!, 1000)).toBe(true);
    for (const a of apps) await expect(a.call('rpc.version')).resolves.toMatchObject({ protocol: 1 });
    await expect(rpc(path, 'owner')).resolves.toBeDefined();
  });

  it.runIf(canIdentifyPeers)('refuses one process a proven app connection past maxConnectionsPerPeer; the owner is not counted', async () => {
    const path = await start({ maxConnectionsPerPeer: 2 }, true);
    await rpc(path, 'app');
    await rpc(path, 'app');
    const third = await rpc(path);
    await expect(third.call('test.app')).rejects.toMatchObject({ code: 'busy', message: expect.stringContaining('already has 2 connections') });
    await expect(rpc(path, 'owner')).resolves.toBeDefined();
  });
});
