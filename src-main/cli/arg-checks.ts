/**
 * Checks of command-line values, shared by the full CLI (commander) and the
 * lean helper entry points (which must not load commander): one rule each.
 */

export function isSeconds(value: string): boolean {
  return /^\d{1,9}$/.test(value);
}

/** Space-separated scope tokens (RFC 6749 §3.3: NQCHAR without space, quote or backslash). */
export function isScope(value: string): boolean {
  const trimmed = value.trim();
  return trimmed !== '' && /^[\x21\x23-\x5B\x5D-\x7E]+( +[\x21\x23-\x5B\x5D-\x7E]+)*$/.test(trimmed);
}

export function isAbsoluteUrl(value: string): boolean {
  return URL.canParse(value);
}
