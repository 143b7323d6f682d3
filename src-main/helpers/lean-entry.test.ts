/**
 * `latchkey token` on the lean path, as the real process tools start: only
 * the answer on stdout, `--format header` for cargo and pnpm, and none of the
 * heavy libraries loaded (their loading was most of a cached token's time).
 * Requires `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HELPER_BINS, REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';
import { createTestHome } from '../testing/test-home.js';
import { parseFlags } from './flags.js';
import { TOKEN_FLAGS } from './token-command.js';

const built = existsSync(join(REPO_ROOT, 'dist/lean/latchkey.js'));
if (!built) console.warn('SKIP lean entry process tests: dist/ is missing; run `npm run build` (npm test does).');
/** For a stdin in non-blocking mode (Node's child_process always hands its children blocking ones). */
const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
if (!python) console.warn('SKIP the non-blocking stdin test: python3 is not installed.');

describe('lean flag parser', () => {
  it('takes the token flags in both spellings', () => {
    expect(parseFlags(['--provider', 'svc', '--scope=openid  email ', '--min-ttl', '30', '--json'], TOKEN_FLAGS)?.flags).toEqual({ provider: 'svc', scope: 'openid  email', 'min-ttl': '30', json: true });
  });

  it.each([
    [['--help']],
    [['--provider']],
    [['--provider', 'a', '--provider', 'b']],
    [['--min-ttl', 'soon']],
    [['--resource', 'not a url']],
    [['--scope', 'has"quote']],
    [['--json=yes']],
    [['extra']],
    [['--__proto__', 'x']],
  ])('gives %j to the full CLI instead of guessing', (argv) => {
    expect(parseFlags(argv, TOKEN_FLAGS)).toBeUndefined();
  });
});

describe('bin/ before `npm run build`', () => {
  // A clean clone after `npm ci` (which runs no scripts) has bin/ but no dist/: say what to do, not a stack trace.
  it.each(HELPER_BINS)('%s names the command that builds it', async (name) => {
    const home = await createTestHome('latchkey-unbuilt-');
    try {
      await cp(join(REPO_ROOT, 'bin'), join(home.dir, 'bin'), { recursive: true });
      const run = await runCommand(process.execPath, [join(home.dir, 'bin', `${name}.js`), 'get'], { env: { PATH: process.env.PATH, ...home.env } });
      expect(run).toEqual({ code: 70, stdout: '', stderr: `${name}: not built yet. Run \`npm run build\` in the Latchkey folder first.\n` });
    } finally {
      await rm(home.dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!built)('latchkey token, whole process', () => {
  let h: HelperAgent;
  beforeAll(async () => {
    h = await startHelperAgent();
  }, 60_000);
  afterAll(() => h?.close());

  it('prints only the token, or `Bearer <token>` with --format header', async () => {
    const plain = await runCommand('latchkey', ['token', '--provider', 'svc'], { env: h.env });
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).toMatch(/^[\w.-]+\n$/);
    const header = await runCommand('latchkey', ['token', '--provider', 'svc', '--format', 'header'], { env: h.env });
    expect(header).toEqual({ code: 0, stdout: `Bearer ${plain.stdout}`, stderr: '' });
    const json = await runCommand('latchkey', ['token', '--provider', 'svc', '--format=json'], { env: h.env });
    expect(JSON.parse(json.stdout)).toMatchObject({ access_token: plain.stdout.trim(), token_type: expect.stringMatching(/bearer/i) });
  });

  it('fails with one line on stderr, nothing on stdout, and the CLI exit code', async () => {
    const missing = await runCommand('latchkey', ['token', '--provider', 'nope'], { env: h.env });
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^latchkey: No provider named "nope".*\n$/);
    const badFormat = await runCommand('latchkey', ['token', '--format', 'yaml'], { env: h.env });
    expect(badFormat).toMatchObject({ code: 2, stdout: '' });
    expect(badFormat.stderr).toMatch(/argument 'yaml' is invalid|Unknown --format/);
    // No account signed in to "work" and nobody at a terminal: exit 3 at once, naming the command to run.
    const started = Date.now();
    const signIn = await runCommand('latchkey', ['token', '--provider', 'work'], { env: h.env });
    expect(signIn).toMatchObject({ code: 3, stdout: '' });
    expect(signIn.stderr).toMatch(/latchkey login/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('loads no commander, zod, pino or openid-client on the cached path, and no ES module', async () => {
    const esmTrace = join(h.dir, 'esm-modules.txt');
    const cjsTrace = join(h.dir, 'cjs-modules.txt');
    const hooks = join(h.dir, 'trace-hooks.mjs');
    const register = join(h.dir, 'trace-register.mjs');
    const cjsTracer = join(h.dir, 'trace-cjs.cjs');
    // A module resolve hook (node:module register) writes every ES module the process loads; it does not see require().
    await writeFile(hooks, `import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(esmTrace)}, r.url + '\\n'); return r; }\n`);
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
    // The CommonJS modules: whatever is in require's cache when the process exits.
    await writeFile(cjsTracer, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(cjsTrace)}, Object.keys(require.cache).join('\\n')));\n`);
    const run = await runCommand(process.execPath, ['--require', cjsTracer, '--import', register, join(REPO_ROOT, 'bin/latchkey.js'), 'token', '--provider', 'svc'], { env: h.env });
    expect(run.code).toBe(0);
    const loaded = `${await readFile(esmTrace, 'utf8')}${await readFile(cjsTrace, 'utf8')}`;
    expect(loaded).not.toMatch(/node_modules\/(commander|zod|pino|openid-client|oidc-provider)\//);
    expect(loaded).not.toContain('cli/program.js');
    // CommonJS all the way: Node 20's ES module loader alone would cost more start-up time than the
    // helper's own work. (`--import` sends the main file itself through that loader; nothing after it.)
    expect(await readFile(cjsTrace, 'utf8')).toContain('dist/lean/latchkey.js');
    expect((await readFile(esmTrace, 'utf8')).trim().split('\n')).toEqual([pathToFileURL(join(REPO_ROOT, 'bin/latchkey.js')).href]);
  });

  it('exec runs the program with the token in its environment and exits with its status', async () => {
    const token = (await runCommand('latchkey', ['token', '--provider', 'svc'], { env: h.env })).stdout.trim();
    const show = 'process.stdout.write(process.env.LATCHKEY_ACCESS_TOKEN === process.argv[1] ? "same" : "different"); process.exit(7)';
    const run = await runCommand('latchkey', ['exec', '--provider', 'svc', '--', process.execPath, '-e', show, token], { env: h.env });
    expect(run).toEqual({ code: 7, stdout: 'same', stderr: '' });
    const named = await runCommand('latchkey', ['exec', '--provider', 'svc', '--env', 'API_TOKEN', '--', process.execPath, '-e', 'process.stdout.write(String(process.env.API_TOKEN?.length > 0 && !process.env.LATCHKEY_ACCESS_TOKEN))'], { env: h.env });
    expect(named).toEqual({ code: 0, stdout: 'true', stderr: '' });
    const activity = JSON.parse((await runCommand('latchkey', ['activity', '--json'], { env: h.env })).stdout) as Array<{ appId: string; detail?: string }>;
    expect(activity).toContainEqual(expect.objectContaining({ appId: 'latchkey exec', detail: `program ${process.execPath.split('/').at(-1)}` }));
  });

  it('exec passes signals on to the program', async () => {
    const { spawn } = await import('node:child_process');
    const script = 'process.on("SIGTERM", () => { process.stdout.write("got SIGTERM"); process.exit(42); }); process.stdout.write("ready"); setInterval(() => {}, 1000);';
    const child = spawn('latchkey', ['exec', '--provider', 'svc', '--', process.execPath, '-e', script], { env: h.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d), out.includes('ready') && resolve())));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(out).toContain('got SIGTERM');
    expect(code).toBe(42);
  });

  // Regression: the answer was written through a stream whose failure came after the exit, so a
  // full disk or a closed pipe gave exit 0 and no token ($(latchkey token) would be empty).
  it.skipIf(!existsSync('/dev/full'))('an answer that cannot be written fails the command with one line on stderr', async () => {
    for (const command of ['latchkey token --provider svc', `printf 'protocol=https\\nhost=git.example.test\\n\\n' | git-credential-latchkey --provider svc get`]) {
      const run = await runCommand('sh', ['-c', `${command} > /dev/full`], { env: h.env });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/^[\w-]+: ENOSPC: no space left on device, write\n$/);
    }
  });

  // Tools hand over blocking pipes, which are read without the event loop; a non-blocking one must still be read whole.
  it.skipIf(!python)('reads a request that arrives late on a non-blocking stdin', async () => {
    const nonBlocking = `import os, sys; os.set_blocking(0, False); os.execvp(sys.argv[1], sys.argv[1:])`;
    const run = await runCommand('sh', ['-c', `(sleep 1; printf 'protocol=https\\nhost=git.example.test\\n\\n') | ${python} -c '${nonBlocking}' git-credential-latchkey --provider svc get`], { env: h.env });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^username=latchkey\npassword=[\w.-]+\npassword_expiry_utc=\d+\n$/);
  });

  it('exec: a missing program is exit 127, a missing `--` a usage error', async () => {
    const missing = await runCommand('latchkey', ['exec', '--provider', 'svc', '--', 'no-such-program-latchkey'], { env: h.env });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/cannot run no-such-program-latchkey: not found/);
    const usage = await runCommand('latchkey', ['exec', '--provider', 'svc', 'true'], { env: h.env });
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
  });
});
