/**
 * git's credential helper protocol (gitcredentials(7), git-credential(1)):
 * `git-credential-latchkey [--provider P …] get|store|erase`, attributes as
 * `key=value` lines on stdin, the answer as `key=value` lines on stdout.
 *
 * Enforces:
 * - `get` answers only hosts it was told about (`--provider`, or the host
 *   mapping); any other host gets an empty answer and exit 0, so git asks its
 *   next helper;
 * - a token never goes out over plain `http` except to a loopback host
 *   (a local test server or an SSH tunnel): elsewhere it would cross the
 *   network in clear text;
 * - with `capability[]=authtype` (git ≥ 2.46) the answer is a Bearer
 *   `credential`, else `username` + `password`; `password_expiry_utc` is sent
 *   either way (git < 2.41 ignores it), a minute before the token expires;
 * - `erase` (git saw the credential rejected) drops that cached token at the
 *   agent, so the next `get` refreshes; `store` is accepted and ignored;
 * - unknown attributes are ignored, as git requires of helpers.
 */
import type { WireToken } from '../wire/owner-contract.js';

export type GitOperation = 'get' | 'store' | 'erase';
export const GIT_OPERATIONS: readonly GitOperation[] = ['get', 'store', 'erase'];

export type GitAttributes = Map<string, string[]>;

/** `key=value` lines up to a blank line or the end; a key may repeat (`capability[]`). */
export function parseGitAttributes(text: string): GitAttributes {
  const attributes: GitAttributes = new Map();
  for (const line of text.split('\n')) {
    const clean = line.replace(/\r$/, '');
    if (clean === '') break;
    const eq = clean.indexOf('=');
    if (eq <= 0) continue;
    const key = clean.slice(0, eq);
    const values = attributes.get(key) ?? [];
    values.push(clean.slice(eq + 1));
    attributes.set(key, values);
  }
  return attributes;
}

const one = (a: GitAttributes, key: string): string | undefined => a.get(key)?.at(-1);

/** `host[:port]` git asks for, or undefined when it sent none. */
export function requestedHost(a: GitAttributes): string | undefined {
  return one(a, 'host')?.toLowerCase();
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/;

/** Why no token may be sent for this request, or undefined when one may. */
export function refusalFor(a: GitAttributes): string | undefined {
  const protocol = one(a, 'protocol');
  const host = requestedHost(a) ?? '';
  if (protocol === 'https') return undefined;
  if (protocol === 'http' && LOOPBACK.test(host)) return undefined;
  return `not sending a token for ${protocol ?? 'an unknown protocol'}://${host}: only https (or http to this machine) carries tokens`;
}

/** Seconds before the token's expiry at which git should stop using it. */
const EXPIRY_MARGIN_S = 60;

export function formatGetAnswer(a: GitAttributes, token: WireToken, username: string | undefined): string {
  const lines: string[] = [];
  if (a.get('capability[]')?.includes('authtype')) {
    lines.push('capability[]=authtype', 'authtype=Bearer', `credential=${token.access_token}`);
  } else {
    lines.push(`username=${username ?? one(a, 'username') ?? 'latchkey'}`, `password=${token.access_token}`);
  }
  if (token.expires_at !== undefined) lines.push(`password_expiry_utc=${token.expires_at - EXPIRY_MARGIN_S}`);
  return `${lines.join('\n')}\n`;
}

/** The token git reports as rejected, if the `erase` request carries one. */
export function rejectedToken(a: GitAttributes): string | undefined {
  return one(a, 'credential') ?? one(a, 'password');
}
