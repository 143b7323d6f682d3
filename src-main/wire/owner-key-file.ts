/**
 * The owner key as a client presents it in `admin.hello` (docs/protocol.md,
 * "The owner key"): the one line of the 0600 file the agent writes at start
 * (agent/owner-key.ts). Import-free beyond the errors module, so the lean
 * helpers can use it without loading the full client.
 */
import { readFileSync } from 'node:fs';
import { LatchkeyError } from '../errors.js';

/** Reads the key; `unauthorized` when the file cannot be read (no agent of ours, or not our user). */
export function readOwnerKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new LatchkeyError('unauthorized', `Cannot read the agent's owner key at ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}. Is the agent running as you?`, { cause: err });
  }
}
