/**
 * cargo with `credential-provider = ["cargo:token-from-stdout", "latchkey",
 * "token", …, "--format", "header"]` against a sparse registry on 127.0.0.1
 * with `"auth-required": true` that accepts only bearer tokens the provider
 * reports active. Requires `npm run build`, cargo and Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';
import { closeNow, listenOnLoopback } from '../testing/net.js';
import { presentedToken, tokenChecker, type TokenChecker } from '../testing/token-checker.js';

const CARGO = [join(homedir(), '.cargo/bin/cargo'), '/usr/bin/cargo'].find((p) => existsSync(p));
const built = existsSync(join(REPO_ROOT, 'dist/lean/latchkey.js'));
const skip = !built ? 'dist/ is missing; run `npm run build`' : !CARGO ? 'cargo is not installed' : !chromiumAvailable() ? CHROMIUM_MISSING : undefined;
if (skip) console.warn(`SKIP cargo registry tests: ${skip}`);

describe.skipIf(Boolean(skip))('cargo against a sparse registry with auth-required', () => {
  let h: HelperAgent;
  let checker: TokenChecker;
  let server: Server;
  let cargoEnv: NodeJS.ProcessEnv;
  let project: string;
  const headers: string[] = [];

  beforeAll(async () => {
    h = await startHelperAgent({ signIn: true });
    checker = await tokenChecker(h.demo);
    server = createServer((req, res) => {
      headers.push(req.headers.authorization ?? '');
      const token = /^Bearer /.test(req.headers.authorization ?? '') ? presentedToken(req.headers.authorization) : undefined;
      void (token ? checker.isActive(token) : Promise.resolve(false)).then((ok) => {
        if (!ok) {
          // The sparse registry protocol: 401 with a Cargo challenge makes cargo ask its credential provider.
          res.writeHead(401, { 'WWW-Authenticate': 'Cargo login_url="https://example.invalid/login"' });
          return res.end();
        }
        const base = `http://127.0.0.1:${port}`;
        if (req.url === '/index/config.json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ dl: `${base}/crates`, api: base, 'auth-required': true }));
        }
        if (req.url === '/index/de/mo/demo') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(`${JSON.stringify({ name: 'demo', vers: '0.1.0', deps: [], cksum: '0'.repeat(64), features: {}, yanked: false })}\n`);
        }
        res.writeHead(404);
        res.end();
      });
    });
    const port = await listenOnLoopback(server);
    const cargoHome = join(h.dir, 'cargo-home');
    await mkdir(cargoHome);
    // As the README shows it.
    await writeFile(
      join(cargoHome, 'config.toml'),
      `[registries.work]\nindex = "sparse+http://127.0.0.1:${port}/index/"\ncredential-provider = ["cargo:token-from-stdout", "latchkey", "token", "--provider", "work", "--format", "header"]\n`,
    );
    project = join(h.dir, 'app');
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(join(project, 'Cargo.toml'), '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\ndemo = { version = "0.1", registry = "work" }\n');
    await writeFile(join(project, 'src/main.rs'), 'fn main() {}\n');
    cargoEnv = { ...h.env, CARGO_HOME: cargoHome, RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(homedir(), '.rustup'), CARGO_TERM_COLOR: 'never' };
  }, 120_000);
  afterAll(async () => {
    if (server) await closeNow(server);
    await h?.close();
  });

  it('cargo generate-lockfile resolves the crate with the token from `latchkey token --format header`', async () => {
    const run = await runCommand(CARGO!, ['generate-lockfile'], { env: cargoEnv, cwd: project });
    expect(run.code, run.stderr).toBe(0);
    expect(headers.some((a) => a.startsWith('Bearer '))).toBe(true);
    const sent = checker.seen.at(-1)!;
    expect(run.stderr).not.toContain(sent);
    expect(h.log.text()).not.toContain(sent);
  });
});
