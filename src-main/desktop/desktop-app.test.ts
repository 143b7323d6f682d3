/**
 * The locked desktop app: Linux with safeStorage on `basic_text` and no
 * passphrase file. It creates a passphrase vault from what the person types,
 * then (restarted) unlocks it; a real agent behind it each time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { captureLog, type CapturedLog } from '../testing/capture-log.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { fakeSafeStorage } from '../testing/safe-storage-double.js';
import { createTestHome, type TestHome } from '../testing/test-home.js';
import type { DesktopEvent } from '../../src-preload/contract.js';
import { DesktopApp } from './desktop-app.js';
import { chooseDesktopKeySource } from './desktop-key-source.js';
import { memorySettings } from './desktop-service.js';

const PASSPHRASE = 'tulip orbit canyon 42 lantern';
const WRONG = 'tulip orbit canyon 42 lanterns';

describe('DesktopApp: locked until a passphrase is given', () => {
  let home: TestHome;
  let paths: LatchkeyPaths;
  let log: CapturedLog;
  const running: DesktopApp[] = [];
  const env = () => home.env;

  async function launch(): Promise<DesktopApp> {
    const app = await DesktopApp.launch({
      env: env(),
      paths,
      logger: log.logger,
      settings: memorySettings(),
      keys: chooseDesktopKeySource(fakeSafeStorage('basic_text'), env(), 'linux'),
      openExternal: async () => undefined,
    });
    running.push(app);
    return app;
  }

  beforeAll(async () => {
    // No passphrase file: the app must ask for one.
    home = await createTestHome('latchkey-desktop-app-', { passphraseFile: false });
    paths = home.paths;
    log = captureLog('debug');
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop()));
  });

  afterAll(async () => {
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  it('a new vault: locked, says why, refuses a short or mistyped passphrase, then creates a passphrase vault', async () => {
    const app = await launch();
    expect(app.host).toBeUndefined();
    const state = await app.call('vault:state', undefined);
    expect(state).toMatchObject({ ok: true, value: { state: 'locked', needs: 'create-passphrase', reason: expect.stringContaining('safeStorage backend "basic_text"') } });
    // Nothing else answers, and nothing is on disk yet.
    expect(await app.call('accounts:list', undefined)).toMatchObject({ ok: false, error: { code: 'vault_locked' } });
    expect(await app.call('vault:unlock', { passphrase: PASSPHRASE })).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/no vault yet/) } });
    const short = await app.call('vault:create', { passphrase: 'too short', confirm: 'too short' });
    expect(short).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/at least 12 characters/) } });
    expect(JSON.stringify(short)).not.toContain('too short');
    expect(await app.call('vault:create', { passphrase: PASSPHRASE, confirm: WRONG })).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/do not match/) } });
    expect(await app.call('vault:create', { passphrase: PASSPHRASE.repeat(40), confirm: PASSPHRASE.repeat(40) })).toMatchObject({ ok: false, error: { code: 'usage' } });
    await expect(readFile(paths.vault)).rejects.toMatchObject({ code: 'ENOENT' });

    const events: DesktopEvent[] = [];
    app.events.on('event', (e) => events.push(e));
    expect(await app.call('vault:create', { passphrase: PASSPHRASE, confirm: PASSPHRASE })).toEqual({ ok: true, value: { state: 'open' } });
    expect(events).toContainEqual({ type: 'vault.changed' });
    expect(app.host).toBe(await app.opened);
    expect(JSON.parse(await readFile(paths.vault, 'utf8'))).toMatchObject({ key: { kind: 'passphrase', kdf: 'scrypt' } });
    expect(await app.call('accounts:list', undefined)).toEqual({ ok: true, value: [] });
    expect(await app.call('app:state', undefined)).toMatchObject({ ok: true, value: { keySource: { kind: 'passphrase', encrypted: true, warning: expect.stringContaining('basic_text') } } });
    expect(await app.call('vault:create', { passphrase: PASSPHRASE, confirm: PASSPHRASE })).toMatchObject({ ok: false, error: { code: 'already_exists' } });
  });

  it('restarted: a wrong passphrase is vault_locked and leaves the vault file byte for byte; the right one opens it', async () => {
    const before = await readFile(paths.vault);
    const app = await launch();
    expect(await app.call('vault:state', undefined)).toMatchObject({ ok: true, value: { state: 'locked', needs: 'unlock' } });
    expect(await app.call('vault:create', { passphrase: PASSPHRASE, confirm: PASSPHRASE })).toMatchObject({ ok: false, error: { code: 'usage', message: expect.stringMatching(/exists already/) } });
    expect(await app.call('vault:unlock', { passphrase: WRONG })).toMatchObject({ ok: false, error: { code: 'vault_locked' } });
    expect(await readFile(paths.vault)).toEqual(before);
    expect(await app.call('vault:state', undefined)).toMatchObject({ ok: true, value: { state: 'locked' } });
    expect(await app.call('vault:unlock', { passphrase: PASSPHRASE })).toEqual({ ok: true, value: { state: 'open' } });
    expect(await app.call('accounts:list', undefined)).toEqual({ ok: true, value: [] });
  });

  it('a second owner is refused at launch, before anyone types a passphrase (agent_running)', async () => {
    const first = await launch();
    await first.call('vault:unlock', { passphrase: PASSPHRASE });
    await expect(launch()).rejects.toMatchObject({ code: 'agent_running' });
  });

  it('an unlock never creates a vault: the file gone meanwhile is not_found, and nothing is written', async () => {
    const app = await launch();
    const kept = join(home.dir, 'kept.json');
    await rename(paths.vault, kept);
    expect(await app.call('vault:unlock', { passphrase: PASSPHRASE })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    await expect(readFile(paths.vault)).rejects.toMatchObject({ code: 'ENOENT' });
    await rename(kept, paths.vault);
  });

  it('no passphrase, right or wrong, reached the log', () => {
    expect(log.text()).toContain('created vault');
    expect(log.text()).not.toContain(PASSPHRASE);
    expect(log.text()).not.toContain(WRONG.slice(0, 12));
    expect(log.text()).not.toContain('too short');
  });
});
