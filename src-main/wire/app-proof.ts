/**
 * The app proof: the bytes an app signs with its app key to answer the
 * agent's `hello` challenge in `hello.prove` (docs/protocol.md, "`hello` and
 * `hello.prove`"). Part of the wire contract: the SDK builds these bytes, the
 * agent builds them again to verify, and a client in another language must
 * build exactly the same ones. Key handling (files, signing, curve checks)
 * stays in broker/app-key.ts.
 *
 * Enforces: a signed challenge is a domain-separated byte string whose parts
 * cannot contain the separator, so one byte string means exactly one statement.
 */
import { LatchkeyError } from '../errors.js';

/** The parts of one proof; none may contain a newline (each has a strict alphabet). */
export interface ChallengeParts {
  /** base64url of the agent's random challenge. */
  challenge: string;
  /** The app id the proof is for (see {@link APP_ID_PATTERN}). */
  appId: string;
  /** The random id of the agent process that issued the challenge. */
  agentInstance: string;
}

/** Domain separation tag: changes whenever the meaning of a proof changes. */
export const APP_PROOF_TAG = 'latchkey-app-proof-v1';

/** Reverse-DNS-style app ids: `com.example.tool`, `rhino-plugin.acme`. */
export const APP_ID_PATTERN = /^[a-z0-9][a-z0-9.-]{1,127}$/;

/** Agent instance ids and challenges: base64url, 16 to 128 characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

const PART_PATTERNS: Record<keyof ChallengeParts, RegExp> = {
  challenge: TOKEN_PATTERN,
  appId: APP_ID_PATTERN,
  agentInstance: TOKEN_PATTERN,
};

/**
 * The exact bytes an app signs to answer a challenge:
 * `latchkey-app-proof-v1\n<agentInstance>\n<appId>\n<challenge>` in UTF-8.
 *
 * Why each part is there:
 * - the tag is domain separation: a signature made by this key for anything
 *   else (another protocol, a future version of this one) can never be
 *   mistaken for a proof, and a proof can never be replayed as anything else;
 * - the agent instance ties the proof to the agent process that asked, so a
 *   proof captured from one agent (a test agent, another user's, a previous
 *   run) is useless at another;
 * - the app id ties it to the identity being claimed, so a vendor that reuses
 *   one key for several apps cannot have a proof for one used as the other;
 * - the challenge is fresh and single use, so each proof answers exactly one
 *   connection's question.
 * The public key itself need not be in the payload: Ed25519 hashes it into
 * every signature (RFC 8032 §5.1.6, `dom2(F, C) || R || A || PH(M)`).
 *
 * A live relay (a fake agent passing the real agent's challenge to the real
 * app) is stopped by the transport, not by these bytes: the app only talks to
 * the socket in its user's private runtime directory.
 */
export function challengePayload(parts: ChallengeParts): Buffer {
  for (const name of ['agentInstance', 'appId', 'challenge'] as const) {
    if (typeof parts[name] !== 'string' || !PART_PATTERNS[name].test(parts[name])) {
      throw new LatchkeyError('usage', `Invalid ${name} in app proof`);
    }
  }
  return Buffer.from([APP_PROOF_TAG, parts.agentInstance, parts.appId, parts.challenge].join('\n'), 'utf8');
}
