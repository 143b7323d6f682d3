/**
 * The git credential helper: its protocol by unit, then Debian's git against
 * `git http-backend` on 127.0.0.1 that accepts only tokens the demo provider
 * reports active. Requires `npm run build`, git and Chromium (for the sign-in).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { gitHttpBackendAvailable, startGitHttpServer, type GitHttpServer } from '../testing/git-http-server.js';
import { REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';
import { tokenChecker, type TokenChecker } from '../testing/token-checker.js';
import { formatGetAnswer, parseGitAttributes, refusalFor, rejectedToken } from './git-credential.js';

describe('git credential protocol', () => {
  const token = { access_token: 'tok', token_type: 'Bearer', scope: 'openid', expires_at: 2_000_000_000 };

  it('answers username/password, or a Bearer credential when git offers capability[]=authtype', () => {
    const plain = parseGitAttributes('protocol=https\nhost=git.example.com\nwwwauth[]=Basic realm="x"\n\n');
    expect(formatGetAnswer(plain, token, undefined)).toBe(`username=latchkey\npassword=tok\npassword_expiry_utc=${2_000_000_000 - 60}\n`);
    expect(formatGetAnswer(plain, token, 'oauth2')).toMatch(/^username=oauth2\n/);
    const modern = parseGitAttributes('capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com\n');
    expect(formatGetAnswer(modern, token, undefined)).toBe(`capability[]=authtype\nauthtype=Bearer\ncredential=tok\npassword_expiry_utc=${2_000_000_000 - 60}\n`);
  });

  it('ignores unknown keys and lines after the blank line', () => {
    const a = parseGitAttributes('protocol=https\nfuture-key=1\nnot a pair\nhost=h\n\nhost=other\n');
    expect(a.get('host')).toEqual(['h']);
    expect(refusalFor(a)).toBeUndefined();
  });

  it.each([
    ['protocol=http\nhost=git.example.com\n'],
    ['protocol=http\nhost=127.0.0.1.evil.example\n'],
    ['host=git.example.com\n'],
    ['protocol=ssh\nhost=git.example.com\n'],
  ])('refuses to send a token in clear text or to an unknown protocol: %j', (input) => {
    expect(refusalFor(parseGitAttributes(input))).toMatch(/only https/);
  });

  it('allows http to this machine only', () => {
    expect(refusalFor(parseGitAttributes('protocol=http\nhost=127.0.0.1:8080\n'))).toBeUndefined();
    expect(refusalFor(parseGitAttributes('protocol=http\nhost=localhost\n'))).toBeUndefined();
  });

  it('finds the rejected token in password or credential', () => {
    expect(rejectedToken(parseGitAttributes('password=a\n'))).toBe('a');
    expect(rejectedToken(parseGitAttributes('authtype=Bearer\ncredential=b\n'))).toBe('b');
  });
});

const built = existsSync(join(REPO_ROOT, 'dist/lean/git-credential-latchkey.js'));
const skip = !built ? 'dist/ is missing; run `npm run build`' : !chromiumAvailable() ? CHROMIUM_MISSING : !gitHttpBackendAvailable() ? 'git http-backend is not installed (apt-get install git)' : undefined;
if (skip) console.warn(`SKIP git helper tests with the real git: ${skip}`);

describe.skipIf(Boolean(skip))('git with git-credential-latchkey against git http-backend', () => {
  let h: HelperAgent;
  let server: GitHttpServer;
  let checker: TokenChecker;
  let remote: string;
  let gitEnv: NodeJS.ProcessEnv;
  const git = (args: string[], cwd?: string) => runCommand('git', args, { env: gitEnv, ...(cwd ? { cwd } : {}) });
  const helper = (op: string, input: string, args: string[] = ['--provider', 'work']) => runCommand('git-credential-latchkey', [...args, op], { env: h.env, stdin: input });

  beforeAll(async () => {
    h = await startHelperAgent({ signIn: true });
    checker = await tokenChecker(h.demo);
    const root = join(h.dir, 'repos');
    await mkdir(root);
    server = await startGitHttpServer(root, checker);
    remote = `${server.url}/project.git`;
    // No system or user config: only what the test sets. The helper is configured as the README shows.
    gitEnv = { ...h.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' };
    await writeFile(join(h.dir, '.gitconfig'), `[credential "${server.url}"]\n\thelper = latchkey --provider work\n[init]\n\tdefaultBranch = main\n`);
    expect((await git(['init', '--bare', join(root, 'project.git')])).code).toBe(0);
    const seed = join(h.dir, 'seed');
    await git(['init', seed]);
    await writeFile(join(seed, 'README'), 'hello\n');
    await git(['add', 'README'], seed);
    await git(['commit', '-m', 'first'], seed);
    expect((await git(['push', join(root, 'project.git'), 'main'], seed)).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('clones and pushes with the signed-in account’s token, and the activity log names git and the host', async () => {
    const work = join(h.dir, 'clone');
    const clone = await git(['clone', remote, work]);
    expect(clone.code, clone.stderr).toBe(0);
    await writeFile(join(work, 'NEW'), 'change\n');
    await git(['add', 'NEW'], work);
    await git(['commit', '-m', 'second'], work);
    const push = await git(['push', 'origin', 'main'], work);
    expect(push.code, push.stderr).toBe(0);
    expect(checker.seen.length).toBeGreaterThan(0);
    const host = new URL(server.url).host;
    const activity = await runCommand('latchkey', ['activity', '--json'], { env: h.env });
    expect(JSON.parse(activity.stdout)).toContainEqual(expect.objectContaining({ appId: 'git', event: 'token_issued', detail: `host ${host}` }));
    for (const token of new Set(checker.seen)) {
      expect(h.log.text()).not.toContain(token);
      expect(clone.stderr + push.stderr).not.toContain(token);
    }
  });

  it('answers only the contract on stdout; an unknown host without --provider gets an empty answer', async () => {
    const host = new URL(server.url).host;
    const get = await helper('get', `protocol=http\nhost=${host}\n\n`);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^username=latchkey\npassword=[^\n]+\npassword_expiry_utc=\d+\n$/);
    expect(get.stderr).toBe('');
    const unknown = await helper('get', 'protocol=https\nhost=elsewhere.example\n\n', []);
    expect(unknown).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await helper('store', `protocol=http\nhost=${host}\nusername=u\npassword=p\n\n`)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('uses the host mapping when git gives no --provider', async () => {
    const host = new URL(server.url).host;
    const add = await runCommand('latchkey', ['host', 'add', server.url, '--provider', 'work', '--username', 'oauth2'], { env: h.env });
    expect(add.code, add.stderr).toBe(0);
    const list = await runCommand('latchkey', ['host', 'list', '--json'], { env: h.env });
    expect(JSON.parse(list.stdout)).toEqual([{ host, provider: 'work', username: 'oauth2' }]);
    const get = await helper('get', `protocol=http\nhost=${host}\n\n`, []);
    expect(get.stdout).toMatch(/^username=oauth2\npassword=/);
    expect((await runCommand('latchkey', ['host', 'remove', host], { env: h.env })).code).toBe(0);
    expect((await helper('get', `protocol=http\nhost=${host}\n\n`, [])).stdout).toBe('');
    const bad = await runCommand('latchkey', ['host', 'add', 'git.example.com', '--provider', 'nope'], { env: h.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no provider "nope"/);
  });

  it('an expired token is refreshed before git gets it', async () => {
    const work = join(h.dir, 'clone');
    const before = h.demo.stats.grants('refresh_token');
    h.expireTokens();
    const fetch = await git(['fetch'], work);
    expect(fetch.code, fetch.stderr).toBe(0);
    expect(h.demo.stats.grants('refresh_token')).toBe(before + 1);
  });

  it('after the provider drops the token, git’s erase drops it and the next operation refreshes', async () => {
    const work = join(h.dir, 'clone');
    const host = new URL(server.url).host;
    const current = (await helper('get', `protocol=http\nhost=${host}\n\n`)).stdout.match(/password=(.+)/)![1]!;
    // The provider drops this one access token (revoking it at the revocation endpoint would end the whole grant:
    // oidc-provider's default revokeGrantPolicy), so it is no longer active while the refresh token still is.
    const stored = await h.demo.provider.AccessToken.find(current);
    await stored!.destroy();
    const rejected = server.rejected;
    const failed = await git(['fetch'], work);
    expect(failed.code).not.toBe(0);
    expect(server.rejected).toBeGreaterThan(rejected);
    const refreshes = h.demo.stats.grants('refresh_token');
    const again = await git(['fetch'], work);
    expect(again.code, again.stderr).toBe(0);
    expect(h.demo.stats.grants('refresh_token')).toBe(refreshes + 1);
  });

  it('without a signed-in account and nobody at a terminal, fails at once naming the command', async () => {
    const host = new URL(server.url).host;
    const started = Date.now();
    const get = await helper('get', `protocol=http\nhost=${host}\n\n`, ['--provider', 'svc', '--account', 'nobody@example.com']);
    expect(get.code).not.toBe(0);
    expect(get.stdout).toBe('');
    expect(get.stderr).toMatch(/^git-credential-latchkey: .+\n$/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
