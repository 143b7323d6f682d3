/**
 * The Docker credential helper: the protocol by unit, then the real docker CLI
 * (`docker manifest inspect --insecure`, no daemon needed) against a registry
 * on 127.0.0.1 whose token endpoint accepts only tokens the provider reports
 * active. Requires `npm run build`, docker and Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { startFakeRegistry, type FakeRegistry } from '../testing/fake-registry.js';
import { REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';
import { tokenChecker, type TokenChecker } from '../testing/token-checker.js';
import { getAnswer, listAnswer } from './docker-credential.js';
import { normaliseHost } from './host-map.js';

describe('docker credential protocol', () => {
  it('reduces server URLs to host[:port]', () => {
    expect(normaliseHost('https://Registry.Example.com/v2/')).toBe('registry.example.com');
    expect(normaliseHost('https://index.docker.io/v1/')).toBe('index.docker.io');
    expect(normaliseHost('localhost:5000')).toBe('localhost:5000');
    expect(normaliseHost('127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(normaliseHost('https://user:pw@registry.example.com:8443/x')).toBe('registry.example.com:8443');
    expect(normaliseHost('not a host')).toBeUndefined();
  });

  it('answers an identity token unless the mapping names a user', () => {
    const token = { access_token: 'tok', token_type: 'Bearer', scope: 's' };
    expect(JSON.parse(getAnswer('r.example', token, undefined))).toEqual({ ServerURL: 'r.example', Username: '<token>', Secret: 'tok' });
    expect(JSON.parse(getAnswer('r.example', token, 'ci'))).toMatchObject({ Username: 'ci' });
    expect(JSON.parse(listAnswer({ 'a.example': { provider: 'p' }, 'b.example': { provider: 'p', username: 'u' } }))).toEqual({ 'a.example': '<token>', 'b.example': 'u' });
  });
});

const DOCKER = '/usr/local/bin/docker';
const dockerPath = [DOCKER, '/usr/bin/docker'].find((p) => existsSync(p));
const built = existsSync(join(REPO_ROOT, 'dist/lean/docker-credential-latchkey.js'));
const skip = !built ? 'dist/ is missing; run `npm run build`' : !dockerPath ? 'the docker CLI is not installed' : !chromiumAvailable() ? CHROMIUM_MISSING : undefined;
if (skip) console.warn(`SKIP Docker helper tests with the real docker CLI: ${skip}`);

describe.skipIf(Boolean(skip))('docker with docker-credential-latchkey against a local registry', () => {
  let h: HelperAgent;
  let checker: TokenChecker;
  let registry: FakeRegistry;
  let dockerEnv: NodeJS.ProcessEnv;
  const helper = (op: string, stdin = '') => runCommand('docker-credential-latchkey', [op], { env: h.env, stdin });
  const inspect = () => runCommand(dockerPath!, ['manifest', 'inspect', '--insecure', `${registry.host}/team/app:1.0`], { env: dockerEnv });

  beforeAll(async () => {
    h = await startHelperAgent({ signIn: true });
    checker = await tokenChecker(h.demo);
    registry = await startFakeRegistry(checker);
    const dockerConfig = join(h.dir, 'docker');
    await mkdir(dockerConfig);
    // As the README shows it.
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'latchkey' } }));
    dockerEnv = { ...h.env, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_EXPERIMENTAL: 'enabled' };
  }, 120_000);
  afterAll(async () => {
    await registry?.close();
    await h?.close();
  });

  it('an unmapped registry: the not-found answer Docker expects, exit 1', async () => {
    expect(await helper('get', `https://${registry.host}/v2/`)).toEqual({ code: 1, stdout: 'credentials not found in native keychain\n', stderr: '' });
    const denied = await inspect();
    expect(denied.code).not.toBe(0);
  });

  it('docker manifest inspect gets the manifest with an identity token from the helper', async () => {
    expect((await runCommand('latchkey', ['host', 'add', registry.host, '--provider', 'work'], { env: h.env })).code).toBe(0);
    const run = await inspect();
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(JSON.parse(registry.manifest));
    expect(registry.tokenRequests).toContain('identity-token');
    const get = await helper('get', `https://${registry.host}/v2/`);
    expect(get.stderr).toBe('');
    expect(JSON.parse(get.stdout)).toEqual({ ServerURL: `https://${registry.host}/v2/`, Username: '<token>', Secret: expect.any(String) });
    await helper('get', registry.host);
    const activity = JSON.parse((await runCommand('latchkey', ['activity', '--json'], { env: h.env })).stdout) as Array<{ appId: string; detail?: string }>;
    // Docker asks several times per command: the same token for the same registry is recorded once a minute.
    expect(activity.filter((e) => e.appId === 'docker' && e.detail === `registry ${registry.host}`)).toHaveLength(1);
    for (const token of new Set(checker.seen)) {
      expect(h.log.text()).not.toContain(token);
      expect(run.stderr).not.toContain(token);
    }
  });

  it('with --username, the registry gets Basic auth with the token as password', async () => {
    await runCommand('latchkey', ['host', 'add', registry.host, '--provider', 'work', '--username', 'ci'], { env: h.env });
    const run = await inspect();
    expect(run.code, run.stderr).toBe(0);
    expect(registry.tokenRequests.at(-1)).toBe('basic');
    expect(JSON.parse((await helper('list')).stdout)).toEqual({ [registry.host]: 'ci' });
  });

  it('store, erase and version answer without changing anything; a gone account fails at once', async () => {
    expect(await helper('store', JSON.stringify({ ServerURL: registry.host, Username: 'x', Secret: 'y' }))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await helper('erase', registry.host)).code).toBe(0);
    expect((await helper('version')).stdout).toMatch(/^docker-credential-latchkey \(Latchkey\) \d/);
    await runCommand('latchkey', ['host', 'add', registry.host, '--provider', 'work', '--account', 'nobody@example.com'], { env: h.env });
    const started = Date.now();
    const gone = await helper('get', registry.host);
    expect(gone.code).not.toBe(0);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toMatch(/^docker-credential-latchkey: .+\n$/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
