/**
 * The audit recorder with a controlled clock and a real audit log file: a
 * repeated hand-out is recorded once a minute (a new token at once), apps and
 * the owner's tools apart; entries wait in memory until a flush writes them,
 * and never hold a token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { captureLog } from '../testing/capture-log.js';
import { createTestHome } from '../testing/test-home.js';
import { emptyVaultDocument } from '../store/vault-document.js';
import { MemoryStore } from '../testing/memory-store.js';
import { AuditRecorder, OWNER_AUDIT_NAME, type AuditedApp } from './audit-recorder.js';

const app: AuditedApp = { appId: 'com.example.tool', name: 'Example Tool', fingerprint: 'SHA256:abc' };
const OWNER = 'com.example.tool SHA256:abc';

function recorder(maxEntries = 100) {
  let clock = 1_000_000;
  let scheduled = 0;
  const store = new MemoryStore(emptyVaultDocument());
  const audit = new AuditRecorder({ store, logger: captureLog().logger, now: () => clock, maxEntries, onRecord: () => void scheduled++ });
  return { audit, store, advance: (ms: number) => void (clock += ms), scheduled: () => scheduled };
}

describe('AuditRecorder', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('records the same token to the same holder once a minute; a new token, scope or holder at once', () => {
    const { audit, advance, scheduled } = recorder();
    const token = { account: 'acct-1', scope: 'openid', accessToken: 'at-1' };
    audit.tokenIssued(app, OWNER, 'acct-1', token, undefined, 'grant');
    advance(30_000);
    audit.tokenIssued(app, OWNER, 'acct-1', token, undefined, 'grant');
    expect(audit.nextHandOutRecord(OWNER, 'acct-1', 'openid', undefined)).toBe(1_000_000 + 60_000);
    audit.tokenIssued(app, OWNER, 'acct-1', { ...token, accessToken: 'at-2' }, undefined, 'grant');
    audit.tokenIssued(app, OWNER, 'acct-1', { ...token, scope: 'email openid' }, undefined, 'once');
    audit.tokenIssued(app, 'other-owner', 'acct-1', { ...token, accessToken: 'at-2' }, undefined, 'grant');
    advance(60_000);
    audit.tokenIssued(app, OWNER, 'acct-1', { ...token, accessToken: 'at-2' }, undefined, 'grant');
    expect(audit.entries().map((e) => [e.scope, e.detail])).toEqual([
      ['openid', 'under a remembered grant'],
      ['openid', 'under a remembered grant'],
      ['email openid', 'allowed once'],
      ['openid', 'under a remembered grant'],
      ['openid', 'under a remembered grant'],
    ]);
    expect(scheduled()).toBe(5);
  });

  it("the owner's tools are recorded under their own names, apart from each other", () => {
    const { audit } = recorder();
    const token = { account: 'acct-1', scope: 'openid', accessToken: 'at-1' };
    audit.ownerTokenIssued(token);
    audit.ownerTokenIssued(token);
    audit.ownerTokenIssued(token, undefined, { client: 'docker', target: 'registry.example' });
    expect(audit.entries().map((e) => [e.appId, e.detail])).toEqual([
      [OWNER_AUDIT_NAME, 'to the owner'],
      ['docker', 'registry.example'],
    ]);
  });

  it('between writes holds no more than the log keeps; a flush writes to the log file, which holds no token', async () => {
    const home = await createTestHome('latchkey-audit-');
    dirs.push(home.dir);
    const { audit, advance } = recorder(3);
    const path = join(home.dir, 'audit.log');
    for (let i = 0; i < 7; i++) {
      advance(1);
      audit.tokenIssued(app, OWNER, 'acct-1', { account: 'acct-1', scope: 'openid', accessToken: `secret-token-${i}` }, undefined, 'grant');
    }
    // Past twice the cap the oldest are dropped down to the cap.
    expect(audit.entries()).toHaveLength(3);
    await audit.open(path);
    await audit.flush();
    expect(audit.entries()).toHaveLength(3);
    expect(audit.integrity()).toEqual({ intact: true });
    expect(await readFile(path, 'utf8')).not.toContain('secret-token');
  });
});
