/**
 * The agent's JSON-RPC server: accepts local connections, hands each to an
 * {@link RpcConnection}, and owns the method table.
 *
 * Enforces:
 * - at most `maxConnections` connection slots; who keeps one when they run
 *   short is connection-slots.ts's call (with `requireProof`, unproven
 *   connections go first); one turned away gets a single `busy` error line
 *   and is closed, so a flood of idle sockets cannot starve us;
 * - method names are looked up in a Map, so `__proto__`, `constructor` and
 *   friends are just unknown methods;
 * - names starting with `rpc.` or `$/` are reserved for the protocol itself.
 *
 * The per-connection rules (framing, timeouts, cancellation, back-pressure)
 * live in rpc-connection.ts.
 */
import { createServer, type Socket } from 'node:net';
import { LatchkeyError } from '../errors.js';
import type { PeerLookup } from '../platform/peer-lookup.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { DEFAULT_MAX_MESSAGE_BYTES, encodeMessage } from '../wire/framing.js';
import {
  RpcConnection,
  type Connection,
  type ConnectionHost,
  type RpcHandler,
  type RpcLimits,
  type RpcMethodEntry,
} from './rpc-connection.js';
import { DEFAULT_MAX_JSON_DEPTH, errorResponse, PROTOCOL_VERSION, toRpcError, VERSION_METHOD, type VersionResult } from '../wire/json-rpc.js';
import { listenSocket } from './socket-listen.js';
import { ConnectionSlots } from './connection-slots.js';

export type { CallContext, Connection, RpcHandler, RpcLimits, RpcMethodEntry, RpcMethodOptions } from './rpc-connection.js';

/** Defaults chosen for one user's desktop: generous for real clients, bounded for hostile ones. */
export const DEFAULT_RPC_LIMITS: Readonly<RpcLimits> = Object.freeze({
  maxConnections: 256,
  handshakeTimeoutMs: 10_000,
  maxConnectionsPerPeer: 32,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxJsonDepth: DEFAULT_MAX_JSON_DEPTH,
  idleTimeoutMs: 60_000,
  maxInFlightPerConnection: 32,
  maxOutboundBytes: 4 * DEFAULT_MAX_MESSAGE_BYTES,
  requestTimeoutMs: 30_000,
  interactiveTimeoutMs: 10 * 60_000,
});

/** A method is a bare handler or a handler with options. */
export type RpcMethod = RpcHandler | RpcMethodEntry;

export interface RpcServerOptions {
  handlers: Readonly<Record<string, RpcMethod>>;
  limits?: Partial<RpcLimits>;
  logger?: Logger;
  /** Called for each accepted connection before its first message is read. */
  onConnection?: (connection: Connection) => void;
  /** Tells which process is on the other end of a socket (see platform/peer-lookup.ts). */
  identifyPeer?: PeerLookup['identify'];
  /**
   * Connections must prove who they are (the handlers call `proveConnection`);
   * unproven ones get a handshake deadline and give way when slots run short.
   */
  requireProof?: boolean;
}

export interface RpcServer {
  /** Listens on a Unix socket path or a Windows named pipe (see socket-listen.ts). */
  listen(path: string): Promise<void>;
  /** Stops accepting, drops every connection (aborting in-flight requests), removes the socket. */
  close(): Promise<void>;
  /** Live connections, not counting ones being turned away as `busy`. */
  connections(): number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

const RESERVED_PREFIXES = ['rpc.', '$/'];

/** How long a turned-away connection may take to read its `busy` line. */
const REJECT_GRACE_MS = 1000;

/**
 * Creates the agent's server. Handlers receive raw `params` and validate them
 * (see `parseParams` in wire/json-rpc.ts); a thrown LatchkeyError reaches the
 * client with its code, anything else as `internal`.
 */
export function createRpcServer(options: RpcServerOptions): RpcServer {
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? silentLogger();
  const methods = buildMethodTable(options.handlers);
  const host: ConnectionHost = { limits, logger, lookup: (name) => methods.get(name), ...(options.identifyPeer ? { identifyPeer: options.identifyPeer } : {}) };
  const live = new Set<RpcConnection>();
  const rejecting = new Set<Socket>();
  const slots = new ConnectionSlots({ limits, logger, requireProof: options.requireProof ?? false });
  let nextId = 1;

  const server = createServer((socket) => {
    if (!slots.makeRoom()) {
      turnAway(socket);
      return;
    }
    const connection = new RpcConnection(nextId++, socket, host);
    live.add(connection);
    slots.admit(connection);
    connection.onClose(() => live.delete(connection));
    logger.debug({ connection: connection.id }, 'agent connection opened');
    try {
      options.onConnection?.(connection);
    } catch (err) {
      logger.error({ err, connection: connection.id }, 'agent onConnection hook failed; dropping connection');
      connection.destroy();
    }
  });
  server.on('error', (err) => logger.error({ err }, 'agent server error'));

  function turnAway(socket: Socket): void {
    rejecting.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => rejecting.delete(socket));
    const busy = new LatchkeyError('busy', `The agent has too many connections (max ${limits.maxConnections}); retry later`);
    socket.end(encodeMessage(errorResponse(null, toRpcError(busy))), () => socket.destroy());
    setTimeout(() => socket.destroy(), REJECT_GRACE_MS).unref();
    logger.warn({ max: limits.maxConnections }, 'agent connection limit reached; turning a client away');
  }

  return {
    listen: (path) => listenSocket(server, path),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        slots.clear();
        for (const connection of live) connection.destroy();
        for (const socket of rejecting) socket.destroy();
      }),
    connections: () => live.size,
  };
}

function resolveLimits(overrides: Partial<RpcLimits> = {}): Readonly<RpcLimits> {
  const limits: RpcLimits = { ...DEFAULT_RPC_LIMITS };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof RpcLimits, number | undefined]>) {
    if (value === undefined) continue;
    limits[key] = checkPositive(`RPC limit ${key}`, value);
  }
  // A response of maximum size must fit in the outbound queue, or every large answer would drop its client.
  if (limits.maxOutboundBytes <= limits.maxMessageBytes) {
    throw new LatchkeyError('usage', 'RPC limit maxOutboundBytes must exceed maxMessageBytes');
  }
  return Object.freeze(limits);
}

/** Node timers fire at once for delays above 2^31-1 ms, so larger values are refused too. */
function checkPositive(what: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new LatchkeyError('usage', `${what} must be an integer from 1 to ${MAX_TIMER_MS}, got ${value}`);
  }
  return value;
}

function buildMethodTable(handlers: Readonly<Record<string, RpcMethod>>): Map<string, RpcMethodEntry> {
  const methods = new Map<string, RpcMethodEntry>();
  for (const [name, method] of Object.entries(handlers)) {
    if (RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      throw new LatchkeyError('usage', `Method name ${name} is reserved for the protocol`);
    }
    const entry = typeof method === 'function' ? { handler: method } : method;
    if (entry.timeoutMs !== undefined) checkPositive(`timeoutMs of ${name}`, entry.timeoutMs);
    methods.set(name, entry);
  }
  const version: VersionResult = { protocol: PROTOCOL_VERSION, agent: 'latchkey' };
  methods.set(VERSION_METHOD, { handler: async () => version });
  return methods;
}
