/**
 * Socket handlers for local apps: `hello` / `hello.prove` (the app proves its
 * key), then `tokens.*`, `accounts.list` and `events.subscribe`, all through
 * the {@link TokenBroker}. See wire/app-contract.ts for the wire shapes.
 *
 * Enforces:
 * - nothing but `hello`/`hello.prove` works before the app has proven its key
 *   on this connection (`unauthorized`);
 * - the app identity is per connection and never changes once proven;
 * - a connection that fails its proofs too often is closed;
 * - events reach an app only about its own grants and the accounts it holds
 *   grants for (or got a token for on this connection).
 *
 * This file is the adapter between the socket transport and the broker, as
 * admin-methods.ts is for the owner's methods: it lives with the transport so
 * that the broker (policy: identity, consent, grants) imports nothing from
 * agent/ and can be driven without a socket.
 */
import type { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseParams } from '../wire/json-rpc.js';
import type { CallContext, Connection, RpcMethodEntry } from './rpc-connection.js';
import { fromWireTokenRequest, toWireToken } from '../wire/wire-token.js';
import { claimRole } from './connection-roles.js';
import { proveConnection } from './connection-slots.js';
import { PROTOCOL_VERSION } from '../wire/json-rpc.js';
import { parseScope } from '../engine/scope.js';
import { APP_PARAMS, EVENT_NOTIFICATION, type AppAccount, type AppEvent, type AppMethod, type AppResults } from '../wire/app-contract.js';
import { AppHandshake, type VerifiedApp } from '../broker/app-identity.js';
import type { BrokerApp, BrokerEvent, ReusableAnswer, TokenBroker } from '../broker/token-broker.js';

interface AppSession {
  handshake: AppHandshake;
  app?: BrokerApp;
  /** `tokens.tryGet` answers that still stand, by the request's params as JSON (see {@link TokenBroker.reuse}); `bytes`: the result as sent. */
  answers?: Map<string, { reuse: ReusableAnswer; bytes: Buffer }>;
  /** Accounts this connection received tokens for: it hears when they sign out. */
  accountsSeen: Set<string>;
  subscribed?: Set<string>;
  unsubscribe?: () => void;
}

const SESSION = Symbol('app-session');
/** Remembered `tokens.tryGet` answers per connection; an app asks for a handful of scope sets, not hundreds. */
const MAX_ANSWERS = 16;

export interface AppMethodsOptions {
  broker: TokenBroker;
  agentInstance: string;
  logger: Logger;
  /** Tests: a shorter challenge lifetime. */
  challengeTtlMs?: number;
}

/** `raw` is the params as received, before parsing. */
type Handler<M extends AppMethod> = (params: z.output<(typeof APP_PARAMS)[M]>, ctx: CallContext, session: AppSession, raw: unknown) => Promise<AppResults[M]>;

export function appMethods(options: AppMethodsOptions): Record<string, RpcMethodEntry> {
  const { broker, logger } = options;

  function session(connection: Connection): AppSession {
    let s = connection.state[SESSION] as AppSession | undefined;
    if (!s) {
      s = {
        handshake: new AppHandshake({ agentInstance: options.agentInstance, ...(options.challengeTtlMs ? { challengeTtlMs: options.challengeTtlMs } : {}) }),
        accountsSeen: new Set(),
      };
      connection.state[SESSION] = s;
      connection.onClose(() => s!.unsubscribe?.());
    }
    return s;
  }

  function entry<M extends AppMethod>(
    method: M,
    handler: Handler<M>,
    opts: { interactive?: boolean; beforeProof?: boolean; answerAtHand?: RpcMethodEntry['answerAtHand'] } = {},
  ): [string, RpcMethodEntry] {
    return [
      method,
      {
        ...(opts.interactive ? { interactive: true } : {}),
        ...(opts.answerAtHand ? { answerAtHand: opts.answerAtHand } : {}),
        handler: async (params, ctx) => {
          if (!claimRole(ctx.connection, 'app')) {
            throw new LatchkeyError('unauthorized', 'This connection belongs to the owner; apps connect separately and use hello.');
          }
          const s = session(ctx.connection);
          if (!opts.beforeProof && !s.app) {
            throw new LatchkeyError('unauthorized', `${method} needs a proven app identity: send hello and hello.prove first.`);
          }
          const parsed = parseParams(APP_PARAMS[method] as z.ZodType, params ?? {}) as z.output<(typeof APP_PARAMS)[M]>;
          try {
            return await handler(parsed, ctx, s, params);
          } finally {
            if (s.handshake.shouldClose) setImmediate(() => ctx.connection.close());
          }
        },
      },
    ];
  }

  /** Params as JSON text; absent params are `{}`, as the handler reads them. */
  function answerKey(params: unknown): string {
    if (typeof params !== 'object' || params === null) return params === undefined ? '{}' : JSON.stringify(params);
    // A repeated request brings the same params object (rpc-connection.ts): its key is made once.
    let key = keys.get(params);
    if (key === undefined) keys.set(params, (key = JSON.stringify(params)));
    return key;
  }
  const keys = new WeakMap<object, string>();

  return Object.fromEntries([
    entry(
      'hello',
      async (p, ctx, s) => {
        const claims = { appId: p.app_id, name: p.name, version: p.version, publicKey: p.public_key };
        const challenge = s.handshake.beginHello(claims);
        // Start looking up the peer process now; the proof round trip hides its cost.
        void ctx.connection.identifyPeer();
        return { challenge: challenge.challenge, agent_instance: challenge.agentInstance, expires_at: Math.floor(challenge.expiresAtMs / 1000), protocol: PROTOCOL_VERSION };
      },
      { beforeProof: true },
    ),
    entry(
      'hello.prove',
      async (p, ctx, s) => {
        const verified: VerifiedApp = s.handshake.completeHello(p.signature);
        const peer = await ctx.connection.identifyPeer();
        // The slot table may refuse the app a slot (too many connections from its process): `busy`.
        await proveConnection(ctx.connection, 'app');
        s.app = {
          appId: verified.appId,
          name: verified.name,
          version: verified.version,
          publicKey: verified.publicKey,
          fingerprint: verified.fingerprint,
          ...(peer ? { process: { exePath: peer.exePath, exeSha256: peer.exeSha256, argv: peer.argv, pid: peer.pid } } : {}),
        };
        logger.info({ app: verified.appId, fingerprint: verified.fingerprint, exe: peer?.exePath }, 'app connected');
        return { app_id: verified.appId, key_fingerprint: verified.fingerprint, ...(peer ? { exe_path: peer.exePath } : {}) };
      },
      { beforeProof: true },
    ),
    entry(
      'tokens.tryGet',
      async (p, _ctx, s, raw) => {
        const { token, reuse } = await broker.tryGetReusable(s.app!, fromWireTokenRequest(p));
        if (token.account) s.accountsSeen.add(token.account);
        const wire = toWireToken(token);
        if (reuse) {
          s.answers ??= new Map();
          if (s.answers.size >= MAX_ANSWERS) s.answers.clear();
          // Keyed by the params as received: only params that were validated and answered here hit.
          s.answers.set(answerKey(raw), { reuse, bytes: Buffer.from(JSON.stringify(wire), 'utf8') });
        }
        return wire;
      },
      {
        // A proven connection asking again what it just got: the same bytes, no promise, no re-validation.
        answerAtHand: (params, connection) => {
          const answers = (connection.state[SESSION] as AppSession | undefined)?.answers;
          if (!answers) return undefined;
          const key = answerKey(params);
          const answer = answers.get(key);
          if (!answer) return undefined;
          if (broker.reuse(answer.reuse)) return answer.bytes;
          answers.delete(key);
          return undefined;
        },
      },
    ),
    entry(
      'tokens.get',
      async (p, ctx, s) => {
        const token = await broker.get(s.app!, fromWireTokenRequest(p), ctx.signal);
        if (token.account) s.accountsSeen.add(token.account);
        return toWireToken(token);
      },
      { interactive: true },
    ),
    entry('tokens.revoke', async (p, _ctx, s) => ({ revoked: await broker.revokeTokens(s.app!, p.account) })),
    entry('accounts.list', async (_p, _ctx, s) => {
      const grants = broker.grantsFor(s.app!);
      const accounts: AppAccount[] = broker.accountsFor(s.app!).map((a) => {
        const scope = grants.filter((g) => g.account === a.id).map((g) => g.scope).join(' ');
        const granted = new Set(parseScope(scope));
        const view: AppAccount = { id: a.id, provider: a.provider, status: a.status, granted_scope: [...granted].join(' ') };
        if (granted.has('profile')) {
          if (a.name) view.name = a.name;
          if (a.picture) view.picture = a.picture;
        }
        if (granted.has('email') && a.email) view.email = a.email;
        return view;
      });
      return { accounts };
    }),
    entry('events.subscribe', async (p, ctx, s) => {
      const wanted = new Set<string>(p?.events ?? ['grant.revoked', 'account.signed_out']);
      s.subscribed = wanted;
      if (!s.unsubscribe) {
        const app = s.app!;
        const listener = (e: BrokerEvent) => {
          let out: AppEvent | undefined;
          // Only about this app as proven by its key: another key using the same app id hears nothing.
          const mine = (h: { appId: string; publicKey: string }) => h.appId === app.appId && h.publicKey === app.publicKey;
          if (e.type === 'grant.revoked' && mine(e)) out = { type: 'grant.revoked', account: e.account };
          if (e.type === 'account.signed_out' && (e.holders.some(mine) || s.accountsSeen.has(e.account))) out = { type: 'account.signed_out', account: e.account };
          if (out && s.subscribed?.has(out.type)) ctx.connection.notify(EVENT_NOTIFICATION, out);
        };
        broker.events.on('event', listener);
        s.unsubscribe = () => broker.events.off('event', listener);
      }
      return { events: [...wanted] };
    }),
  ]);
}
