import { afterEach, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { LatchkeyError } from '../errors.js';
import { connectRpc, type RpcClient } from './rpc-client.js';
import { createRpcServer, type CallContext, type RpcServer } from '../agent/rpc-server.js';
import { makeSocketDir, makeStaleSocket, sleep, type SocketDir } from '../testing/rpc-testing.js';

let dir: SocketDir;
let server: RpcServer | undefined;
let rawServer: Server | undefined;
const clients: RpcClient[] = [];
const aborted: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
  await new Promise((resolve) => (rawServer ? rawServer.close(resolve) : resolve(undefined)));
  rawServer = undefined;
  await dir?.remove();
  aborted.length = 0;
});

async function startAgent(): Promise<string> {
  dir = await makeSocketDir();
  server = createRpcServer({
    handlers: {
      echo: async (params) => params,
      hang: async (_params, ctx: CallContext) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.push((ctx.signal.reason as LatchkeyError).code);
            reject(ctx.signal.reason);
          }),
        ),
    },
  });
  await server.listen(dir.socket);
  return dir.socket;
}

/** A fake agent that answers every line with `reply(line)`. */
async function startRawAgent(reply: (line: string, socket: Socket) => void): Promise<string> {
  dir = await makeSocketDir();
  await mkdir(dirname(dir.socket), { mode: 0o700 });
  rawServer = createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (text: string) => text.split('\n').filter(Boolean).forEach((line) => reply(line, socket)));
  });
  await new Promise<void>((resolve) => rawServer!.listen(dir.socket, resolve));
  return dir.socket;
}

async function client(path: string, timeoutMs = 5000): Promise<RpcClient> {
  const c = await connectRpc(path, { timeoutMs });
  clients.push(c);
  return c;
}

describe('connecting', () => {
  it('reports agent_unavailable when no socket exists', async () => {
    dir = await makeSocketDir();
    await expect(connectRpc(dir.socket)).rejects.toMatchObject({ code: 'agent_unavailable', message: expect.stringContaining('No Latchkey agent') });
  });

  it('reports agent_unavailable for a stale socket left by a crashed agent', async () => {
    dir = await makeSocketDir();
    await mkdir(dirname(dir.socket), { mode: 0o700 });
    await makeStaleSocket(dir.socket);
    await expect(connectRpc(dir.socket)).rejects.toMatchObject({ code: 'agent_unavailable' });
  });
});

describe('calls', () => {
  it('times out a call and cancels it on the agent', async () => {
    const c = await client(await startAgent());
    await expect(c.call('hang', {}, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'timeout' });
    await expect.poll(() => aborted).toEqual(['cancelled']);
  });

  it('rejects at once for an already-aborted signal, without sending', async () => {
    const c = await client(await startAgent());
    const controller = new AbortController();
    controller.abort();
    await expect(c.call('hang', {}, { signal: controller.signal })).rejects.toMatchObject({ code: 'cancelled' });
    await sleep(50);
    expect(aborted).toEqual([]);
  });

  it('refuses locally what the agent would refuse, keeping the connection', async () => {
    const c = await client(await startAgent());
    await expect(c.call('echo', { blob: 'x'.repeat(1024 * 1024) })).rejects.toMatchObject({ code: 'message_too_large' });
    await expect(c.call('echo', { n: 1n })).rejects.toMatchObject({ code: 'usage' });
    expect(await c.call('echo', { ok: true })).toEqual({ ok: true });
  });

  it('rejects pending and later calls once closed', async () => {
    const c = await client(await startAgent());
    const pending = c.call('hang');
    await sleep(20);
    await c.close();
    await expect(pending).rejects.toMatchObject({ code: 'agent_unavailable', message: expect.stringMatching(/closed by the client/) });
    await expect(c.call('echo')).rejects.toMatchObject({ code: 'agent_unavailable' });
    expect(c.closed).toBe(true);
    await expect.poll(() => aborted).toEqual(['cancelled']);
  });

  it('rejects pending calls when the agent goes away', async () => {
    const c = await client(await startAgent());
    const pending = c.call('hang');
    await sleep(20);
    await server!.close();
    server = undefined;
    await expect(pending).rejects.toMatchObject({ code: 'agent_unavailable', message: expect.not.stringMatching(/by the client/) });
  });

  it('cancels a call whose signal aborts, and a signal aborted after the answer cancels nothing', async () => {
    const c = await client(await startAgent());
    const controller = new AbortController();
    const pending = c.call('hang', {}, { signal: controller.signal });
    await sleep(20);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    await expect.poll(() => aborted).toEqual(['cancelled']);
    const later = new AbortController();
    expect(await c.call('echo', { ok: 1 }, { signal: later.signal })).toEqual({ ok: 1 });
    later.abort();
    await sleep(50);
    expect(aborted).toEqual(['cancelled']);
  });

  it('keeps delivering notifications when a listener throws, and stops after unsubscribe', async () => {
    const path = await startRawAgent((line, socket) => {
      const { id } = JSON.parse(line) as { id: number };
      socket.write(`{"jsonrpc":"2.0","method":"n","params":{"request_id":${id}}}\n{"jsonrpc":"2.0","id":${id},"result":${id}}\n`);
    });
    const c = await client(path);
    const seen: string[] = [];
    c.onNotification(() => {
      throw new Error('listener bug');
    });
    const off = c.onNotification((method) => seen.push(method));
    expect(await c.call('x')).toBe(1);
    off();
    expect(await c.call('x')).toBe(2);
    expect(seen).toEqual(['n']);
  });
});

describe('a misbehaving agent', () => {
  it.each([
    ['not JSON', 'hello'],
    ['not JSON-RPC', '{"id":1,"result":1}'],
    ['a response without result or error', '{"jsonrpc":"2.0","id":1}'],
  ])('closes the connection with protocol_error when the agent sends %s', async (_name, reply) => {
    const c = await client(await startRawAgent((_line, socket) => socket.write(`${reply}\n`)));
    await expect(c.call('x')).rejects.toMatchObject({ code: 'protocol_error' });
    await expect.poll(() => c.closed).toBe(true);
  });

  it('ignores answers to ids it never asked', async () => {
    const path = await startRawAgent((line, socket) => {
      const { id } = JSON.parse(line) as { id: number };
      socket.write(`{"jsonrpc":"2.0","id":999,"result":"stray"}\n{"jsonrpc":"2.0","id":"${id}","result":"wrong type"}\n{"jsonrpc":"2.0","id":${id},"result":"mine"}\n`);
    });
    expect(await (await client(path)).call('x')).toBe('mine');
  });

  it('rebuilds a LatchkeyError from the wire, provider error included', async () => {
    const path = await startRawAgent((line, socket) => {
      const { id } = JSON.parse(line) as { id: number };
      socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32000, message: 'Refresh failed', data: { code: 'provider_error', providerError: 'invalid_grant' } } })}\n`);
    });
    const err = await (await client(path)).call('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ code: 'provider_error', message: 'Refresh failed', providerError: 'invalid_grant' });
  });
});

describe('request frames', () => {
  it('writes each request as JSON.stringify would, whatever the caller does with its params between calls', async () => {
    const lines: string[] = [];
    const path = await startRawAgent((line, socket) => {
      lines.push(line);
      const { id } = JSON.parse(line) as { id: number };
      socket.write(`{"jsonrpc":"2.0","id":${id},"result":0}\n`);
    });
    const c = await client(path);
    const reused = { scope: 'openid', min_ttl: 60 };
    const calls: Array<[string, unknown]> = [
      ['tokens.tryGet', { scope: 'openid', min_ttl: 60 }],
      ['tokens.tryGet', { scope: 'openid', min_ttl: 60 }],
      ['tokens.tryGet', reused],
      // The same object, changed after it was sent: the frame is not the last one again.
      ['tokens.tryGet', Object.assign(reused, { min_ttl: 61 })],
      ['tokens.tryGet', { min_ttl: 61, scope: 'openid' }],
      ['tokens.tryGet', { scope: 'openid', min_ttl: 61, account: 'a' }],
      ['tokens.tryGet', { scope: 'openid' }],
      ['tokens.get', { scope: 'openid' }],
      ['tokens.get', { scope: 'openid', nested: { a: 1 } }],
      ['tokens.get', { scope: 'openid', nested: { a: 2 } }],
      ['tokens.get', { n: NaN }],
      ['tokens.get', { n: null }],
      ['tokens.get', { n: -0 }],
      ['tokens.get', { n: 0 }],
      ['tokens.get', { u: undefined, s: 'x' }],
      ['tokens.get', { s: 'x' }],
      ['tokens.get', Object.assign(Object.create({ inherited: 1 }) as object, { s: 'x' })],
      ['tokens.get', ['array']],
      ['tokens.get', undefined],
    ];
    // Ids of several digits too: the id is written into the frame without a string.
    for (let i = 0; i < 100; i++) await c.call('tokens.tryGet', { scope: 'warm-up' });
    const expected: string[] = [];
    for (const [method, params] of calls) {
      const id = lines.length + 1;
      expected.push(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      await c.call(method, params);
    }
    expect(lines.slice(100)).toEqual(expected);
  });
});

