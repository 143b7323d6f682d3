/**
 * Who is on a connection, as far as the agent has been shown: the person's own
 * tools (proved with the owner key, see owner-key.ts) or an app (proved with
 * its app key, see broker/app-identity.ts). A connection is one or the other,
 * never both, and never changes once set.
 */
import type { Connection } from './rpc-connection.js';

const ROLE = Symbol('connection-role');

export type ConnectionRole = 'owner' | 'app';

export function roleOf(connection: Connection): ConnectionRole | undefined {
  return connection.state[ROLE] as ConnectionRole | undefined;
}

/** Sets the role; false if the connection already has the other one. */
export function claimRole(connection: Connection, role: ConnectionRole): boolean {
  const current = roleOf(connection);
  if (current && current !== role) return false;
  connection.state[ROLE] = role;
  return true;
}
