/** `latchkey host add|list|remove`: the host mapping the git and Docker helpers use (see helpers/host-map.ts). */
import { LatchkeyError } from '../errors.js';
import { mappingProblem, normaliseHost, readHostMap, writeHostMap, type HostMapping } from '../helpers/host-map.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { AdminClient } from './agent-connection.js';
import { printList, type CliIO } from './output.js';

export async function addHost(paths: LatchkeyPaths, client: AdminClient, hostOrUrl: string, mapping: HostMapping): Promise<string> {
  const host = normaliseHost(hostOrUrl);
  if (!host) throw new LatchkeyError('usage', `"${hostOrUrl}" is not a host name, host:port or URL.`);
  const problem = mappingProblem(mapping as unknown as Record<string, unknown>);
  if (problem) throw new LatchkeyError('usage', `Cannot map ${host}: ${problem}.`);
  const { providers } = await client.call('admin.providers.list', {});
  if (!providers.some((p) => p.name === mapping.provider)) {
    throw new LatchkeyError('not_found', `There is no provider "${mapping.provider}" (have: ${providers.map((p) => p.name).join(', ') || 'none'}). Add it with \`latchkey provider add\`.`);
  }
  const map = readHostMap(paths.hosts);
  map[host] = mapping;
  await writeHostMap(paths.hosts, map);
  return host;
}

export async function removeHost(paths: LatchkeyPaths, hostOrUrl: string): Promise<string> {
  const host = normaliseHost(hostOrUrl);
  const map = readHostMap(paths.hosts);
  if (!host || !map[host]) throw new LatchkeyError('not_found', `No mapping for "${hostOrUrl}"; see \`latchkey host list\`.`);
  delete map[host];
  await writeHostMap(paths.hosts, map);
  return host;
}

export function listHosts(paths: LatchkeyPaths, io: CliIO, json: boolean): void {
  const map = readHostMap(paths.hosts);
  const rows = Object.entries(map).map(([host, m]) => ({ host, ...m }));
  printList(io, rows, {
    json,
    empty: 'No hosts mapped. Add one with `latchkey host add HOST --provider NAME`.',
    header: ['HOST', 'PROVIDER', 'ACCOUNT', 'SCOPE', 'RESOURCE', 'USERNAME'],
    row: (r) => [r.host, r.provider, r.account ?? '-', r.scope ?? '-', r.resource ?? '-', r.username ?? '-'],
  });
}
