/**
 * The host mapping: which provider (and account, scope, resource, user name)
 * serves a host, for the git and Docker helpers, which tools start without
 * telling them a provider. Kept in `hosts.json` in the data directory (0600;
 * it holds no secrets, only names), written by `latchkey host add|remove`.
 *
 * Enforces:
 * - hosts are `host[:port]`, lower-case; URLs are reduced to that (scheme,
 *   user info and path dropped), so `https://Registry.example.com/v2/` and
 *   `registry.example.com` are the same entry;
 * - the file is checked by hand at every read (the helpers' start-up cannot
 *   afford a schema library), and a broken file is a `config_invalid` error
 *   naming it, never a silent "no mapping";
 * - writes are atomic and durable (platform/file-safety.ts), so a crash leaves
 *   the old file or the new one.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LatchkeyError } from '../errors.js';
import { writeFileAtomic } from '../platform/file-safety.js';
import { isAbsoluteUrl, isScope } from '../cli/arg-checks.js';
import type { AdminParams } from '../wire/owner-contract.js';

export interface HostMapping {
  provider: string;
  account?: string;
  scope?: string;
  resource?: string;
  /** Sent as the user name; Docker then uses Basic auth with the token as password instead of its identity-token flow. */
  username?: string;
}

export type HostMap = Record<string, HostMapping>;

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:\d{1,5})?$/;
const TEXT = /^[^\x00-\x1f\x7f]{1,256}$/;

/** `host[:port]` of a host name or URL, lower-case; `undefined` when it is neither. */
export function normaliseHost(input: string): string | undefined {
  let text = input.trim().toLowerCase();
  if (text.includes('://')) {
    const url = URL.parse(text);
    if (!url) return undefined;
    text = url.host;
  } else {
    // Docker passes bare `registry:5000/v2/` style server addresses too.
    text = text.split('/')[0]!;
  }
  return HOST.test(text) ? text : undefined;
}

/** Checks one mapping; the reason, or undefined when it is good. */
export function mappingProblem(m: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(m)) if (!['provider', 'account', 'scope', 'resource', 'username'].includes(key)) return `unknown field "${key}"`;
  if (typeof m.provider !== 'string' || !TEXT.test(m.provider)) return 'no provider';
  for (const key of ['account', 'username'] as const) if (m[key] !== undefined && (typeof m[key] !== 'string' || !TEXT.test(m[key] as string))) return `bad ${key}`;
  if (m.scope !== undefined && (typeof m.scope !== 'string' || !isScope(m.scope))) return 'bad scope';
  if (m.resource !== undefined && (typeof m.resource !== 'string' || !isAbsoluteUrl(m.resource))) return 'bad resource';
  return undefined;
}

export function parseHostMap(raw: unknown, path: string): HostMap {
  const broken = (why: string) => new LatchkeyError('config_invalid', `${path} is not a valid host mapping (${why}); fix it or remove it and add the hosts again with \`latchkey host add\`.`);
  if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== 1) throw broken('expected {"version": 1, "hosts": {…}}');
  const hosts = (raw as { hosts?: unknown }).hosts;
  if (typeof hosts !== 'object' || hosts === null || Array.isArray(hosts)) throw broken('"hosts" is not an object');
  const map: HostMap = Object.create(null) as HostMap;
  for (const [host, m] of Object.entries(hosts)) {
    if (normaliseHost(host) !== host) throw broken(`"${host}" is not a lower-case host[:port]`);
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw broken(`"${host}" is not an object`);
    const problem = mappingProblem(m as Record<string, unknown>);
    if (problem) throw broken(`"${host}": ${problem}`);
    map[host] = m as HostMapping;
  }
  return map;
}

/** The mapping file's hosts; an absent file is an empty mapping. */
export function readHostMap(path: string): HostMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Object.create(null) as HostMap;
    throw new LatchkeyError('config_invalid', `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LatchkeyError('config_invalid', `${path} is not valid JSON; fix it or remove it and add the hosts again with \`latchkey host add\`.`, { cause: err });
  }
  return parseHostMap(raw, path);
}

export async function writeHostMap(path: string, map: HostMap): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const sorted = Object.fromEntries(Object.entries(map).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileAtomic(path, `${JSON.stringify({ version: 1, hosts: sorted }, null, 2)}\n`);
}

/** The mapping for a host (or URL), if any. */
export function lookupHost(path: string, hostOrUrl: string): { host: string; mapping: HostMapping } | undefined {
  const host = normaliseHost(hostOrUrl);
  if (!host) return undefined;
  const mapping = readHostMap(path)[host];
  return mapping ? { host, mapping } : undefined;
}

/** The `admin.token` request for a mapped host, labelled with the tool and what it is for (the activity log shows both). */
export function mappingTokenParams(m: HostMapping, client: string, target: string): AdminParams<'admin.token'> {
  return {
    provider: m.provider,
    ...(m.account ? { account: m.account } : {}),
    ...(m.scope ? { scope: m.scope } : {}),
    ...(m.resource ? { resource: m.resource } : {}),
    client,
    target,
  };
}
