/**
 * The owner credential: what separates the person's own tools (the CLI, the
 * desktop app) from the local apps that ask for tokens on the same socket.
 *
 * The agent writes a fresh random key to a 0600 file in the data directory
 * each time it starts; a connection that presents it with `admin.hello` may
 * use the `admin.*` methods (sign in, get any token, list and revoke grants).
 * An app that only speaks the protocol — or is sandboxed away from the data
 * directory — cannot. It is not a defence against code running as the same
 * user with access to your files: such code can read this file, and your
 * keyring, too (see the threat model in README.md).
 *
 * This is the agent's side; clients read the key with wire/owner-key-file.ts
 * and connect with wire/owner-client.ts.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../platform/file-safety.js';

export async function writeOwnerKey(path: string): Promise<string> {
  const key = randomBytes(32).toString('base64url');
  // Atomic, so a tool never reads half a key; not durable: a new agent writes a new key anyway.
  await writeFileAtomic(path, `${key}\n`, { durable: false });
  return key;
}

export async function removeOwnerKey(path: string, key: string): Promise<void> {
  // Only our own: a newer agent may already have replaced it.
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current?.trim() === key) await rm(path, { force: true });
}

export function ownerKeyMatches(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
