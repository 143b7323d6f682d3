/**
 * The optional settings file `<data dir>/config.json`. Nothing secret lives
 * here (secrets are in the vault). Unknown keys and wrong types are errors that
 * name the key, so a typo never silently falls back to a default.
 */
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { readJsonFile } from './json-file.js';
import { DEFAULT_SCHEME_REDIRECT_URI } from '../engine/callback/scheme-receiver.js';

const seconds = (max: number) => z.number().int().positive().max(max);

export const ConfigSchema = z
  .object({
    /** How long a browser sign-in may take before it is abandoned. */
    callbackTimeoutSeconds: seconds(3600).default(300),
    /** Cached access tokens with less than this left (at most half their lifetime) are refreshed first. */
    minTtlSeconds: z.number().int().min(0).max(86_400).default(60),
    /** Timeout for each HTTP request to a provider. */
    requestTimeoutSeconds: seconds(600).default(30),
    /** How long discovery documents are reused. */
    discoveryTtlSeconds: seconds(7 * 86_400).default(3600),
    /** The private-use-scheme redirect URI registered with providers. */
    schemeRedirectUri: z.string().default(DEFAULT_SCHEME_REDIRECT_URI),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Port of the built-in demo provider on 127.0.0.1. */
    demoPort: z.number().int().min(1024).max(65535).default(9555),
    /**
     * Whether an app's tokens are also revoked at the provider when the app
     * gives them up or its grant is revoked. Off by default: RFC 7009 §2.1
     * lets a provider revoke every token of the same grant when one is revoked
     * (oidc-provider does), which would end your own sign-in and every other
     * app's access too. Off, Latchkey forgets the app's tokens at once and they
     * lapse at their expiry. Turn on for providers that revoke only the token.
     */
    revokeAppTokensAtProvider: z.boolean().default(false),
  })
  .strict();

export type LatchkeyConfig = z.infer<typeof ConfigSchema>;

export function defaultConfig(): LatchkeyConfig {
  return ConfigSchema.parse({});
}

export function parseConfig(raw: unknown, source: string): LatchkeyConfig {
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => `${i.path.join('.') || '(top level)'}: ${i.code === 'unrecognized_keys' ? `unknown setting ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message}`)
    .join('; ');
  throw new LatchkeyError('config_invalid', `${source} is not valid: ${problems}. Fix or remove it; see the README for settings.`);
}

/** Reads the config file; a missing file means defaults. */
export async function loadConfig(path: string): Promise<LatchkeyConfig> {
  const raw = await readJsonFile(path);
  return raw === undefined ? defaultConfig() : parseConfig(raw, path);
}
