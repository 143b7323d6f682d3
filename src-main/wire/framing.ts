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
import { isAscii, isUtf8 } from 'node:buffer';

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
    const tooLarge = this.pushBytes(chunk, (line) => {
      const decoded = decodeLine(line);
      if (decoded) out.push(decoded);
    });
    if (tooLarge) out.push({ kind: 'too_large' });
    return out;
  }

  /**
   * The same splitting without decoding: `onLine` gets each complete line's
   * bytes (without `\n`; blank and invalid ones too, see {@link decodeLine}),
   * so a caller that recognises a line by its bytes never builds a string.
   * Returns true when a line grew past the cap in this chunk (the decoder is
   * then spent, and later pushes see nothing).
   */
  pushBytes(chunk: Uint8Array, onLine: (line: Buffer) => void): boolean {
    let start = 0;
    while (!this.#spent && start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      const piece = Buffer.from(chunk.buffer, chunk.byteOffset + start, end - start);
      if (this.#pendingBytes + piece.length > this.maxMessageBytes) {
        this.#spent = true;
        this.#pending = [];
        this.#pendingBytes = 0;
        return true;
      }
      if (newline === -1) {
        // Copy: a view would pin the whole socket chunk in memory until the line ends.
        this.#pending.push(Buffer.from(piece));
        this.#pendingBytes += piece.length;
        break;
      }
      const line = this.#pending.length === 0 ? piece : Buffer.concat([...this.#pending, piece]);
      if (this.#pending.length) {
        this.#pending = [];
        this.#pendingBytes = 0;
      }
      start = newline + 1;
      onLine(line);
    }
    return false;
  }
}

/**
 * One line's bytes as text: `undefined` for a blank line, `invalid_utf8`
 * rather than a replacement character. ASCII (nearly every message: JSON
 * escapes need none) is checked and copied without a UTF-8 decoder.
 */
export function decodeLine(line: Buffer): Exclude<DecodedLine, { kind: 'too_large' }> | undefined {
  let text: string;
  if (isAscii(line)) text = line.toString('latin1');
  else if (isUtf8(line)) text = line.toString('utf8');
  else return { kind: 'invalid_utf8' };
  return text.trim() === '' ? undefined : { kind: 'message', text };
}

/** How every request the SDK sends, and every result the agent sends, begins: `{"jsonrpc":"2.0","id":`. */
export const ENVELOPE_HEAD = Buffer.from('{"jsonrpc":"2.0","id":', 'latin1');

/** Below this many bytes a plain loop beats Buffer#compare, whose argument checks cost ≈ 0.15 µs a call. */
const SHORT_COMPARE = 128;

/** Whether `a[aStart…aStart+length)` equals `b[bStart…bStart+length)`; both ranges must lie within their buffers. */
export function bytesEqual(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  // Ranges given to compare, not two subarray views (half the time for a cached token's 800 bytes).
  if (length >= SHORT_COMPARE) return a.compare(b, bStart, bStart + length, aStart, aStart + length) === 0;
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}
/** Longest numeric id a repeated request may carry by the byte path: 15 digits are always a safe integer. */
const MAX_ID_DIGITS = 15;

/**
 * The numeric id of a line that begins `{"jsonrpc":"2.0","id":<digits>,` and
 * where its id ends (at the comma); `undefined` for any other line. Digits as
 * JSON writes an integer: no sign, no leading zero, no fraction or exponent.
 */
export function readEnvelopeId(line: Buffer): { id: number; end: number } | undefined {
  const head = ENVELOPE_HEAD.length;
  if (line.length <= head + 1 || !bytesEqual(line, 0, ENVELOPE_HEAD, 0, head)) return undefined;
  let id = 0;
  let i = head;
  for (; i < line.length && i - head <= MAX_ID_DIGITS; i++) {
    const c = line[i]!;
    if (c < 0x30 || c > 0x39) break;
    if (c === 0x30 && i === head && line[i + 1] !== 0x2c) return undefined;
    id = id * 10 + (c - 0x30);
  }
  if (i === head || i - head > MAX_ID_DIGITS || line[i] !== 0x2c) return undefined;
  return { id, end: i };
}

/** Digits `JSON.stringify(id)` writes for a non-negative safe integer `id`. */
export function idDigits(id: number): number {
  let digits = 1;
  for (let rest = id; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/**
 * Writes the non-negative safe integer `id` as JSON digits into `frame` at
 * `at` and returns where they end: what `frame.write(String(id), at)` does,
 * without the string (on every request and cached reply).
 */
export function writeIdDigits(frame: Uint8Array, at: number, id: number): number {
  const end = at + idDigits(id);
  let rest = id;
  for (let i = end - 1; i >= at; i--) {
    frame[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return end;
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
