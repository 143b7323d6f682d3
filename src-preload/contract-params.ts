/**
 * The contract's params as zod schemas: what main accepts from the renderer
 * on each channel. `satisfies` ties each schema to the channel's declared
 * params type, so the two cannot drift apart.
 */
import { z } from 'zod';
import { ACTIVITY_EVENTS, MIN_NEW_PASSPHRASE, type Channel, type ParamsOf } from './contract.js';

const flowId = z.string().regex(/^[A-Za-z0-9-]{8,64}$/);
const name = z.string().min(1).max(64);
const none = z.object({}).strict().optional();
const MAX_PASSPHRASE = 1024;

/** Params for each channel, checked in main before anything runs. */
export const PARAMS = {
  'vault:state': none,
  // An existing vault may have a shorter passphrase (the CLI asks for any); only new ones get the minimum.
  'vault:unlock': z.object({ passphrase: z.string().min(1, 'Enter the passphrase.').max(MAX_PASSPHRASE) }).strict(),
  'vault:create': z
    .object({
      passphrase: z.string().min(MIN_NEW_PASSPHRASE, `Use at least ${MIN_NEW_PASSPHRASE} characters.`).max(MAX_PASSPHRASE, `Use at most ${MAX_PASSPHRASE} characters.`),
      confirm: z.string().max(MAX_PASSPHRASE),
    })
    .strict()
    .refine((p) => p.passphrase === p.confirm, { message: 'The two passphrases do not match.', path: ['confirm'] }),
  'app:state': none,
  'accounts:list': none,
  'accounts:sign-in': z.object({ flowId, provider: name.optional() }).strict(),
  'accounts:cancel-sign-in': z.object({ flowId }).strict(),
  'accounts:sign-out': z.object({ account: name.max(128) }).strict(),
  'providers:list': none,
  'providers:check': z.object({ issuer: z.string().min(1).max(2048) }).strict(),
  'providers:add': z
    .object({
      name,
      issuer: z.string().min(1).max(2048),
      clientId: z.string().min(1).max(256),
      scope: z.string().max(1024).optional(),
      redirect: z.enum(['loopback', 'scheme']).optional(),
    })
    .strict(),
  'providers:remove': z.object({ name, force: z.boolean().optional() }).strict(),
  'apps:list': none,
  'apps:revoke': z.object({ appId: z.string().min(1).max(256), account: name.max(128).optional() }).strict(),
  'activity:list': z
    .object({
      appId: z.string().max(256).optional(),
      account: z.string().max(128).optional(),
      event: z.enum(ACTIVITY_EVENTS).optional(),
      since: z.number().int().nonnegative().optional(),
      limit: z.number().int().positive().max(5000).optional(),
    })
    .strict()
    .optional(),
  'settings:get': none,
  'settings:set': z.object({ startAtLogin: z.boolean().optional() }).strict(),
  'demo:start': none,
  'consent:list': none,
  'consent:respond': z
    .object({ id: z.string().min(1).max(64), decision: z.enum(['once', 'always', 'deny']), account: name.max(128).optional() })
    .strict(),
} satisfies { [C in Channel]: z.ZodType<ParamsOf[C] | undefined> };

