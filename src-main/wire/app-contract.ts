/**
 * The app methods of the agent's socket: what a local app (plugin, tool)
 * sends and gets back. Wire names are snake_case like the rest of the
 * protocol; docs/protocol.md is the human description of this file.
 *
 * Params are validated strictly (unknown keys are errors) so a typo in a
 * client is a clear `usage` error, not a silently ignored option.
 */
import { z } from 'zod';
import { tokenRequestSchema, type WireToken } from './wire-token.js';

export const APP_PARAMS = {
  hello: z
    .object({
      app_id: z.string().max(128),
      name: z.string().max(256),
      version: z.string().max(128),
      public_key: z.string().max(128),
    })
    .strict(),
  'hello.prove': z.object({ signature: z.string().max(256) }).strict(),
  'tokens.tryGet': tokenRequestSchema,
  'tokens.get': tokenRequestSchema,
  'tokens.revoke': z.object({ account: z.string().min(1).max(256).optional() }).strict(),
  'accounts.list': z.object({}).strict().optional(),
  'events.subscribe': z
    .object({ events: z.array(z.enum(['grant.revoked', 'account.signed_out'])).min(1).max(8).optional() })
    .strict()
    .optional(),
} as const;

export type AppMethod = keyof typeof APP_PARAMS;
export type AppParams<M extends AppMethod> = z.input<(typeof APP_PARAMS)[M]>;

/** An account as an app may see it: only what its granted scopes cover. */
export interface AppAccount {
  id: string;
  provider: string;
  status: 'active' | 'sign_in_needed';
  /** Present when the app was granted `profile`. */
  name?: string;
  picture?: string;
  /** Present when the app was granted `email`. */
  email?: string;
  /** The scopes this app holds for this account. */
  granted_scope: string;
}

export interface AppResults {
  /** `expires_at`: epoch seconds, until when the challenge is accepted. */
  hello: { challenge: string; agent_instance: string; expires_at: number; protocol: number };
  'hello.prove': { app_id: string; key_fingerprint: string; exe_path?: string };
  'tokens.tryGet': WireToken;
  'tokens.get': WireToken;
  'tokens.revoke': { revoked: number };
  'accounts.list': { accounts: AppAccount[] };
  'events.subscribe': { events: string[] };
}

/** The notification an app gets for each subscribed event. */
export const EVENT_NOTIFICATION = 'event';

export type AppEvent = { type: 'grant.revoked'; account: string } | { type: 'account.signed_out'; account: string };
