import { describe, expect, it } from 'vitest';
import { encodeMessage, idDigits, LineDecoder, writeIdDigits, type DecodedLine } from './framing.js';

const texts = (lines: DecodedLine[]): string[] => lines.map((l) => (l.kind === 'message' ? l.text : `<${l.kind}>`));

describe('LineDecoder', () => {
  it('reassembles lines split across chunks, including a multi-byte character', () => {
    const decoder = new LineDecoder();
    const bytes = Buffer.from('{"a":"é"}\n{"b":2}\n', 'utf8');
    const split = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    expect(texts(decoder.push(bytes.subarray(0, split)))).toEqual([]);
    expect(texts(decoder.push(bytes.subarray(split)))).toEqual(['{"a":"é"}', '{"b":2}']);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('tolerates CRLF and ignores blank lines', () => {
    const decoder = new LineDecoder();
    expect(texts(decoder.push(Buffer.from('\n\r\n  \n{"x":1}\r\n')))).toEqual(['{"x":1}\r']);
  });

  it('reports invalid UTF-8 instead of replacing it, and keeps going', () => {
    const decoder = new LineDecoder();
    const out = decoder.push(Buffer.concat([Buffer.from([0xff, 0xfe, 0x7b]), Buffer.from('\n{}\n')]));
    expect(texts(out)).toEqual(['<invalid_utf8>', '{}']);
  });

  it('accepts a line of exactly the cap and rejects one byte more', () => {
    expect(texts(new LineDecoder(8).push(Buffer.from('12345678\n')))).toEqual(['12345678']);
    expect(texts(new LineDecoder(8).push(Buffer.from('123456789\n')))).toEqual(['<too_large>']);
  });

  it('stops buffering at the cap when no newline ever comes (5 MiB stream)', () => {
    const decoder = new LineDecoder(1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const seen: DecodedLine[] = [];
    let maxPending = 0;
    for (let i = 0; i < 80; i++) {
      seen.push(...decoder.push(chunk));
      maxPending = Math.max(maxPending, decoder.pendingBytes);
    }
    expect(texts(seen)).toEqual(['<too_large>']);
    expect(maxPending).toBeLessThanOrEqual(1024 * 1024);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.spent).toBe(true);
    expect(decoder.push(Buffer.from('{}\n'))).toEqual([]);
  });

  it('rejects a nonsensical cap', () => {
    expect(() => new LineDecoder(0)).toThrow(RangeError);
  });
});

describe('encodeMessage', () => {
  it('produces one line even when strings contain newlines', () => {
    const frame = encodeMessage({ text: 'a\nb\r\nc\u2028' });
    expect(frame.indexOf(0x0a)).toBe(frame.length - 1);
    expect(JSON.parse(frame.toString('utf8'))).toEqual({ text: 'a\nb\r\nc\u2028' });
  });

  it('throws on values JSON cannot represent', () => {
    expect(() => encodeMessage(undefined)).toThrow(TypeError);
    expect(() => encodeMessage({ n: 1n })).toThrow();
  });
});

describe('writeIdDigits', () => {
  it('writes what JSON.stringify writes for every size of id', () => {
    const ids = [0, 1, 9, 10, 99, 100, 12345, 999_999_999, 1_000_000_000, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
    for (let p = 1; p <= 15; p++) ids.push(10 ** p - 1, 10 ** p);
    for (const id of ids) {
      const frame = Buffer.alloc(20, 0x2e);
      const end = writeIdDigits(frame, 2, id);
      expect(idDigits(id)).toBe(JSON.stringify(id).length);
      expect(frame.toString('latin1', 2, end)).toBe(JSON.stringify(id));
      expect(frame.toString('latin1', 0, 2) + frame.toString('latin1', end)).toBe('.'.repeat(20 - (end - 2)));
    }
  });
});

