/**
 * The agent protocol's envelope: JSON-RPC 2.0 messages, error objects and the
 * version. Shared by the server and the client, and documented in
 * docs/protocol.md for clients in other languages.
 *
 * Enforces:
 * - `jsonrpc` is exactly "2.0"; batches (arrays) are refused;
 * - ids are strings (at most 256 characters) or safe integers, never null, so
 *   every response can be matched to its request;
 * - `method` is a non-empty string of at most 128 characters; `params`, when
 *   present, is an object or an array;
 * - nesting is bounded, so code that walks params recursively (schemas,
 *   loggers, `JSON.stringify`) cannot overflow the stack;
 * - every error carries a Latchkey {@link ErrorCode} in `data.code`.
 *
 * @see https://www.jsonrpc.org/specification
 */
import { z } from 'zod';
import { isErrorCode, LatchkeyError, toWireError, type ErrorCode, type WireError } from '../errors.js';

/**
 * The protocol's major version. Within a major version methods and fields may
 * be added, never removed or changed in meaning.
 */
export const PROTOCOL_VERSION = 1;

/** JSON-RPC 2.0 error codes (spec §5.1) plus the one application code we use. */
export const RPC_ERROR = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  application: -32000,
} as const;

/** Built-in methods and notifications; the `rpc.` prefix is reserved by JSON-RPC 2.0 §4. */
export const VERSION_METHOD = 'rpc.version';
export const CANCEL_NOTIFICATION = '$/cancel';

/** Deeper JSON than this is refused before any code walks it. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

export type RpcId = string | number;

const idSchema = z.union([z.string().max(256), z.number().int()]);

// A custom check instead of z.record: it passes the parsed object through
// untouched, so an own "__proto__" key from JSON.parse is never re-assigned.
const structuredSchema = z.custom<Record<string, unknown> | unknown[]>(
  (value) => typeof value === 'object' && value !== null,
  { message: 'params must be an object or an array' },
);

/** A client → agent message: a request when `id` is present, else a notification. */
export const incomingMessageSchema = z.object({
  jsonrpc: z.literal('2.0'),
  id: idSchema.optional(),
  method: z.string().min(1).max(128),
  params: structuredSchema.optional(),
});
export type IncomingMessage = z.infer<typeof incomingMessageSchema>;

export const cancelParamsSchema = z.object({ id: idSchema });

const ENVELOPE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

function isId(value: unknown): value is RpcId {
  return typeof value === 'string' ? value.length <= 256 : Number.isSafeInteger(value);
}

/**
 * The common request (an id, a method, flat params or none) checked by hand
 * exactly as {@link incomingMessageSchema} and the depth limit would accept it:
 * zod costs microseconds a message on the hot path. Anything else (a
 * notification, nested params, unknown keys, any flaw) gives `undefined` and
 * takes the full path with its precise errors.
 */
export function parseCommonRequest(value: unknown, maxJsonDepth: number): (IncomingMessage & { id: RpcId }) | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || maxJsonDepth < 2) return undefined;
  for (const key in value) if (!ENVELOPE_KEYS.has(key)) return undefined;
  const { jsonrpc, id, method, params } = value as Record<string, unknown>;
  if (jsonrpc !== '2.0' || !isId(id) || typeof method !== 'string' || method.length < 1 || method.length > 128) return undefined;
  if (params === undefined) return { jsonrpc, id, method };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return undefined;
  for (const key in params) {
    const member = (params as Record<string, unknown>)[key];
    if (typeof member === 'object' && member !== null) return undefined;
  }
  return { jsonrpc, id, method, params: params as Record<string, unknown> };
}

/** `data` of every error object the agent sends. */
export interface RpcErrorData {
  code: ErrorCode;
  providerError?: string;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data: RpcErrorData;
}

const errorObjectSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.looseObject({ code: z.string().optional(), providerError: z.string().optional() }).optional(),
});

/** An agent → client message: a response (result or error) or a notification. */
export const serverMessageSchema = z.union([
  z.object({ jsonrpc: z.literal('2.0'), id: idSchema.nullable(), error: errorObjectSchema }),
  z.object({ jsonrpc: z.literal('2.0'), id: idSchema, result: z.unknown() }),
  z.object({ jsonrpc: z.literal('2.0'), method: z.string(), params: z.unknown().optional() }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/**
 * A successful response to a call this client made (numeric id), checked by
 * hand as {@link serverMessageSchema} would read it; `undefined` for anything
 * else (errors, notifications, unknown keys), which takes the schema.
 */
export function parseCommonResult(value: unknown): { id: number; result: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  let members = 0;
  for (const key in value) {
    if (key !== 'jsonrpc' && key !== 'id' && key !== 'result') return undefined;
    members++;
  }
  const { jsonrpc, id, result } = value as { jsonrpc?: unknown; id?: unknown; result?: unknown };
  if (members !== 3 || jsonrpc !== '2.0' || typeof id !== 'number' || !Number.isSafeInteger(id)) return undefined;
  return { id, result };
}

/** Result of {@link VERSION_METHOD}. */
export interface VersionResult {
  protocol: number;
  agent: 'latchkey';
}

/**
 * The JSON-RPC code an application error travels under. `usage` (the caller
 * sent something malformed) is JSON-RPC's "invalid params"; an oversized
 * message is an invalid request; everything else is the application code.
 */
function rpcCodeFor(code: ErrorCode): number {
  if (code === 'usage') return RPC_ERROR.invalidParams;
  if (code === 'message_too_large') return RPC_ERROR.invalidRequest;
  return RPC_ERROR.application;
}

/** Turns anything thrown into the error object sent on the wire. */
export function toRpcError(err: unknown, rpcCode?: number): RpcErrorObject {
  const wire: WireError = toWireError(err);
  const data: RpcErrorData = { code: wire.code };
  if (wire.providerError) data.providerError = wire.providerError;
  return { code: rpcCode ?? rpcCodeFor(wire.code), message: wire.message, data };
}

/**
 * Rebuilds a LatchkeyError from a received error object. A peer that omits
 * `data.code` (or sends one we do not know) still gets a sensible code.
 */
export function fromRpcError(error: { code: number; message: string; data?: { code?: string; providerError?: string } }): LatchkeyError {
  const dataCode = error.data?.code;
  let code: ErrorCode;
  if (isErrorCode(dataCode)) code = dataCode;
  else if (error.code === RPC_ERROR.invalidParams) code = 'usage';
  else if (error.code <= -32600 && error.code >= -32700) code = 'protocol_error';
  else code = 'internal';
  const providerError = error.data?.providerError;
  return new LatchkeyError(code, error.message, providerError ? { providerError } : {});
}

export function resultResponse(id: RpcId, result: unknown): { jsonrpc: '2.0'; id: RpcId; result: unknown } {
  // `undefined` would drop the member and make the response unreadable.
  return { jsonrpc: '2.0', id, result: result === undefined ? null : result };
}

export function errorResponse(id: RpcId | null, error: RpcErrorObject): { jsonrpc: '2.0'; id: RpcId | null; error: RpcErrorObject } {
  return { jsonrpc: '2.0', id, error };
}

export function notification(method: string, params?: unknown): { jsonrpc: '2.0'; method: string; params?: unknown } {
  return params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params };
}

/** The id of a message that failed validation, if it has a usable one. */
export function salvageId(value: unknown): RpcId | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const parsed = idSchema.safeParse((value as { id?: unknown }).id);
  return parsed.success ? parsed.data : null;
}

/**
 * True when `value` nests objects/arrays deeper than `maxDepth`. Iterative on
 * purpose: V8's JSON.parse accepts nesting far deeper than any recursive
 * walker survives, so this check itself must not recurse.
 */
export function exceedsJsonDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Validates a handler's params against its schema; failures become
 * `usage` errors, sent as JSON-RPC "invalid params" (-32602).
 */
export function parseParams<S extends z.ZodType>(schema: S, params: unknown): z.output<S> {
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new LatchkeyError('usage', `Invalid params${where}: ${issue?.message ?? 'rejected'}`, { cause: parsed.error });
}
