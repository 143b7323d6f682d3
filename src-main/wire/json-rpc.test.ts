import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import {
  exceedsJsonDepth,
  fromRpcError,
  incomingMessageSchema,
  parseParams,
  RPC_ERROR,
  salvageId,
  toRpcError,
} from './json-rpc.js';

describe('envelope schema', () => {
  const base = { jsonrpc: '2.0', method: 'm' };

  it('accepts requests and notifications', () => {
    expect(incomingMessageSchema.safeParse({ ...base, id: 1, params: {} }).success).toBe(true);
    expect(incomingMessageSchema.safeParse({ ...base, id: 'a', params: [1] }).success).toBe(true);
    expect(incomingMessageSchema.safeParse(base).success).toBe(true);
  });

  it.each([
    ['null id', { ...base, id: null }],
    ['fractional id', { ...base, id: 1.5 }],
    ['unsafe integer id', { ...base, id: 2 ** 60 }],
    ['object id', { ...base, id: {} }],
    ['over-long id', { ...base, id: 'x'.repeat(257) }],
    ['empty method', { ...base, method: '' }],
    ['scalar params', { ...base, id: 1, params: 3 }],
    ['wrong version', { ...base, jsonrpc: '1.0' }],
  ])('rejects %s', (_name, message) => {
    expect(incomingMessageSchema.safeParse(message).success).toBe(false);
  });

  it('passes params through untouched, own __proto__ key included', () => {
    const message = JSON.parse('{"jsonrpc":"2.0","id":1,"method":"m","params":{"__proto__":{"polluted":true}}}');
    const parsed = incomingMessageSchema.parse(message);
    expect(parsed.params).toBe(message.params);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('salvages only usable ids', () => {
    expect(salvageId({ id: 7 })).toBe(7);
    expect(salvageId({ id: { x: 1 } })).toBeNull();
    expect(salvageId([{ id: 7 }])).toBeNull();
  });
});

describe('exceedsJsonDepth', () => {
  it('measures nesting without recursion, even 200,000 levels deep', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000));
    expect(exceedsJsonDepth(deep, 64)).toBe(true);
    expect(exceedsJsonDepth({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(exceedsJsonDepth({ a: [{ b: {} }] }, 3)).toBe(true);
    expect(exceedsJsonDepth('scalar', 0)).toBe(false);
  });
});

describe('error objects', () => {
  it('keeps the Latchkey code and provider error', () => {
    const wire = toRpcError(new LatchkeyError('provider_error', 'nope', { providerError: 'invalid_grant' }));
    expect(wire).toEqual({ code: RPC_ERROR.application, message: 'nope', data: { code: 'provider_error', providerError: 'invalid_grant' } });
    const back = fromRpcError(wire);
    expect(back).toBeInstanceOf(LatchkeyError);
    expect([back.code, back.message, back.providerError]).toEqual(['provider_error', 'nope', 'invalid_grant']);
  });

  it('maps usage to invalid params and oversize to invalid request', () => {
    expect(toRpcError(new LatchkeyError('usage', 'x')).code).toBe(RPC_ERROR.invalidParams);
    expect(toRpcError(new LatchkeyError('message_too_large', 'x')).code).toBe(RPC_ERROR.invalidRequest);
  });

  it('falls back sensibly when data.code is missing or unknown', () => {
    expect(fromRpcError({ code: RPC_ERROR.parseError, message: 'x' }).code).toBe('protocol_error');
    expect(fromRpcError({ code: RPC_ERROR.invalidParams, message: 'x' }).code).toBe('usage');
    expect(fromRpcError({ code: -32000, message: 'x', data: { code: 'made_up' } }).code).toBe('internal');
  });
});

describe('parseParams', () => {
  it('returns typed params or throws usage naming the field', () => {
    const schema = z.object({ account: z.string() });
    expect(parseParams(schema, { account: 'a' })).toEqual({ account: 'a' });
    expect(() => parseParams(schema, { account: 1 })).toThrow(expect.objectContaining({ code: 'usage', message: expect.stringContaining('at account') }));
  });
});
