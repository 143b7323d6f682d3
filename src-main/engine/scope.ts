/** Scope strings are space-separated sets (RFC 6749 §3.3); order carries no meaning. */

export function parseScope(scope: string | undefined): string[] {
  if (!scope) return [];
  return [...new Set(scope.split(/\s+/).filter(Boolean))].sort();
}

export function normaliseScope(scope: string | undefined): string {
  return parseScope(scope).join(' ');
}

export function isSubsetScope(requested: string, granted: string): boolean {
  const have = new Set(parseScope(granted));
  return parseScope(requested).every((s) => have.has(s));
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export function isValidScope(scope: string): boolean {
  return parseScope(scope).every((s) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) && parseScope(scope).length > 0;
}
