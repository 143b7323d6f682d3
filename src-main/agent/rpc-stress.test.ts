import { afterEach, describe, expect, it } from 'vitest';
import { LatchkeyError, isErrorCode } from '../errors.js';
import { connectRpc } from '../wire/rpc-client.js';
import { createRpcServer, type RpcLimits, type RpcServer } from './rpc-server.js';
import { makeSocketDir, RawPeer, sleep, type SocketDir, seededRandom } from '../testing/rpc-testing.js';

let dir: SocketDir;
let server: RpcServer | undefined;
const peers: RawPeer[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await server?.close();
  server = undefined;
  await dir?.remove();
});

async function start(limits: Partial<RpcLimits> = {}): Promise<string> {
  dir = await makeSocketDir();
  server = createRpcServer({
    limits,
    handlers: {
      echo: async (params) => params,
      locked: async () => {
        throw new LatchkeyError('vault_locked', 'locked');
      },
      crash: async () => {
        throw new Error('boom');
      },
    },
  });
  await server.listen(dir.socket);
  return dir.socket;
}

/**
 * Opens `count` raw connections in batches. Node accepts one connection per
 * event-loop turn while the loop is busy, so a pause between batches lets the
 * listen backlog (511) drain instead of overflowing into EAGAIN.
 */
async function openPeers(path: string, count: number): Promise<RawPeer[]> {
  const opened: RawPeer[] = [];
  while (opened.length < count) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - opened.length) }, () => RawPeer.connect(path)));
    opened.push(...batch);
    peers.push(...batch);
    await sleep(30);
  }
  return opened;
}

async function versionCall(path: string): Promise<unknown> {
  const client = await connectRpc(path, { timeoutMs: 5000 });
  try {
    return await client.call('rpc.version');
  } finally {
    await client.close();
  }
}

const prng = (seed: number) => seededRandom(seed).next;

interface FuzzCase {
  line: string | Buffer;
  /** The id the answer must carry; null for "answered with id null"; undefined for "never answered". */
  answer?: string | number | null;
  /** For a valid echo request: the params that must come back. */
  echo?: unknown;
}

function fuzzCases(count: number, seed: number): FuzzCase[] {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const value = (depth: number): unknown => {
    switch (depth > 3 ? int(4) : int(7)) {
      case 0: return pick([0, -1, 1.5, 1e308, -1e-308, Number.MAX_SAFE_INTEGER]);
      case 1: return pick(['', 'é', '\n\r\u2028', '\u0000', '"\\', '🔑'.repeat(int(50))]);
      case 2: return pick([true, false, null]);
      case 3: return 'x'.repeat(int(2000));
      case 4: return Array.from({ length: int(5) }, () => value(depth + 1));
      default: return Object.fromEntries(Array.from({ length: int(5) }, (_, i) => [pick(['a', '__proto__', 'constructor', `k${i}`]), value(depth + 1)]));
    }
  };
  const cases: FuzzCase[] = [];
  for (let n = 0; n < count; n++) {
    const id = n % 2 === 0 ? n : `s${n}`;
    const method = pick(['rpc.version', 'echo', 'echo', 'locked', 'crash', 'nope', '__proto__', 'toString']);
    const kind = int(12);
    if (kind <= 3) {
      const params = pick([undefined, {}, [], { v: value(0) }, [value(0)]]);
      cases.push({ line: JSON.stringify({ jsonrpc: '2.0', id, method, params }), answer: id, ...(method === 'echo' && params !== undefined ? { echo: params } : {}) });
    } else if (kind === 4) {
      cases.push({ line: JSON.stringify({ jsonrpc: '2.0', method: pick([method, '$/cancel']), params: { id: `never-${n}` } }) });
    } else if (kind === 5) {
      const bad = pick<Record<string, unknown>>([
        { jsonrpc: '1.0', id, method },
        { jsonrpc: '2.0', id, method: 42 },
        { jsonrpc: '2.0', id, method, params: 'scalar' },
        { jsonrpc: '2.0', id, method: '' },
        { jsonrpc: '2.0', id, method: 'm'.repeat(200) },
        { jsonrpc: 2, id, method },
        { id, method },
      ]);
      cases.push({ line: JSON.stringify(bad), answer: id });
    } else if (kind === 6) {
      const badId = pick(['{}', '[]', 'true', '1.5', `1${'0'.repeat(400)}`, '-1e400', `"${'i'.repeat(300)}"`, 'null']);
      cases.push({ line: `{"jsonrpc":"2.0","id":${badId},"method":"echo"}`, answer: null });
    } else if (kind === 7) {
      const garbage = Buffer.from(Array.from({ length: 1 + int(300) }, () => { const b = int(256); return b === 0x0a ? 0x20 : b; }));
      cases.push({ line: Buffer.concat([Buffer.from('#'), garbage]), answer: null });
    } else if (kind === 8) {
      cases.push({ line: pick(['1', '"str"', 'null', 'true', `9${'9'.repeat(500)}`, '[]', `[${JSON.stringify({ jsonrpc: '2.0', id, method })}]`]), answer: null });
    } else if (kind === 9) {
      const depth = 1 + int(20_000);
      cases.push({ line: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"echo","params":${'['.repeat(depth)}${']'.repeat(depth)}}`, answer: id });
    } else if (kind === 10) {
      cases.push({ line: pick(['', '   ', '\t', '\r']) });
    } else {
      // Truncated JSON of a valid request.
      const text = JSON.stringify({ jsonrpc: '2.0', id, method, params: { v: value(0) } });
      cases.push({ line: text.slice(0, 1 + int(text.length - 1)), answer: null });
    }
  }
  return cases;
}

describe('fuzzing', () => {
  it('answers 10,000 fuzzed messages correctly and keeps serving', async () => {
    const path = await start({ maxInFlightPerConnection: 100_000 });
    const cases = fuzzCases(10_000, 20240611);
    const lanes = await openPeers(path, 4);
    const expected = lanes.map(() => [] as FuzzCase[]);
    cases.forEach((c, i) => {
      const lane = i % lanes.length;
      lanes[lane]!.write(Buffer.concat([Buffer.isBuffer(c.line) ? c.line : Buffer.from(c.line), Buffer.from('\n')]));
      if (c.answer !== undefined) expected[lane]!.push(c);
    });
    for (const [lane, peer] of lanes.entries()) {
      const replies = await peer.waitForLines(expected[lane]!.length, 20_000);
      expect(peer.socket.destroyed).toBe(false);
      expect(replies).toHaveLength(expected[lane]!.length);
      for (const reply of replies) {
        expect(reply.jsonrpc).toBe('2.0');
        if ('error' in reply) {
          const error = reply.error as { code: unknown; message: unknown; data: { code: unknown } };
          expect(Number.isInteger(error.code)).toBe(true);
          expect(typeof error.message).toBe('string');
          expect(isErrorCode(error.data.code)).toBe(true);
          expect(error.message).not.toContain('boom');
        } else {
          expect(reply).toHaveProperty('result');
        }
      }
      // Every answerable request got its answer, matched by id.
      const byId = new Map(replies.filter((r) => r.id !== null).map((r) => [r.id, r]));
      for (const c of expected[lane]!) {
        if (c.answer === null) continue;
        const reply = byId.get(c.answer);
        expect(reply, `answer for ${String(c.answer)}`).toBeDefined();
        if (c.echo !== undefined) expect(reply!.result).toEqual(JSON.parse(JSON.stringify(c.echo)));
      }
      expect(replies.filter((r) => r.id === null)).toHaveLength(expected[lane]!.filter((c) => c.answer === null).length);
    }
    expect(await versionCall(path)).toEqual({ protocol: 1, agent: 'latchkey' });
  });
});

describe('connection floods', () => {
  it('holds 1,000 idle connections, keeps serving, then closes them when idle', async () => {
    const path = await start({ maxConnections: 1100, idleTimeoutMs: 1500 });
    const idle = await openPeers(path, 1000);
    await expect.poll(() => server!.connections(), { timeout: 5000 }).toBe(1000);
    expect(await versionCall(path)).toMatchObject({ protocol: 1 });
    await Promise.all(idle.map((p) => p.closed));
    expect(idle.every((p) => p.lines.length === 0)).toBe(true);
    await expect.poll(() => server!.connections(), { timeout: 5000 }).toBe(0);
  });

  it('turns away connections beyond a low limit with "busy"', async () => {
    const path = await start({ maxConnections: 50 });
    const all = await openPeers(path, 100);
    await Promise.all(all.slice(50).map((p) => p.closed));
    const turnedAway = all.filter((p) => p.socket.destroyed);
    expect(turnedAway).toHaveLength(50);
    for (const p of turnedAway) expect(p.messages()).toEqual([expect.objectContaining({ id: null, error: expect.objectContaining({ data: { code: 'busy' } }) })]);
    await expect(versionCall(path)).rejects.toMatchObject({ code: 'busy' });
    for (const p of all.slice(0, 10)) p.destroy();
    await expect.poll(() => server!.connections(), { timeout: 5000 }).toBe(40);
    expect(await versionCall(path)).toMatchObject({ protocol: 1 });
  });
});
