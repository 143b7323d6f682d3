import { describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { countOutcomes, formatMatrix, runMatrix, type ProviderRow } from './matrix.js';
import { FEATURES } from './interop-provider.js';

describe('interop matrix report', () => {
  it('skips a provider whose package is missing, with the reason, without starting it', async () => {
    let started = false;
    const rows = await runMatrix(
      [
        {
          name: 'Absent',
          missing: () => '/usr/bin/absent is not installed (apt-get install absent)',
          start: () => {
            started = true;
            throw new Error('must not start');
          },
        },
      ],
      {} as Browser,
    );
    expect(started).toBe(false);
    expect(rows).toEqual([{ provider: 'Absent', skipped: '/usr/bin/absent is not installed (apt-get install absent)', outcomes: {} }]);
    const text = formatMatrix(rows);
    expect(text).toContain('Absent: skipped: /usr/bin/absent is not installed');
    expect(countOutcomes(rows)).toEqual({ passed: 0, failed: 0, unsupported: 0, skipped: FEATURES.length });
  });

  it('prints pass / FAIL / unsupported per provider and feature, with every reason that is not a pass', () => {
    const rows: ProviderRow[] = [
      {
        provider: 'One',
        outcomes: {
          'loopback sign-in + PKCE': { status: 'pass' },
          'device grant': { status: 'unsupported', reason: 'no device_authorization_endpoint in discovery' },
          refresh: { status: 'FAIL', reason: 'no new access token' },
        },
      },
    ];
    const text = formatMatrix(rows);
    expect(text).toMatch(/loopback sign-in \+ PKCE\s+\| pass/);
    expect(text).toMatch(/device grant\s+\| unsupported/);
    expect(text).toMatch(/refresh\s+\| FAIL/);
    expect(text).toContain('One / device grant: unsupported by provider: no device_authorization_endpoint in discovery');
    expect(text).toContain('One / refresh: FAIL: no new access token');
    expect(countOutcomes(rows)).toEqual({ passed: 1, failed: 1, unsupported: 1, skipped: 0 });
  });
});
