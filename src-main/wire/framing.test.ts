import { describe, expect, it } from 'vitest';
import { encodeMessage, LineDecoder, type DecodedLine } from './framing.js';

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
