/** Scope strings are space-separated sets (RFC 6749 §3.3); order carries no meaning. */

interface ParsedScope {
  tokens: readonly string[];
  normalised: string;
  set: ReadonlySet<string>;
}

/**
 * Parsed scope strings, by their text. A cached token request parses the same
 * few strings (the request's, the grant's, the account's) several times; this
 * makes that a lookup. Bounded, because requests bring arbitrary strings.
 */
const parsed = new Map<string, ParsedScope>();
const MAX_PARSED = 128;

function parse(scope: string): ParsedScope {
  let entry = parsed.get(scope);
  if (entry === undefined) {
    const tokens = [...new Set(scope.split(/\s+/).filter(Boolean))].sort();
    entry = { tokens, normalised: tokens.join(' '), set: new Set(tokens) };
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(scope, entry);
  }
  return entry;
}

/** The scope's tokens, deduplicated and sorted. Shared: never modify it. */
export function parseScope(scope: string | undefined): readonly string[] {
  return scope ? parse(scope).tokens : [];
}

export function normaliseScope(scope: string | undefined): string {
  return scope ? parse(scope).normalised : '';
}

export function isSubsetScope(requested: string, granted: string): boolean {
  const have = parse(granted).set;
  return parseScope(requested).every((s) => have.has(s));
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export function isValidScope(scope: string): boolean {
  return parseScope(scope).every((s) => /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) && parseScope(scope).length > 0;
}
