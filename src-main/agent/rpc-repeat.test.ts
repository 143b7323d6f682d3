/**
 * The byte paths for a repeated question and a repeated answer (cached
 * `tokens.tryGet`): the agent knows a request it just answered at hand by its
 * bytes after the id, and the client reuses the parsed result of a reply that
 * repeats the last one. Neither may ever read a line differently from
 * JSON.parse, answer a stale question, or hand one caller's object to another.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connectRpc, type RpcClient } from '../wire/rpc-client.js';
import { decodeLine, encodeMessage, LineDecoder, readEnvelopeId } from '../wire/framing.js';
import { RPC_ERROR } from '../wire/json-rpc.js';
import { createRpcServer, type CallContext, type RpcServer } from './rpc-server.js';
import { makeSocketDir, RawPeer, type SocketDir } from '../testing/rpc-testing.js';

let dir: SocketDir | undefined;
const closers: Array<() => unknown> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await dir?.remove();
  dir = undefined;
});

describe('readEnvelopeId and decodeLine', () => {
  it('reads only ids written as JSON integers of at most 15 digits', () => {
    const id = (head: string) => readEnvelopeId(Buffer.from(`{"jsonrpc":"2.0","id":${head},"method":"m"}`))?.id;
    expect(id('0')).toBe(0);
    expect(id('42')).toBe(42);
    expect(id('999999999999999')).toBe(999_999_999_999_999);
    for (const bad of ['01', '-1', '1.5', '1e3', '"1"', '9999999999999999', '', 'null']) expect(id(bad), bad).toBeUndefined();
    expect(readEnvelopeId(Buffer.from('{"jsonrpc": "2.0","id":1,"method":"m"}'))).toBeUndefined();
    expect(readEnvelopeId(Buffer.from('{"jsonrpc":"2.0","id":1'))).toBeUndefined();
  });

  it('decodes ASCII and UTF-8, refuses invalid UTF-8 (overlong, lone surrogate), skips blank lines', () => {
    expect(decodeLine(Buffer.from('{"a":1}'))).toEqual({ kind: 'message', text: '{"a":1}' });
    expect(decodeLine(Buffer.from('{"a":"é€😀"}'))).toEqual({ kind: 'message', text: '{"a":"é€😀"}' });
    expect(decodeLine(Buffer.from([0x7b, 0xc0, 0x80, 0x7d]))).toEqual({ kind: 'invalid_utf8' });
    expect(decodeLine(Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]))).toEqual({ kind: 'invalid_utf8' });
    expect(decodeLine(Buffer.from(' \r\t'))).toBeUndefined();
  });

  it('pushBytes hands over raw lines across chunks, and reports a line over the cap once', () => {
    const decoder = new LineDecoder(8);
    const lines: string[] = [];
    expect(decoder.pushBytes(Buffer.from('ab'), (l) => lines.push(l.toString('latin1')))).toBe(false);
    expect(decoder.pushBytes(Buffer.from('c\n\nd\n123456789'), (l) => lines.push(l.toString('latin1')))).toBe(true);
    expect(lines).toEqual(['abc', '', 'd']);
    expect(decoder.pushBytes(Buffer.from('\n{}\n'), () => lines.push('late'))).toBe(false);
    expect(lines).toEqual(['abc', '', 'd']);
  });
});

describe('the agent knows a repeated request by its bytes', () => {
  /** A method with an answer at hand while `ready`; counts who answered, and records the params it was asked with. */
  function memoServer() {
    const state = { ready: true, value: 'v1', atHand: 0, handler: 0, params: [] as unknown[] };
    const release: Array<() => void> = [];
    const server: RpcServer = createRpcServer({
      handlers: {
        memo: {
          handler: async (params) => (state.handler++, { from: 'handler', value: state.value, params }),
          answerAtHand: (params) => {
            state.atHand++;
            state.params.push(params);
            return state.ready ? Buffer.from(JSON.stringify({ from: 'memo', value: state.value }), 'utf8') : undefined;
          },
        },
        hold: async (_params, ctx: CallContext) => new Promise((resolve) => release.push(() => resolve(ctx.requestId))),
      },
    });
    return { server, state, release };
  }

  async function start() {
    dir = await makeSocketDir();
    const { server, state, release } = memoServer();
    await server.listen(dir.socket);
    closers.push(() => server.close());
    const peer = await RawPeer.connect(dir.socket);
    closers.push(() => peer.destroy());
    return { peer, state, release };
  }

  const line = (id: string | number, rest = ',"method":"memo","params":{"scope":"openid email"}}') => `{"jsonrpc":"2.0","id":${id}${rest}\n`;

  it('the same bytes under a new id are answered from the memo with the same params object; other bytes are parsed', async () => {
    const { peer, state } = await start();
    peer.write(line(1));
    expect(await peer.response(1)).toEqual({ jsonrpc: '2.0', id: 1, result: { from: 'memo', value: 'v1' } });
    peer.write(line(2) + line(3));
    expect(await peer.response(3)).toEqual({ jsonrpc: '2.0', id: 3, result: { from: 'memo', value: 'v1' } });
    // The byte path gives the very object the first line parsed to: nothing was parsed again.
    expect(state.params[1]).toBe(state.params[0]);
    expect(state.params[2]).toBe(state.params[0]);
    peer.write(line(4, ',"method":"memo","params":{"scope":"openid"}}'));
    await peer.response(4);
    expect(state.params[3]).not.toBe(state.params[0]);
    expect(state.params[3]).toEqual({ scope: 'openid' });
    expect(state.handler).toBe(0);
  });

  it('when the answer is no longer at hand, the repeated request reaches the handler', async () => {
    const { peer, state } = await start();
    peer.write(line(1));
    await peer.response(1);
    state.ready = false;
    state.value = 'v2';
    peer.write(line(2));
    expect(await peer.response(2)).toMatchObject({ id: 2, result: { from: 'handler', value: 'v2', params: { scope: 'openid email' } } });
    expect(state.handler).toBe(1);
  });

  it('ids the byte path cannot read take the full path: a leading zero is a parse error, -1 and "s" are answered as such', async () => {
    const { peer } = await start();
    peer.write(line(1));
    await peer.response(1);
    peer.write(line('01') + line(-1) + line('"s"') + line(5));
    const replies = await peer.waitForLines(5);
    expect(replies[1]).toMatchObject({ id: null, error: { code: RPC_ERROR.parseError } });
    expect(replies.slice(2).map((r) => [r.id, (r.result as { from?: string } | undefined)?.from])).toEqual([
      [-1, 'memo'],
      ['s', 'memo'],
      [5, 'memo'],
    ]);
  });

  it('an id already in flight gets the duplicate-id error, not an answer', async () => {
    const { peer, release } = await start();
    peer.write(line(1));
    await peer.response(1);
    peer.write('{"jsonrpc":"2.0","id":7,"method":"hold"}\n');
    await new Promise((r) => setTimeout(r, 50));
    peer.write(line(7));
    const dup = await peer.response(7);
    expect(dup).toMatchObject({ id: 7, error: { code: RPC_ERROR.invalidRequest, message: expect.stringContaining('already in flight') } });
    release.forEach((r) => r());
  });

  it('a line with a second "id" member is never remembered by its bytes (JSON.parse reads the last id)', async () => {
    const { peer, state } = await start();
    const twoIds = ',"method":"memo","params":{"scope":"openid email"},"id":9}';
    peer.write(line(1, twoIds));
    // Not a common request (the schema path): answered under id 9, as JSON.parse reads it.
    expect(await peer.response(9)).toMatchObject({ id: 9, result: { from: 'memo' } });
    peer.write(line(2, twoIds));
    await new Promise((r) => setTimeout(r, 50));
    const ids = (await peer.waitForLines(2)).map((m) => m.id);
    expect(ids).toEqual([9, 9]);
    expect(state.params[1]).not.toBe(state.params[0]);
  });
});

describe('the client reuses a repeated reply', () => {
  /** A fake agent answering every request with `reply(id)`. */
  async function fakeAgent(reply: (id: number, n: number) => string, received: string[] = []): Promise<RpcClient> {
    dir = await makeSocketDir();
    const sockets = new Set<Socket>();
    let n = 0;
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString('utf8');
        for (let i = buffered.indexOf('\n'); i !== -1; i = buffered.indexOf('\n')) {
          received.push(buffered.slice(0, i + 1));
          const request = JSON.parse(buffered.slice(0, i)) as { id: number };
          buffered = buffered.slice(i + 1);
          socket.write(`${reply(request.id, n++)}\n`);
        }
      });
    });
    const path = join(dir.dir, 'fake.sock');
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    closers.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
    const client = await connectRpc(path, { timeoutMs: 5000 });
    closers.push(() => client.close());
    return client;
  }

  const decode = (r: unknown) => ({ ...(r as Record<string, unknown>) });

  it('decode gets the same frozen parse for the same bytes; every caller gets its own copy', async () => {
    const seen: unknown[] = [];
    const client = await fakeAgent((id) => `{"jsonrpc":"2.0","id":${id},"result":{"token":"t1"}}`);
    const spy = (r: unknown) => (seen.push(r), decode(r));
    const a = await client.call<Record<string, unknown>>('m', {}, { decode: spy });
    const b = await client.call<Record<string, unknown>>('m', {}, { decode: spy });
    expect(a).toEqual({ token: 't1' });
    expect(seen[1]).toBe(seen[0]);
    expect(Object.isFrozen(seen[0])).toBe(true);
    a.token = 'changed by the app';
    expect(b).toEqual({ token: 't1' });
    expect(await client.call('m', {}, { decode: spy })).toEqual({ token: 't1' });
    // Without decode, the caller owns a fresh parse.
    const plain = await client.call<Record<string, unknown>>('m', {});
    expect(plain).not.toBe(seen[0]);
    expect(Object.isFrozen(plain)).toBe(false);
  });

  it('a changed reply is parsed; a reply with extra members is read as JSON.parse reads it and never remembered', async () => {
    const replies = [
      (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{"token":"t1"}}`,
      (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{"token":"t2"}}`,
      (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{"token":"t1"},"result":{"token":"t3"}}`,
      (id: number) => `{"jsonrpc":"2.0","id":${id},"result":{"token":"t1"},"result":{"token":"t3"}}`,
    ];
    const client = await fakeAgent((id, n) => replies[n]!(id));
    const got: unknown[] = [];
    for (let i = 0; i < replies.length; i++) got.push(await client.call('m', {}, { decode }));
    expect(got).toEqual([{ token: 't1' }, { token: 't2' }, { token: 't3' }, { token: 't3' }]);
  });

  it('requests are byte for byte what encodeMessage writes, also when method and params repeat or change', async () => {
    const received: string[] = [];
    const client = await fakeAgent((id) => `{"jsonrpc":"2.0","id":${id},"result":1}`, received);
    const calls: Array<[string, unknown]> = [
      ['tokens.tryGet', { scope: 'openid email' }],
      ['tokens.tryGet', { scope: 'openid email' }],
      ['tokens.tryGet', { scope: 'openid' }],
      ['tokens.get', { scope: 'openid' }],
      ['tokens.get', undefined],
      ['m', { name: 'é😀\n"', n: [1, { x: null }] }],
      ['m', { name: 'é😀\n"', n: [1, { x: null }] }],
    ];
    for (const [method, params] of calls) await client.call(method, params);
    expect(received).toEqual(calls.map(([method, params], i) => encodeMessage(params === undefined ? { jsonrpc: '2.0', id: i + 1, method } : { jsonrpc: '2.0', id: i + 1, method, params }).toString('utf8')));
  });

  it('a decode that throws rejects the call with protocol_error and leaves the connection usable', async () => {
    const client = await fakeAgent((id) => `{"jsonrpc":"2.0","id":${id},"result":null}`);
    await expect(client.call('m', {}, { decode: (r) => (r as { x: number }).x })).rejects.toMatchObject({ code: 'protocol_error' });
    expect(await client.call('m', {})).toBeNull();
  });
});
