import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { connectRpc, type RpcClient } from '../wire/rpc-client.js';
import { parseParams, RPC_ERROR } from '../wire/json-rpc.js';
import { createRpcServer, type CallContext, type Connection, type RpcLimits, type RpcServer, type RpcServerOptions } from './rpc-server.js';
import { makeSocketDir, RawPeer, sleep, type SocketDir } from '../testing/rpc-testing.js';

/** Why each hung handler's signal aborted, by request id. */
const abortReasons = new Map<unknown, string>();

function waitForAbort(ctx: CallContext): Promise<never> {
  return new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      abortReasons.set(ctx.requestId, (ctx.signal.reason as LatchkeyError).code);
      reject(ctx.signal.reason);
    });
  });
}

const handlers: RpcServerOptions['handlers'] = {
  echo: async (params) => params,
  sleep: async (params) => {
    const { ms, value } = parseParams(z.object({ ms: z.number(), value: z.unknown() }), params);
    await sleep(ms);
    return value;
  },
  locked: async () => {
    throw new LatchkeyError('vault_locked', 'The vault is locked; unlock it first');
  },
  crash: async () => {
    throw new Error('detail that must stay inside: /home/alice/.secret');
  },
  crashSync: (() => {
    throw new TypeError('sync boom');
  }) as never,
  bigint: async () => ({ n: 1n }),
  strict: async (params) => parseParams(z.object({ account: z.string() }), params),
  big: async (params) => 'x'.repeat(parseParams(z.object({ bytes: z.number() }), params).bytes),
  hang: async (_params, ctx) => waitForAbort(ctx),
  quick: { handler: async (_params, ctx) => waitForAbort(ctx), timeoutMs: 100 },
  progress: async (_params, ctx) => {
    ctx.notify('test.progress', { step: 1 });
    ctx.connection.notify('test.global', { hello: true });
    return 'done';
  },
};

let dir: SocketDir;
const servers: RpcServer[] = [];
const clients: RpcClient[] = [];
const peers: RawPeer[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await dir?.remove();
  abortReasons.clear();
});

async function start(options: Partial<RpcServerOptions> & { limits?: Partial<RpcLimits> } = {}): Promise<{ server: RpcServer; path: string }> {
  dir = await makeSocketDir();
  const server = createRpcServer({ handlers, ...options });
  servers.push(server);
  await server.listen(dir.socket);
  return { server, path: dir.socket };
}

async function client(path: string): Promise<RpcClient> {
  const c = await connectRpc(path, { timeoutMs: 5000 });
  clients.push(c);
  return c;
}

async function peer(path: string): Promise<RawPeer> {
  const p = await RawPeer.connect(path);
  peers.push(p);
  return p;
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('envelope and errors', () => {
  it('answers rpc.version', async () => {
    const { path } = await start();
    expect(await (await client(path)).call('rpc.version')).toEqual({ protocol: 1, agent: 'latchkey' });
  });

  it('answers unparseable JSON with a parse error and id null, and keeps the connection', async () => {
    const { path } = await start();
    const p = await peer(path);
    p.write('{"jsonrpc":"2.0", nope\n');
    p.write(Buffer.from([0xc3, 0x28, 0x0a])); // invalid UTF-8
    p.send({ jsonrpc: '2.0', id: 1, method: 'rpc.version' });
    const [first, second, third] = await p.waitForLines(3);
    for (const bad of [first, second]) {
      expect(bad).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: RPC_ERROR.parseError, data: { code: 'protocol_error' } } });
    }
    expect(third).toMatchObject({ id: 1, result: { protocol: 1 } });
  });

  it('answers invalid requests with -32600, echoing a usable id', async () => {
    const { path } = await start();
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 5, method: 7 });
    p.send({ jsonrpc: '1.0', id: 'x', method: 'echo' });
    p.send([{ jsonrpc: '2.0', id: 6, method: 'rpc.version' }]);
    p.send(42);
    p.send({ jsonrpc: '2.0', id: null, method: 'echo' });
    const replies = await p.waitForLines(5);
    expect(replies.map((r) => r.id)).toEqual([5, 'x', null, null, null]);
    for (const r of replies) expect(r).toMatchObject({ error: { code: RPC_ERROR.invalidRequest, data: { code: 'protocol_error' } } });
    expect(JSON.stringify(replies[2])).toContain('batch');
  });

  it('refuses nesting deeper than the limit before any handler walks it', async () => {
    const { path } = await start({ limits: { maxJsonDepth: 16 } });
    const p = await peer(path);
    p.write(`{"jsonrpc":"2.0","id":1,"method":"echo","params":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`);
    expect(await p.response(1)).toMatchObject({ error: { code: RPC_ERROR.invalidRequest, message: expect.stringContaining('nesting') } });
  });

  it('treats prototype names as unknown methods', async () => {
    const { path } = await start();
    const p = await peer(path);
    const names = ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    names.forEach((method, id) => p.send({ jsonrpc: '2.0', id, method }));
    const replies = await p.waitForLines(names.length);
    for (const r of replies) expect(r).toMatchObject({ error: { code: RPC_ERROR.methodNotFound, data: { code: 'protocol_error' } } });
  });

  it('sends a thrown LatchkeyError with its code and message', async () => {
    const { path } = await start();
    const c = await client(path);
    await expect(c.call('locked')).rejects.toMatchObject({ name: 'LatchkeyError', code: 'vault_locked', message: 'The vault is locked; unlock it first' });
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 1, method: 'locked' });
    expect(await p.response(1)).toMatchObject({ error: { code: RPC_ERROR.application, data: { code: 'vault_locked' } } });
  });

  it('sends invalid params as -32602 with code usage', async () => {
    const { path } = await start();
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 1, method: 'strict', params: { account: 3 } });
    expect(await p.response(1)).toMatchObject({ error: { code: RPC_ERROR.invalidParams, data: { code: 'usage' } } });
  });

  it('hides unexpected failures behind "internal" and logs the detail', async () => {
    const logged: string[] = [];
    const logger = createLogger({ level: 'error', destination: new Writable({ write: (chunk, _e, cb) => (logged.push(String(chunk)), cb()) }) });
    const { path } = await start({ logger });
    const p = await peer(path);
    for (const [id, method] of ['crash', 'crashSync', 'bigint'].entries()) p.send({ jsonrpc: '2.0', id, method });
    const replies = await p.waitForLines(3);
    for (const r of replies) {
      expect(r).toMatchObject({ error: { code: RPC_ERROR.application, message: 'Internal error', data: { code: 'internal' } } });
      expect(JSON.stringify(r)).not.toMatch(/secret|boom|stack|at /);
    }
    expect(logged.join('')).toContain('detail that must stay inside');
  });
});

describe('calls', () => {
  it('runs many calls on one connection concurrently and matches answers by id', async () => {
    const { path } = await start();
    const c = await client(path);
    const started = Date.now();
    const values = Array.from({ length: 30 }, (_, i) => i);
    const results = await Promise.all(values.map((value) => c.call('sleep', { ms: 200 - value * 5, value })));
    expect(results).toEqual(values);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('routes request notifications to their call and all notifications to listeners', async () => {
    const { path } = await start();
    const c = await client(path);
    const perCall: unknown[] = [];
    const global: string[] = [];
    c.onNotification((method) => global.push(method));
    const [a] = await Promise.all([
      c.call('progress', {}, { onNotification: (method, params) => perCall.push({ method, params }) }),
      c.call('progress', {}),
    ]);
    expect(a).toBe('done');
    expect(perCall).toEqual([{ method: 'test.progress', params: { step: 1, request_id: 1 } }]);
    expect(global.sort()).toEqual(['test.global', 'test.global', 'test.progress', 'test.progress']);
  });

  it('cancels on $/cancel: the handler sees the abort and the client gets "cancelled"', async () => {
    const { path } = await start();
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 'h1', method: 'hang' });
    await sleep(50);
    p.send({ jsonrpc: '2.0', method: '$/cancel', params: { id: 'h1' } });
    p.send({ jsonrpc: '2.0', method: '$/cancel', params: { id: 'unknown' } });
    p.send({ jsonrpc: '2.0', method: 'some.notification' });
    expect(await p.response('h1')).toMatchObject({ error: { code: RPC_ERROR.application, data: { code: 'cancelled' } } });
    expect(abortReasons.get('h1')).toBe('cancelled');
    await sleep(50);
    expect(p.lines).toHaveLength(1); // notifications are never answered
  });

  it('cancels through the client AbortSignal', async () => {
    const { path } = await start();
    const c = await client(path);
    const controller = new AbortController();
    const call = c.call('hang', {}, { signal: controller.signal });
    await sleep(50);
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: 'cancelled' });
    await eventually(() => abortReasons.get(1) === 'cancelled');
    expect(await c.call('rpc.version')).toMatchObject({ protocol: 1 }); // connection still usable
  });

  it('aborts in-flight requests when the client disconnects', async () => {
    const { server, path } = await start();
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 1, method: 'hang' });
    p.send({ jsonrpc: '2.0', id: 2, method: 'hang' });
    await sleep(50);
    p.destroy();
    await eventually(() => abortReasons.size === 2 && server.connections() === 0);
    expect([...abortReasons.values()]).toEqual(['cancelled', 'cancelled']);
  });

  it('times out a request: "timeout" to the client, abort to the handler', async () => {
    const { path } = await start({ limits: { requestTimeoutMs: 150 } });
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 1, method: 'quick' }); // per-method 100 ms
    p.send({ jsonrpc: '2.0', id: 2, method: 'hang' }); // server default 150 ms
    expect(await p.response(1)).toMatchObject({ error: { data: { code: 'timeout' } } });
    expect(await p.response(2)).toMatchObject({ error: { data: { code: 'timeout' } } });
    expect(abortReasons.get(1)).toBe('timeout');
    expect(abortReasons.get(2)).toBe('timeout');
  });

  it('limits requests in flight per connection and rejects duplicate ids', async () => {
    const { path } = await start({ limits: { maxInFlightPerConnection: 2 } });
    const p = await peer(path);
    for (const id of [1, 2, 3]) p.send({ jsonrpc: '2.0', id, method: 'hang' });
    expect(await p.response(3)).toMatchObject({ error: { data: { code: 'busy' } } });
    p.send({ jsonrpc: '2.0', id: 1, method: 'echo' });
    expect(await p.response(1)).toMatchObject({ error: { code: RPC_ERROR.invalidRequest } });
  });

  it('cancels in-flight requests when the client shuts down its sending side', async () => {
    const { server, path } = await start();
    const p = await peer(path);
    p.send({ jsonrpc: '2.0', id: 'eof', method: 'hang' });
    await sleep(50);
    p.socket.end();
    await p.closed;
    await eventually(() => abortReasons.get('eof') === 'cancelled' && server.connections() === 0);
  });

  it('refuses a result larger than the message cap', async () => {
    const { path } = await start({ limits: { maxMessageBytes: 4096, maxOutboundBytes: 65536 } });
    const c = await client(path);
    await expect(c.call('big', { bytes: 10_000 })).rejects.toMatchObject({ code: 'message_too_large' });
  });
});

describe('hostile clients', () => {
  it('closes a connection that sends 5 MiB without a newline, and serves others meanwhile', async () => {
    const { server, path } = await start();
    const p = await peer(path);
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    for (let sent = 0; sent < 5 * 1024 * 1024 && !p.socket.destroyed; sent += chunk.length) {
      if (!p.socket.write(chunk)) await Promise.race([new Promise((r) => p.socket.once('drain', r)), p.closed]);
    }
    await p.closed;
    expect(p.messages()[0]).toMatchObject({ id: null, error: { code: RPC_ERROR.invalidRequest, data: { code: 'message_too_large' } } });
    expect(await (await client(path)).call('echo', { ok: 1 })).toEqual({ ok: 1 });
    await eventually(() => server.connections() === 1);
  });

  it('forgets a truncated frame when its client hangs up', async () => {
    const { server, path } = await start();
    const p = await peer(path);
    p.write('{"jsonrpc":"2.0","id":1,"meth');
    p.socket.end();
    await p.closed;
    expect(p.lines).toEqual([]);
    await eventually(() => server.connections() === 0);
  });

  it('survives 200 random buffers and still answers', async () => {
    const { server, path } = await start();
    const random = await Promise.all(Array.from({ length: 10 }, () => peer(path)));
    for (let i = 0; i < 200; i++) random[i % random.length]!.write(randomBytes(1 + (i * 97) % 4000));
    for (const p of random) p.write('\n');
    await sleep(100);
    for (const p of random) for (const line of p.lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0', error: { data: { code: expect.any(String) } } });
    for (const p of random) p.destroy();
    expect(await (await client(path)).call('rpc.version')).toMatchObject({ protocol: 1 });
    await eventually(() => server.connections() === 1);
  });

  it('drops a client that stops reading, without disturbing another', async () => {
    const closedOnServer: Connection[] = [];
    const { path } = await start({
      limits: { maxOutboundBytes: 2 * 1024 * 1024 },
      onConnection: (connection) => connection.onClose(() => closedOnServer.push(connection)),
    });
    const stalled = await peer(path);
    stalled.socket.pause();
    for (let id = 0; id < 30; id++) stalled.send({ jsonrpc: '2.0', id, method: 'big', params: { bytes: 900_000 } });
    const c = await client(path);
    await eventually(() => closedOnServer.length === 1);
    expect(await c.call('echo', ['still', 'here'])).toEqual(['still', 'here']);
    expect(closedOnServer[0]!.closed).toBe(true);
  });

  it('turns away connections over the limit with "busy"', async () => {
    const { server, path } = await start({ limits: { maxConnections: 3 } });
    const held = await Promise.all(Array.from({ length: 3 }, () => peer(path)));
    await eventually(() => server.connections() === 3);
    const extra = await peer(path);
    await extra.closed;
    expect(extra.messages()).toEqual([expect.objectContaining({ id: null, error: expect.objectContaining({ data: { code: 'busy' } }) })]);
    const c = await client(path);
    await expect(c.call('rpc.version')).rejects.toMatchObject({ code: 'busy' });
    held[0]!.destroy();
    await eventually(() => server.connections() === 2);
    expect(await (await client(path)).call('rpc.version')).toMatchObject({ protocol: 1 });
  });

  it('closes idle connections but not ones waiting on a request', async () => {
    const { server, path } = await start({ limits: { idleTimeoutMs: 200 } });
    const idle = await peer(path);
    const busy = await peer(path);
    busy.send({ jsonrpc: '2.0', id: 1, method: 'sleep', params: { ms: 500, value: 'ok' } });
    await idle.closed;
    expect(busy.socket.destroyed).toBe(false);
    expect(await busy.response(1)).toMatchObject({ result: 'ok' });
    await busy.closed;
    await eventually(() => server.connections() === 0);
  });
});

describe('connections and lifecycle', () => {
  it('gives handlers a per-connection state bag and close callbacks', async () => {
    const seen: Connection[] = [];
    const { path } = await start({
      onConnection: (connection) => {
        connection.state.app = `app-${connection.id}`;
        seen.push(connection);
      },
      handlers: { ...handlers, whoami: async (_p, ctx) => ctx.connection.state.app },
    });
    const a = await client(path);
    const b = await client(path);
    expect(await a.call('whoami')).toBe('app-1');
    expect(await b.call('whoami')).toBe('app-2');
    let closed = 0;
    seen[0]!.onClose(() => closed++);
    await a.close();
    await eventually(() => closed === 1);
    seen[0]!.notify('ignored.after.close', {}); // no-op, no throw
    seen[0]!.onClose(() => closed++);
    await eventually(() => closed === 2);
  });

  it('refuses reserved method names and nonsensical limits', () => {
    expect(() => createRpcServer({ handlers: { 'rpc.evil': async () => 1 } })).toThrow(LatchkeyError);
    expect(() => createRpcServer({ handlers: { '$/x': async () => 1 } })).toThrow(LatchkeyError);
    expect(() => createRpcServer({ handlers: {}, limits: { idleTimeoutMs: 0 } })).toThrow(/idleTimeoutMs/);
    expect(() => createRpcServer({ handlers: {}, limits: { maxOutboundBytes: 10 } })).toThrow(/maxOutboundBytes/);
  });

  it('close() aborts in-flight requests, disconnects clients and removes the socket', async () => {
    const { server, path } = await start();
    const c = await client(path);
    const call = c.call('hang');
    await sleep(50);
    await server.close();
    servers.length = 0;
    await expect(call).rejects.toMatchObject({ code: 'agent_unavailable' });
    expect(abortReasons.get(1)).toBe('cancelled');
    expect(existsSync(path)).toBe(false);
  });
});
