/**
 * Test-only: a provider record as `latchkey providers add` stores it, for
 * tests that need one without a provider behind it (nothing is fetched from
 * its issuer). `extra` overrides any field.
 */
import type { ProviderRecord } from '../store/vault-document.js';

export function providerRecord(extra: Partial<ProviderRecord> = {}): ProviderRecord {
  return {
    name: 'p',
    issuer: 'https://op.example',
    clientId: 'c',
    scope: 'openid offline_access',
    redirect: 'loopback',
    kind: 'user',
    createdAt: 0,
    ...extra,
  };
}
