/** Reading a helper's request from stdin, bounded: tools send a few short lines; anything larger is a mistake. */
import { LatchkeyError } from '../errors.js';

const MAX_INPUT_BYTES = 64 * 1024;

export async function readInput(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_INPUT_BYTES) throw new LatchkeyError('usage', `More than ${MAX_INPUT_BYTES / 1024} KiB on stdin; that is not a credential request.`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
