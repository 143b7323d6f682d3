/**
 * `instanceof LatchkeyError` across copies of errors.ts: the lean bundles carry
 * their own copy and catch errors thrown by the compiled modules' copy (the
 * sign-in, the agent client); those must keep their code, not turn `internal`.
 */
import { describe, expect, it, vi } from 'vitest';
import { asLatchkeyError, exitCodeFor, LatchkeyError } from './errors.js';

describe('LatchkeyError', () => {
  it('recognises an error made by another copy of the module, keeping its code', async () => {
    vi.resetModules();
    const other = (await import('./errors.js')) as typeof import('./errors.js');
    expect(other.LatchkeyError).not.toBe(LatchkeyError);
    const foreign = new other.LatchkeyError('access_denied', 'Provider "demo" refused the sign-in.');
    expect(foreign).toBeInstanceOf(LatchkeyError);
    expect(asLatchkeyError(foreign)).toBe(foreign);
    expect(exitCodeFor(asLatchkeyError(foreign).code)).toBe(7);
  });

  it('does not take a plain error or a look-alike object for one', () => {
    expect(new Error('x')).not.toBeInstanceOf(LatchkeyError);
    expect({ name: 'LatchkeyError', code: 'access_denied', message: 'x' }).not.toBeInstanceOf(LatchkeyError);
    expect(null).not.toBeInstanceOf(LatchkeyError);
    expect(asLatchkeyError(Object.assign(new Error('x'), { code: 'access_denied' })).code).toBe('internal');
  });

  it('keeps the ordinary check for a subclass', () => {
    class Narrower extends LatchkeyError {}
    expect(new Narrower('usage', 'x')).toBeInstanceOf(LatchkeyError);
    expect(new LatchkeyError('usage', 'x')).not.toBeInstanceOf(Narrower);
  });
});
