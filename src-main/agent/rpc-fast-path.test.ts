/**
 * The hand-written fast paths for common messages must never accept anything
 * the schemas would refuse, and must read what they accept exactly as the
 * schemas do; anything unusual falls back to the schemas.
 */
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_MAX_JSON_DEPTH, exceedsJsonDepth, incomingMessageSchema, parseCommonRequest, parseCommonResult, serverMessageSchema } from '../wire/json-rpc.js';
import { DeadlineTimer } from '../wire/deadline-timer.js';
import { seededRandom } from '../testing/rpc-testing.js';

const rand = seededRandom(20261123);
const scalars = [0, -1, 1.5, 2 ** 53, 'x', '', 'a'.repeat(300), true, false, null, undefined, NaN];
const value = (depth = 0): unknown => {
  if (depth < 3 && rand.chance(0.25)) return rand.chance(0.5) ? [value(depth + 1)] : { k: value(depth + 1), __proto__x: 1 };
  return rand.pick(scalars);
};
const maybe = <T>(v: () => T): T | undefined => (rand.chance(0.8) ? v() : undefined);

function randomRequest(): unknown {
  const msg: Record<string, unknown> = {};
  const jsonrpc = maybe(() => rand.pick(['2.0', '2.0', '2.0', '1.0', 2, '']));
  if (jsonrpc !== undefined) msg.jsonrpc = jsonrpc;
  const id = maybe(() => rand.pick([1, 42, -7, 1.5, 2 ** 60, 'abc', 'x'.repeat(256), 'x'.repeat(257), null, {}, [], true]));
  if (id !== undefined) msg.id = id;
  const method = maybe(() => rand.pick(['tokens.tryGet', 'hello', '', 'm'.repeat(128), 'm'.repeat(129), 5, null]));
  if (method !== undefined) msg.method = method;
  if (rand.chance(0.7)) msg.params = rand.chance(0.7) ? { scope: value(), min_ttl: value(), nested: rand.chance(0.2) ? value() : 1 } : value();
  if (rand.chance(0.1)) msg.extra = 1;
  return rand.chance(0.05) ? rand.pick([[msg], 'str', 5, null]) : msg;
}

function randomReply(): unknown {
  const msg: Record<string, unknown> = { jsonrpc: rand.pick(['2.0', '2.0', '1.0']) };
  if (rand.chance(0.9)) msg.id = rand.pick([1, 7, 'abc', null, 1.5, {}]);
  if (rand.chance(0.8)) msg.result = value();
  if (rand.chance(0.15)) msg.error = { code: -32000, message: 'm', data: { code: 'usage' } };
  if (rand.chance(0.1)) msg.method = 'event';
  return msg;
}

describe('fast paths for common JSON-RPC messages', () => {
  it('requests: 20,000 random messages, the fast path accepts only what the schema and depth limit accept, and reads it the same', () => {
    let fast = 0;
    for (let i = 0; i < 20_000; i++) {
      const raw = JSON.parse(JSON.stringify(randomRequest()) ?? 'null');
      const depth = rand.pick([DEFAULT_MAX_JSON_DEPTH, 2, 1]);
      const quick = parseCommonRequest(raw, depth);
      if (quick === undefined) continue;
      fast++;
      const full = incomingMessageSchema.safeParse(raw);
      expect(full.success && !exceedsJsonDepth(raw, depth), JSON.stringify(raw)).toBe(true);
      expect(quick).toEqual(full.data);
    }
    expect(fast).toBeGreaterThan(200);
  });

  it('replies: the fast path takes only plain numeric-id results, exactly as the schema reads them', () => {
    let fast = 0;
    for (let i = 0; i < 20_000; i++) {
      const raw = JSON.parse(JSON.stringify(randomReply()));
      const quick = parseCommonResult(raw);
      if (quick === undefined) continue;
      fast++;
      const full = serverMessageSchema.safeParse(raw);
      expect(full.success, JSON.stringify(raw)).toBe(true);
      expect(full.data).toMatchObject({ id: quick.id, result: quick.result });
      expect('error' in raw || 'method' in raw).toBe(false);
    }
    expect(fast).toBeGreaterThan(500);
  });
});

describe('DeadlineTimer', () => {
  it('never fires before a deadline, fires after it, and an earlier deadline wins', async () => {
    const fired: number[] = [];
    const deadlines = [performance.now() + 80, performance.now() + 30];
    let allFired!: () => void;
    const done = new Promise<void>((r) => (allFired = r));
    const timer = new DeadlineTimer((now) => {
      fired.push(now);
      const next = deadlines.filter((d) => d > now);
      if (!next.length) allFired();
      return next.length ? Math.min(...next) : Infinity;
    });
    timer.ensure(deadlines[0]!);
    timer.ensure(deadlines[1]!);
    timer.ensure(deadlines[0]!); // later than pending: free, changes nothing
    // Waits for the fires themselves, not a fixed time, so a loaded machine only makes it slower (bounded).
    const bound = setTimeout(allFired, 10_000);
    await done;
    clearTimeout(bound);
    timer.stop();
    expect(fired.length).toBeGreaterThanOrEqual(2);
    expect(fired[0]!).toBeGreaterThanOrEqual(deadlines[1]!);
    expect(fired.some((t) => t >= deadlines[0]!)).toBe(true);
  });

  it('a timer that fires before the deadline by the clock of performance.now() waits the rest', () => {
    // Node times timers from the event loop's cached millisecond clock, which lags performance.now():
    // here the timer is due while performance.now() is still short of the deadline.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const checks: number[] = [];
      const timer = new DeadlineTimer((t) => (checks.push(t), Infinity));
      timer.ensure(10.5);
      clock = 10.2;
      vi.advanceTimersByTime(11);
      expect(checks).toEqual([]);
      clock = 10.6;
      vi.advanceTimersByTime(1);
      expect(checks).toEqual([10.6]);
      timer.stop();
    } finally {
      now.mockRestore();
      vi.useRealTimers();
    }
  });
});
