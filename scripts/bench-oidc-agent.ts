/**
 * Section 4c of `npm run bench`: the cached token from oidc-agent 4.2.6
 * (Debian `oidc-agent-cli liboidc-agent-dev`) beside Latchkey's cached
 * `tokens.tryGet`, in the same run.
 *
 * oidc-agent runs on a private socket with its own config directory; its
 * account is made by `oidc-gen` without a person: the refresh flow, with a
 * refresh token Latchkey got for a second client at the demo provider (a
 * confidential client registered for this, since oidc-agent sends a client
 * secret). A tiny C program linked with liboidc-agent calls
 * `getAgentTokenResponse()` in a bounded loop and prints each call's time.
 * Skipped, with the reason printed, when a tool is missing.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClientMetadata } from 'oidc-provider';
import { DEMO_LOOPBACK_REDIRECT_URI } from '../src-main/demo/demo-provider.js';
import type { AdminClient } from '../src-main/cli/agent-connection.js';
import type { AppBenchContext } from './bench-apps.js';
import { signInThroughAgent } from './bench-provider.js';
import { cachedTryGetAtOneClient } from './bench-apps.js';
import { fmt, median, percentile, progress } from './bench-report.js';

const run = promisify(execFile);

/** The demo provider's client for oidc-agent: confidential, with refresh tokens. */
export const OIDC_AGENT_CLIENT: ClientMetadata = {
  client_id: 'oidc-agent-bench',
  client_secret: 'oidc-agent-bench-secret',
  client_name: 'oidc-agent (bench)',
  application_type: 'native',
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: [DEMO_LOOPBACK_REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid email offline_access',
};

const SCOPE = 'openid email offline_access';

const ACCOUNT = 'bench';
const CALLS = { warmup: 500, rounds: 5, perRound: 2000 };

const C_PROGRAM = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <oidc-agent/api.h>

/* Times getAgentTokenResponse() for the cached token: argv[1] warm-up calls, then argv[2] timed ones, one line of microseconds each. */
int main(int argc, char** argv) {
  int warmup = atoi(argv[1]), calls = atoi(argv[2]);
  for (int i = 0; i < warmup + calls; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct agent_response r = getAgentTokenResponse("${ACCOUNT}", 60, NULL, "latchkey-bench", NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (r.type != AGENT_RESPONSE_TYPE_TOKEN) {
      fprintf(stderr, "oidc-agent: %s\\n", r.error_response.error ? r.error_response.error : "no token");
      return 1;
    }
    secFreeAgentResponse(r);
    if (i >= warmup) printf("%.3f\\n", (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3);
  }
  return 0;
}
`;

/** Why the comparison cannot run here, or undefined when it can. */
async function missingTool(): Promise<string | undefined> {
  for (const tool of ['oidc-agent', 'oidc-gen', 'cc']) {
    if (!(await run('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false))) {
      return `${tool} is not installed (apt-get install oidc-agent-cli liboidc-agent-dev gcc)`;
    }
  }
  if (!existsSync('/usr/include/oidc-agent/api.h')) return 'liboidc-agent-dev is not installed (no /usr/include/oidc-agent/api.h)';
  return undefined;
}

export interface OidcAgentBenchContext extends AppBenchContext {
  client: AdminClient;
}

/** Beside Latchkey's cached tryGet at one client, as section 4 measured it in this run. */
export async function benchOidcAgent(b: OidcAgentBenchContext): Promise<void> {
  const { report } = b;
  const latchkey = cachedTryGetAtOneClient.get(b);
  report.section("4c. Cached token from oidc-agent 4.2.6 (C getAgentTokenResponse()) beside Latchkey's cached tokens.tryGet");
  const target = { figure: "cached tokens.tryGet vs oidc-agent's getAgentTokenResponse()", baseline: '2-2.4× faster than oidc-agent 4.2.6 before', target: '≥ 5× faster' };
  const skip = b.skipped ?? (await missingTool()) ?? (latchkey ? undefined : 'section 4 did not measure the cached tryGet');
  if (skip) {
    report.row('oidc-agent comparison', 'skipped', skip);
    report.target({ ...target, value: 'skipped', met: undefined, note: skip });
    return;
  }
  const dir = join(b.tmp, 'oidc-agent');
  await mkdir(join(dir, 'config'), { recursive: true, mode: 0o700 });
  const refreshToken = await refreshTokenForOidcAgent(b);
  const socket = join(dir, 'agent.sock');
  const env = { PATH: process.env.PATH, HOME: dir, OIDC_CONFIG_DIR: join(dir, 'config'), OIDC_SOCK: socket };

  progress('oidc-agent: starting it on a private socket, adding an account with oidc-gen (refresh flow)');
  const agent = spawn('oidc-agent', ['--console', `--socket-path=${socket}`, '--no-autoload'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let agentErr = '';
  agent.stderr.on('data', (c: Buffer) => (agentErr = (agentErr + c.toString()).slice(-4000)));
  b.cleanup.add('oidc-agent', () => void agent.kill('SIGTERM'));
  await waitFor(() => existsSync(socket));
  if (!existsSync(socket)) throw new Error(`oidc-agent did not create its socket: ${agentErr.trim().slice(-500)}`);
  await run(
    'oidc-gen',
    [
      ACCOUNT,
      '--manual',
      `--iss=${b.demo.issuer}`,
      `--client-id=${OIDC_AGENT_CLIENT.client_id}`,
      `--client-secret=${OIDC_AGENT_CLIENT.client_secret!}`,
      // Asked for by oidc-gen in its own format, used by no step of the refresh flow.
      '--redirect-uri=http://localhost:4242',
      `--scope=${SCOPE}`,
      '--flow=refresh',
      `--rt=${refreshToken}`,
      '--pw-cmd=echo latchkey-bench',
    ],
    { env, timeout: 30_000 },
  ).catch((err: { stderr?: string; stdout?: string; message: string }) => {
    throw new Error(`oidc-gen failed: ${(err.stderr || err.stdout || err.message).trim().slice(-500)}`);
  });

  const source = join(dir, 'token-loop.c');
  const binary = join(dir, 'token-loop');
  await writeFile(source, C_PROGRAM);
  await run('cc', ['-O2', '-o', binary, source, '-loidc-agent'], { timeout: 60_000 });

  progress(`oidc-agent: ${CALLS.rounds} rounds × ${fmt.count(CALLS.perRound)} getAgentTokenResponse() calls`);
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let r = 0; r < CALLS.rounds; r++) {
    const { stdout } = await run(binary, [String(r === 0 ? CALLS.warmup : 0), String(CALLS.perRound)], { env, timeout: 120_000, maxBuffer: 1 << 20 });
    const us = stdout.trim().split('\n').map(Number);
    p50s.push(percentile(us, 50));
    p99s.push(percentile(us, 99));
  }
  const oidc = { p50: median(p50s), p99: median(p99s) };
  const faster = oidc.p50 / latchkey!.p50;
  report.row("oidc-agent getAgentTokenResponse(), cached", fmt.us(oidc.p50), `p99 ${fmt.us(oidc.p99)}; a C program linked with liboidc-agent`, 'p50');
  report.row('Latchkey tokens.tryGet, cached, 1 client', fmt.us(latchkey!.p50), `p99 ${fmt.us(latchkey!.p99)}; SDK on a kept-open, proven connection (section 4)`, 'p50');
  report.row('  Latchkey faster by', fmt.ratio(faster), `p99 ${fmt.ratio(oidc.p99 / latchkey!.p99)}`, 'p50');
  report.target({ ...target, value: `${fmt.ratio(faster)} faster (${fmt.us(latchkey!.p50)} vs ${fmt.us(oidc.p50)})`, met: faster >= 5 });
  report.note(`median over ${CALLS.rounds} rounds of each round's p50 and p99; oidc-agent ${await oidcAgentVersion()} with the account added by oidc-gen --flow=refresh;`);
  report.note('liboidc-agent opens a new connection to the agent for every call; Latchkey keeps one open per app');
}

/** A refresh token for {@link OIDC_AGENT_CLIENT}: Latchkey signs in through it once (the provider child plays the person). */
async function refreshTokenForOidcAgent(b: OidcAgentBenchContext): Promise<string> {
  const provider = 'oidc-agent-bench';
  await b.client.call('admin.providers.add', { name: provider, issuer: b.demo.issuer, client_id: OIDC_AGENT_CLIENT.client_id, client_secret: OIDC_AGENT_CLIENT.client_secret!, scope: SCOPE });
  await signInThroughAgent(b.client, b.demo, provider, 'oidcagent');
  const account = b.agent.core.store.read().accounts.find((a) => a.provider === provider);
  if (!account?.refreshToken) throw new Error('the sign-in for oidc-agent gave no refresh token');
  return account.refreshToken;
}

async function oidcAgentVersion(): Promise<string> {
  const { stdout } = await run('oidc-agent', ['--version']).catch(() => ({ stdout: '' }));
  return /\d+\.\d+\.\d+/.exec(stdout)?.[0] ?? '(version unknown)';
}

/** Polls `check` every 20 ms, for at most 10 s. */
async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
}
