import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, formatLogLine, redact, scrubString, textDestination } from './logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger({ destination: stream, level: 'debug' }) };
}

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz';

describe('redacting logger', () => {
  it('replaces secret-named fields at any depth', () => {
    const { lines, logger } = capture();
    logger.info(
      { tokens: { access_token: 'AT-123', refresh_token: 'RT-456', nested: [{ client_secret: 'S3cret' }] }, codeVerifier: 'verif' },
      'stored',
    );
    const out = lines.join('');
    for (const secret of ['AT-123', 'RT-456', 'S3cret', 'verif']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('scrubs authorization response URLs, JWTs and bearer headers inside strings and errors', () => {
    const { lines, logger } = capture();
    logger.warn(`callback http://127.0.0.1:5000/callback?code=SECRETCODE&state=ST4TE&iss=x`);
    logger.error({ err: new Error(`bad token ${JWT} with Authorization: Bearer abcdefghijklmnop`) }, 'failed');
    const out = lines.join('');
    expect(out).not.toContain('SECRETCODE');
    expect(out).not.toContain('ST4TE');
    expect(out).not.toContain(JWT);
    expect(out).not.toContain('abcdefghijklmnop');
    expect(out).toContain('iss=x');
  });

  it('hides app private keys (PEM) and the owner key, by field name and inside text', () => {
    const { lines, logger } = capture();
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHt0cC1zZWNyZXQtYXBwLWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n';
    logger.info({ privateKeyPem: pem, owner_key: 'OWNERKEY123456' }, 'key loaded');
    logger.error({ err: new Error(`could not parse ${pem}`) }, 'failed');
    const out = lines.join('');
    expect(out).not.toContain('MC4CAQAwBQYDK2VwBCIE');
    expect(out).not.toContain('OWNERKEY123456');
  });

  it('leaves ordinary values alone', () => {
    expect(redact({ provider: 'demo', expiresAt: 5, scope: 'openid' })).toEqual({ provider: 'demo', expiresAt: 5, scope: 'openid' });
    expect(scrubString('nothing secret here')).toBe('nothing secret here');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(() => redact(a)).not.toThrow();
  });
});

describe('text log lines (agent --foreground on a terminal)', () => {
  it('reads as time, level, message and fields, and stays redacted', () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ destination: textDestination(out), level: 'debug' });
    logger.info({ provider: 'work', refresh_token: 'RT-456', note: 'two words' }, `refreshed with ${JWT}`);
    logger.error({ err: new Error('Bearer abcdefghijklmnop failed') }, 'failed');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d INFO  refreshed with \[redacted\] provider=work refresh_token=\[redacted\] note="two words"\n$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d ERROR failed err="Bearer \[redacted\] failed"\n$/);
    for (const secret of ['RT-456', JWT, 'abcdefghijklmnop']) expect(lines.join('')).not.toContain(secret);
  });

  it('passes a line it cannot parse through unchanged', () => {
    expect(formatLogLine('not json')).toBe('not json\n');
  });
});
