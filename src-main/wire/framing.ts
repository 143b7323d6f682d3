/**
 * Newline-delimited JSON framing for the agent socket.
 *
 * Enforces:
 * - one message per line, UTF-8, terminated by `\n` (a `\r` before it is JSON
 *   whitespace and tolerated, so CRLF clients work);
 * - a hard cap on a line's size, checked while bytes arrive, so a peer that
 *   never sends `\n` cannot make us buffer more than the cap;
 * - invalid UTF-8 is reported, never silently replaced (a replaced byte could
 *   turn garbage into a valid-looking message);
 * - blank lines are ignored, so `\n\n` keep-alives and trailing newlines are harmless.
 *
 * JSON text produced by `JSON.stringify` never contains a raw newline (it is
 * escaped as `\n` inside strings), which is what makes this framing safe.
 */

/** Default cap on one message, in bytes, excluding the terminating `\n`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;

/** What {@link LineDecoder.push} yields for each complete (or rejected) line. */
export type DecodedLine =
  | { kind: 'message'; text: string }
  | { kind: 'invalid_utf8' }
  /** The line grew past the cap; the decoder has discarded it and stopped. */
  | { kind: 'too_large' };

/**
 * Incremental, bounded line splitter. Feed it socket chunks; it returns the
 * lines completed by each chunk. After `too_large` it is spent: the rest of the
 * stream cannot be re-synchronised, so the caller closes the connection.
 */
export class LineDecoder {
  readonly maxMessageBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #spent = false;
  // fatal: invalid UTF-8 must be an error, not U+FFFD.
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new RangeError(`maxMessageBytes must be a positive integer, got ${maxMessageBytes}`);
    }
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Bytes of the current incomplete line; never more than `maxMessageBytes`. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** True once a line was too large; every later push returns nothing. */
  get spent(): boolean {
    return this.#spent;
  }

  push(chunk: Uint8Array): DecodedLine[] {
    const out: DecodedLine[] = [];
    let start = 0;
    while (!this.#spent && start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const piece = Buffer.from(chunk.buffer, chunk.byteOffset + start, end - start);
      if (this.#pendingBytes + piece.length > this.maxMessageBytes) {
        this.#spent = true;
        this.#pending = [];
        this.#pendingBytes = 0;
        out.push({ kind: 'too_large' });
        break;
      }
      if (newline === -1) {
        // Copy: a view would pin the whole socket chunk in memory until the line ends.
        this.#pending.push(Buffer.from(piece));
        this.#pendingBytes += piece.length;
        break;
      }
      const line = this.#pending.length === 0 ? piece : Buffer.concat([...this.#pending, piece]);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
      const decoded = this.#decode(line);
      if (decoded) out.push(decoded);
    }
    return out;
  }

  #decode(line: Buffer): DecodedLine | undefined {
    let text: string;
    try {
      text = this.#utf8.decode(line);
    } catch {
      return { kind: 'invalid_utf8' };
    }
    return text.trim() === '' ? undefined : { kind: 'message', text };
  }
}

/**
 * Serialises one message as a frame (JSON text plus `\n`). Throws what
 * `JSON.stringify` throws (cycles, BigInt); callers that send untrusted
 * handler results catch it.
 */
export function encodeMessage(message: unknown): Buffer {
  const text = JSON.stringify(message);
  if (text === undefined) throw new TypeError('Message is not JSON-serialisable');
  return Buffer.from(`${text}\n`, 'utf8');
}
