/**
 * Reads the small JSON files a person edits in the data directory
 * (config.json, policy.json): a missing file is no file; one that cannot be
 * read, or is not JSON, is a `config_invalid` error naming the file. Checking
 * the parsed value against its schema stays with each file's module.
 */
import { readFile } from 'node:fs/promises';
import { LatchkeyError } from '../errors.js';

/**
 * The file's parsed JSON, or undefined when there is no file (JSON never
 * parses to undefined). `name` is how errors call the file, e.g. "the policy
 * file /home/me/.local/share/latchkey/policy.json"; by default its path.
 */
export async function readJsonFile(path: string, name: string = path): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LatchkeyError('config_invalid', `Cannot read ${name}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LatchkeyError('config_invalid', `${name.charAt(0).toUpperCase()}${name.slice(1)} is not valid JSON (${(err as Error).message}).`, { cause: err });
  }
}
