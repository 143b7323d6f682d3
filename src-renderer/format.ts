/** Words and dates for people, chosen at the UI edge. */
import type { ErrorCode } from '../src-main/errors.js';

const HINTS: Partial<Record<ErrorCode, string>> = {
  login_required: 'Sign in again to continue.',
  provider_unreachable: 'The provider could not be reached. Check the address and your connection.',
  key_source_unavailable: 'The vault key is not available.',
  agent_running: 'The Latchkey agent is already running for this user.',
};

export function errorText(err: { code: ErrorCode; message: string }): string {
  const hint = HINTS[err.code];
  return hint && !err.message.includes(hint) ? `${err.message} ${hint}` : err.message;
}

/**
 * The first sentence of a message, for places that have room for one (the
 * discovery check under its field): the rest is detail the log keeps.
 */
export function firstSentence(text: string): string {
  const match = /^.*?[.!?](?=\s+[A-Z"(]|$)/s.exec(text.trim());
  return (match ? match[0] : text).trim();
}

export function when(ms: number | undefined): string {
  if (!ms) return 'never';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function accountLabel(a: { email?: string; name?: string; username?: string; id: string }): string {
  return a.email ?? a.name ?? a.username ?? a.id;
}
