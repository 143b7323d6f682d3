/**
 * The agent's side of an app's proof of possession on one connection: the app
 * says who it claims to be and which public key it holds, the agent answers
 * with a fresh challenge, the app signs it (see app-key.ts). Transport-free:
 * the socket handlers own one {@link AppHandshake} per connection.
 *
 * Enforces:
 * - claims are validated before anything is issued (app id, display name,
 *   version, public key);
 * - a challenge is 32 random bytes, answers exactly one proof attempt, and
 *   expires after `challengeTtlMs`;
 * - a connection is verified at most once; after `maxAttempts` challenges or
 *   failed proofs it is locked and {@link AppHandshake.shouldClose} says so;
 * - nothing is trusted except what the key proves: the result says which key
 *   answered for which app id; `name` and `version` stay claims, to be shown
 *   as such ("calls itself …"), and binding a grant is the caller's job.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import { keyFingerprint, parsePublicKey, verifyChallenge } from './app-key.js';
import { APP_ID_PATTERN, challengePayload, TOKEN_PATTERN } from '../wire/app-proof.js';
import type { PeerProcess } from '../platform/peer-lookup.js';

/**
 * Printable text: no control, format (bidi overrides, zero-width), surrogate,
 * private-use or unassigned characters, no line breaks, no edge whitespace,
 * so a claimed name cannot reorder or hide text in a consent prompt.
 */
function printable(max: number) {
  return z
    .string()
    .max(2 * max) // a code point is at most two UTF-16 units; bounds the work below
    .refine((s) => s.normalize('NFC') === s, 'must be NFC-normalised')
    .refine((s) => /^[^\p{C}\p{Zl}\p{Zp}]*$/u.test(s), 'must be printable')
    .refine((s) => s.trim() === s, 'must not start or end with spaces')
    .refine((s) => {
      const length = [...s].length;
      return length >= 1 && length <= max;
    }, `must be 1 to ${max} characters`);
}

/** What an app claims in its hello, as the handlers hand it over (domain names, camelCase). */
export const appClaimsSchema = z.object({
  appId: z.string().regex(APP_ID_PATTERN, 'must be a lowercase reverse-DNS-style id'),
  name: printable(64),
  version: printable(32),
  publicKey: z.string(),
});

export type AppClaims = z.infer<typeof appClaimsSchema>;

/** An app whose key answered this connection's challenge. */
export interface VerifiedApp {
  appId: string;
  /** Claimed by the app, not verified: show it as a claim. */
  name: string;
  /** Claimed by the app, not verified. */
  version: string;
  /** The key that proved possession; grants bind to this. */
  publicKey: string;
  /** `SHA256:…` of the key for consent prompts (see keyFingerprint). */
  fingerprint: string;
  /** The process on the other end, when the platform could tell (see peer-process.ts). */
  process?: PeerProcess;
}

export interface HelloChallenge {
  /** base64url of 32 random bytes. */
  challenge: string;
  /** The agent instance to put in the signed payload. */
  agentInstance: string;
  /** When the challenge stops being accepted, ms since the epoch (`hello` sends it as `expires_at`, seconds). */
  expiresAtMs: number;
}

export interface AppHandshakeOptions {
  /** This agent process's random id (see {@link createAgentInstanceId}). */
  agentInstance: string;
  /** The peer process, when identified before the handshake started. */
  process?: PeerProcess;
  /** Default 30 s: long enough for a slow machine, short enough to be useless to hoard. */
  challengeTtlMs?: number;
  /** Challenges (and failed proofs) allowed per connection; default 3. */
  maxAttempts?: number;
  now?: () => number;
  randomBytes?: (size: number) => Buffer;
}

/** Where a connection's handshake stands; `locked` means it should be closed. */
export type HandshakeState = 'idle' | 'challenged' | 'verified' | 'locked';

interface Pending {
  claims: AppClaims;
  challenge: string;
  expiresAtMs: number;
}

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const CHALLENGE_BYTES = 32;

/** A fresh random id for this agent process, to bind proofs to it. */
export function createAgentInstanceId(randomBytes: (size: number) => Buffer = nodeRandomBytes): string {
  return randomBytes(18).toString('base64url');
}

/**
 * One connection's handshake. Call {@link beginHello} with the app's claims,
 * send the challenge, then {@link completeHello} with the app's signature.
 * After any thrown `unauthorized`, check {@link shouldClose}.
 */
export class AppHandshake {
  readonly #agentInstance: string;
  readonly #process: PeerProcess | undefined;
  readonly #ttlMs: number;
  readonly #maxAttempts: number;
  readonly #now: () => number;
  readonly #randomBytes: (size: number) => Buffer;
  #pending: Pending | undefined;
  #verified: VerifiedApp | undefined;
  #locked = false;
  #attempts = 0;
  #failures = 0;

  constructor(options: AppHandshakeOptions) {
    this.#agentInstance = options.agentInstance;
    this.#process = options.process;
    this.#ttlMs = options.challengeTtlMs ?? DEFAULT_TTL_MS;
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#now = options.now ?? Date.now;
    this.#randomBytes = options.randomBytes ?? nodeRandomBytes;
    if (!TOKEN_PATTERN.test(this.#agentInstance)) throw new LatchkeyError('usage', 'The agent instance id must be base64url, 16 to 128 characters');
  }

  get state(): HandshakeState {
    if (this.#verified) return 'verified';
    if (this.#locked) return 'locked';
    return this.#pending ? 'challenged' : 'idle';
  }

  /** True once this connection has used up its attempts; the transport should close it. */
  get shouldClose(): boolean {
    return this.#locked;
  }

  /** The proven app, once {@link completeHello} has succeeded. */
  get verified(): VerifiedApp | undefined {
    return this.#verified;
  }

  /**
   * Validates the claims and issues a challenge. A new hello replaces an
   * unanswered challenge. Throws `usage` for malformed claims and
   * `unauthorized` when the connection is out of attempts.
   */
  beginHello(claims: unknown): HelloChallenge {
    this.#assertOpen();
    if (this.#attempts >= this.#maxAttempts) this.#lock();
    this.#attempts++;
    this.#pending = undefined;
    const parsed = appClaimsSchema.safeParse(claims);
    if (!parsed.success) {
      this.#noteFailure();
      const issue = parsed.error.issues[0];
      throw new LatchkeyError('usage', `Invalid app hello at ${issue?.path.join('.') || 'params'}: ${issue?.message ?? 'rejected'}`);
    }
    try {
      parsePublicKey(parsed.data.publicKey);
    } catch (err) {
      this.#noteFailure();
      throw err;
    }
    const challenge = this.#randomBytes(CHALLENGE_BYTES).toString('base64url');
    const expiresAtMs = this.#now() + this.#ttlMs;
    this.#pending = { claims: parsed.data, challenge, expiresAtMs };
    return { challenge, agentInstance: this.#agentInstance, expiresAtMs };
  }

  /**
   * Checks the app's signature over the pending challenge. The challenge is
   * consumed whatever the outcome. Throws `unauthorized` for any failed proof.
   */
  completeHello(signature: unknown): VerifiedApp {
    this.#assertOpen();
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending) this.#fail('No challenge is pending on this connection; send a hello first');
    if (this.#now() >= pending.expiresAtMs) this.#fail('The challenge has expired; send a new hello');
    const { appId, name, version, publicKey } = pending.claims;
    const payload = challengePayload({ challenge: pending.challenge, appId, agentInstance: this.#agentInstance });
    if (typeof signature !== 'string' || !verifyChallenge(publicKey, payload, signature)) {
      this.#fail('The app key proof is not valid');
    }
    this.#verified = { appId, name, version, publicKey, fingerprint: keyFingerprint(publicKey), ...(this.#process ? { process: this.#process } : {}) };
    return this.#verified;
  }

  #assertOpen(): void {
    if (this.#verified) throw new LatchkeyError('usage', 'This connection has already proven its app identity');
    if (this.#locked) throw this.#lockedError();
  }

  #fail(message: string): never {
    this.#noteFailure();
    throw new LatchkeyError('unauthorized', this.#locked ? `${message}; too many attempts, reconnect to try again` : message);
  }

  #noteFailure(): void {
    this.#failures++;
    if (this.#failures >= this.#maxAttempts || this.#attempts >= this.#maxAttempts) this.#locked = true;
  }

  #lock(): never {
    this.#locked = true;
    throw this.#lockedError();
  }

  #lockedError(): LatchkeyError {
    return new LatchkeyError('unauthorized', 'Too many app identity attempts on this connection; reconnect to try again');
  }
}
