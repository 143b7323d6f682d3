/**
 * The local-app side of `npm run bench`: apps that use the SDK, each with its
 * own Ed25519 key, approved once by a rule in the policy file (the unattended
 * way to grant), then asking the agent for tokens.
 *
 * - cached `tokens.tryGet` on warm connections that have proven their app key,
 *   with 1, 8 and 64 concurrent clients (each its own connection), beside a
 *   bare Unix-socket echo with the same concurrency and message sizes;
 * - a refresh storm across apps: every app's token expired at once, many
 *   concurrent `tokens.tryGet` per app → the refresh requests the provider saw
 *   (per-app tokens: one per app is right) and the total time.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeMessage } from '../src-main/wire/framing.js';
import type { RunningAgent } from '../src-main/agent/agent-main.js';
import type { BenchProvider } from './bench-provider.js';
import { asLatchkeyError } from '../src-main/errors.js';
import type { LatchkeyPaths } from '../src-main/platform/paths.js';
import type { Policy } from '../src-main/broker/policy-prompter.js';
import { LatchkeyClient, type AuthTokens } from '../src-main/sdk/latchkey-client.js';
import { loadPeerCredentials } from '../src-main/platform/peer-credentials.js';
import { connectRpc } from '../src-main/wire/rpc-client.js';
import { loadOrCreateAppKey, signChallenge } from '../src-main/broker/app-key.js';
import { challengePayload } from '../src-main/wire/app-proof.js';
import type { AppResults } from '../src-main/wire/app-contract.js';
import { connectEcho, startEchoServer, type EchoClient } from './bench-echo.js';
import type { Cleanup } from './bench-process.js';
import { fmt, median, percentile, progress, since, type Report } from './bench-report.js';

/** Distinct apps (keys, grants, per-app tokens); clients are spread over them round-robin. */
const APPS = 8;
/** What each app asks for: narrower than the account's scope, so its token is minted for it. */
const APP_SCOPE = 'openid email';
/** Concurrent clients and the calls each makes per round (a closed loop: the next call when the last answered). */
const CACHED = { levels: [1, 8, 64], callsPerRound: { 1: 2000, 8: 250, 64: 40 } as Record<number, number>, rounds: 5 };
const MAX_CLIENTS = Math.max(...CACHED.levels);
/** Issue target: the cached round trip within 1.5× the bare echo, p99 under 1 ms (on 2 cores). */
const TARGET = { ratio: 1.5, p99Us: 1000 };
/** Every client (64) with 4 calls in flight: 32 concurrent requests per app. */
const STORM = { rounds: 5, inFlightPerClient: 4 };

/** What the app sections need from the bench; bench.ts's `Bench` has all of it. */
export interface AppBenchContext {
  report: Report;
  cleanup: Cleanup;
  tmp: string;
  paths: LatchkeyPaths;
  demo: BenchProvider;
  agent: RunningAgent;
  /** Moves the agent's clock past every cached access token's expiry. */
  expireTokens(): void;
  /** Why no account is signed in (no app can get a token then). */
  skipped?: string;
}

interface AppFleet {
  /** One connection each, proven once; client `i` is app `i % APPS`. */
  clients: LatchkeyClient[];
  /** Each app's first token, from its `tokens.get`. */
  tokens: AuthTokens[];
}

const fleets = new WeakMap<AppBenchContext, Promise<AppFleet>>();

/** Section 4's figures at one client (µs), for the comparison with oidc-agent (bench-oidc-agent.ts). */
export const cachedTryGetAtOneClient = new WeakMap<AppBenchContext, { p50: number; p99: number }>();

/** The apps and their connections, made once and shared by both sections. */
function fleetFor(b: AppBenchContext): Promise<AppFleet> {
  let fleet = fleets.get(b);
  if (!fleet) {
    fleet = startFleet(b);
    fleets.set(b, fleet);
  }
  return fleet;
}

/**
 * `APPS` apps approved by the policy file (app id + key fingerprint, decision
 * "always"): each asks once with `tokens.get`, which consults the policy,
 * remembers the grant and mints the app's own token; then the rest of the
 * clients connect and prove their keys.
 */
async function startFleet(b: AppBenchContext): Promise<AppFleet> {
  const clients: LatchkeyClient[] = [];
  b.cleanup.add('app clients', () => Promise.all(clients.map((c) => c.close())));
  const appIds = Array.from({ length: APPS }, (_, i) => `dev.latchkey.bench.app${i}`);
  const connect = async (i: number) => {
    const appId = appIds[i % APPS]!;
    const client = await LatchkeyClient.connect({
      appId,
      name: `Bench app ${i % APPS}`,
      version: '1.0.0',
      keyPath: join(b.tmp, 'apps', appId, 'latchkey-app-key.json'),
      socket: b.paths.socket,
    });
    clients[i] = client;
    return client;
  };
  progress(`apps: ${APPS} apps approved by the policy file, ${MAX_CLIENTS} connections proving their keys`);
  const first = await Promise.all(appIds.map((_, i) => connect(i)));
  const policy: Policy = { rules: first.map((c, i) => ({ app: appIds[i]!, keyFingerprint: c.keyFingerprint, scope: APP_SCOPE, decision: 'always' as const })) };
  await writeFile(b.paths.policy, `${JSON.stringify(policy, null, 2)}\n`, { mode: 0o600 });
  const tokens = await Promise.all(first.map((c) => c.getAuthTokens({ scope: APP_SCOPE }, { timeoutMs: 30_000 })));
  if (new Set(tokens.map((t) => t.accessToken)).size !== APPS) throw new Error('the apps did not get a token each of their own');
  await Promise.all(Array.from({ length: MAX_CLIENTS - APPS }, (_, k) => connect(APPS + k)));
  return { clients, tokens };
}

/** One closed-loop run: each call's latency (µs), the run's wall time (ms), and the CPU time this process spent per call (µs). */
interface Run {
  us: number[];
  ms: number;
  cpuUs: number;
}

/** Runs `callers` side by side, each making `calls` calls one after the other. */
async function closedLoop(callers: ReadonlyArray<() => Promise<unknown>>, calls: number): Promise<Run> {
  const us: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    callers.map(async (call) => {
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await call();
        us.push((performance.now() - t) * 1000);
      }
    }),
  );
  const ms = since(start);
  const { user, system } = process.cpuUsage(cpu);
  return { us, ms, cpuUs: (user + system) / us.length };
}

interface Figures {
  p50: number;
  p99: number;
  /** Requests per second over the whole run. */
  rps: number;
  /** CPU time per call (µs) of this process (clients and server alike): what other work on the machine cannot inflate. */
  cpu: number;
}

/** Medians over rounds of each round's p50, p99 and throughput. */
function summarise(rounds: Run[]): Figures {
  return {
    p50: median(rounds.map((r) => percentile(r.us, 50))),
    p99: median(rounds.map((r) => percentile(r.us, 99))),
    rps: median(rounds.map((r) => r.us.length / (r.ms / 1000))),
    cpu: median(rounds.map((r) => r.cpuUs)),
  };
}

const perSecond = (rps: number) => `${fmt.count(Math.round(rps))} req/s`;

/** The frames the echo answers: an SDK `tokens.tryGet` request and the agent's reply to it, byte for byte the same sizes. */
function echoFrames(sample: AuthTokens, id: number): { request: Buffer; reply: Buffer } {
  const result = {
    access_token: sample.accessToken,
    token_type: sample.tokenType,
    ...(sample.expiresAtS !== undefined ? { expires_at: sample.expiresAtS } : {}),
    scope: sample.scope,
    ...(sample.idToken ? { id_token: sample.idToken } : {}),
    ...(sample.account ? { account: sample.account } : {}),
  };
  return {
    request: encodeMessage({ jsonrpc: '2.0', id, method: 'tokens.tryGet', params: { scope: APP_SCOPE } }),
    reply: encodeMessage({ jsonrpc: '2.0', id, result }),
  };
}

export async function benchAppTokens(b: AppBenchContext): Promise<void> {
  const { report } = b;
  report.section(`4. Cached tokens.tryGet for apps (SDK, warm connections with proven app keys, ${CACHED.levels.join(' / ')} concurrent clients)`);
  if (b.skipped) {
    report.row('tokens.tryGet', 'skipped', b.skipped);
    return;
  }
  const fleet = await fleetFor(b);
  // Ids on a warm connection have about five digits.
  const { request, reply } = echoFrames(fleet.tokens[0]!, 10_000);
  const echoPath = join(b.tmp, 'app-echo.sock');
  const echoServer = await startEchoServer(echoPath, reply);
  b.cleanup.add('app echo server', () => echoServer.close());
  const echoes: EchoClient[] = [];
  b.cleanup.add('app echo clients', () => echoes.forEach((e) => e.close()));
  for (let i = 0; i < MAX_CLIENTS; i++) echoes.push(await connectEcho(echoPath));

  const rows: Array<{ clients: number; agent: Figures; echo: Figures }> = [];
  for (const clients of CACHED.levels) {
    const calls = CACHED.callsPerRound[clients]!;
    progress(`app tryGet: ${clients} client(s) × ${fmt.count(calls)} calls, ${CACHED.rounds} rounds after a warm-up, agent and echo alternating`);
    const agentCallers = fleet.clients.slice(0, clients).map((c) => () => c.tryGetAuthTokens({ scope: APP_SCOPE }));
    const echoCallers = echoes.slice(0, clients).map((e) => () => e.roundTrip(request));
    const agentRounds: Run[] = [];
    const echoRounds: Run[] = [];
    // Round -1 is the warm-up; which side goes first alternates, so neither always meets a GC left by the other.
    for (let r = -1; r < CACHED.rounds; r++) {
      const order = r % 2 === 0 ? ['agent', 'echo'] : ['echo', 'agent'];
      for (const side of order) {
        const run = await closedLoop(side === 'agent' ? agentCallers : echoCallers, calls);
        if (r >= 0) (side === 'agent' ? agentRounds : echoRounds).push(run);
      }
    }
    rows.push({ clients, agent: summarise(agentRounds), echo: summarise(echoRounds) });
    if (clients === 1) cachedTryGetAtOneClient.set(b, rows.at(-1)!.agent);
  }

  for (const { clients, agent, echo } of rows) {
    const who = `${clients} client${clients === 1 ? '' : 's'}`;
    report.row(`tokens.tryGet, ${who}`, fmt.us(agent.p50), `p99 ${fmt.us(agent.p99)}, ${perSecond(agent.rps)}`, 'p50');
    report.row(`bare Unix-socket echo, ${who}`, fmt.us(echo.p50), `p99 ${fmt.us(echo.p99)}, ${perSecond(echo.rps)}`, 'p50');
    const ratio = agent.p50 / echo.p50;
    report.row('  ratio tryGet / echo', fmt.ratio(ratio), `p99 ${fmt.ratio(agent.p99 / echo.p99)}, throughput ${fmt.ratio(echo.rps / agent.rps)} lower`, 'p50');
    report.row('  CPU per call, tryGet / echo', `${fmt.us(agent.cpu)} / ${fmt.us(echo.cpu)}`, `${fmt.ratio(agent.cpu / echo.cpu)}: client and server work together, whatever the load`, 'median');
    const misses = [
      ...(ratio > TARGET.ratio ? [`p50 ${fmt.ratio(ratio)} of echo`] : []),
      ...(clients === 1 && agent.p99 >= TARGET.p99Us ? [`p99 ${fmt.us(agent.p99)}`] : []),
    ];
    report.row(`  target ≤ ${fmt.ratio(TARGET.ratio)} echo${clients === 1 ? ', p99 < 1 ms' : ''}`, misses.length ? 'not met' : 'met', misses.join(', '));
    report.target({
      figure: `cached tokens.tryGet through the SDK, ${who}, p50 vs a bare socket echo`,
      value: `${fmt.us(agent.p50)} = ${fmt.ratio(ratio)} echo, p99 ${fmt.us(agent.p99)}`,
      baseline: `echo ${fmt.us(echo.p50)} (this run); 3.2-5.7× echo before`,
      target: `≤ ${fmt.ratio(TARGET.ratio)} echo${clients === 1 ? ', p99 < 1 ms' : ''}`,
      met: ratio <= TARGET.ratio && (clients !== 1 || agent.p99 < TARGET.p99Us),
    });
  }
  report.note(`median over ${CACHED.rounds} rounds (after a warm-up) of each round's p50, p99 and throughput, agent and echo alternating by round;`);
  report.note(`each client is its own connection, proven once before timing, calling in a closed loop (the next call when the last answered);`);
  report.note(`the clients belong to ${APPS} apps in turn; request ${request.length} B, reply ${reply.length} B; SDK clients, agent and echo share this process`);
}

/** New connections, each `hello` + `hello.prove`, by an app whose executable hash is already cached. */
const CONNECT = { runs: 40 };

export async function benchAppConnect(b: AppBenchContext): Promise<void> {
  const { report } = b;
  report.section('4b. A new app connection (connect + hello + hello.prove), by an app the agent has seen');
  if (b.skipped) {
    report.row('new app connection', 'skipped', b.skipped);
    return;
  }
  await fleetFor(b);
  const peers = loadPeerCredentials();
  const how = typeof peers === 'string' ? `through ss (a child process per connection): ${peers}` : 'SO_PEERCRED + SO_PEERPIDFD: no child process';
  progress(`app connections: ${CONNECT.runs} new connections, one after another`);
  const appId = 'dev.latchkey.bench.app0';
  const keyPath = join(b.tmp, 'apps', appId, 'latchkey-app-key.json');
  const key = await loadOrCreateAppKey(keyPath);
  /** What the protocol costs: connect, hello, sign the challenge, hello.prove (the key already in memory). */
  const handshake = async () => {
    const rpc = await connectRpc(b.paths.socket);
    try {
      const hello = await rpc.call<AppResults['hello']>('hello', { app_id: appId, name: 'Bench app 0', version: '1.0.0', public_key: key.publicKey });
      const payload = challengePayload({ agentInstance: hello.agent_instance, appId, challenge: hello.challenge });
      await rpc.call('hello.prove', { signature: signChallenge(key.privateKeyPem, payload) });
    } finally {
      await rpc.close();
    }
  };
  const sdk = () => LatchkeyClient.connect({ appId, name: 'Bench app 0', version: '1.0.0', keyPath, socket: b.paths.socket }).then((c) => c.close());
  const ms: number[] = [];
  const sdkMs: number[] = [];
  const lag: number[] = [];
  for (let i = 0; i < CONNECT.runs; i++) {
    // How late a 1 ms timer fires during the handshake: what the (shared) event loop was blocked for.
    let worst = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 1);
      last = now;
    }, 1);
    let start = performance.now();
    await handshake();
    ms.push(since(start));
    clearInterval(probe);
    lag.push(worst);
    start = performance.now();
    await sdk();
    sdkMs.push(since(start));
  }
  const p50 = median(ms);
  report.row('new app connection: connect, hello, hello.prove', fmt.ms(p50), `p90 ${fmt.ms(percentile(ms, 90))}; peer found ${how}`, 'median');
  report.row('  longest event-loop stall during one', fmt.ms(median(lag)), `max ${fmt.ms(Math.max(...lag))} (a 1 ms timer's lateness; client and agent share this process)`, 'median');
  report.row("  the SDK's LatchkeyClient.connect", fmt.ms(median(sdkMs)), 'the same, plus reading the app key file and parsing it', 'median');
  report.target({
    figure: 'a new app connection (hello + hello.prove)',
    value: `${fmt.ms(p50)}, ${typeof peers === 'string' ? 'runs ss' : 'no child process'}`,
    baseline: '≈ 26 ms before (ss forked per connection; the first one hashed the executable)',
    target: '≤ 2 ms, no child process, nothing blocking the event loop',
    met: p50 <= 2 && typeof peers !== 'string',
  });
  report.note(`${CONNECT.runs} connections of one app whose key is proven each time; its executable's hash is cached (keyed by dev, inode, size, mtime, ctime)`);
}

export async function benchAppRefreshStorm(b: AppBenchContext): Promise<void> {
  const { report } = b;
  const total = MAX_CLIENTS * STORM.inFlightPerClient;
  report.section(`5. Refresh storm across apps (${APPS} apps × ${total / APPS} concurrent tokens.tryGet, every app's token expired)`);
  if (b.skipped) {
    report.row('refresh storm across apps', 'skipped', b.skipped);
    return;
  }
  const fleet = await fleetFor(b);
  // Bookkeeping from the section before is written now, not in the middle of a round.
  await b.agent.core.broker.flush();
  const auditEntries = b.agent.core.broker.auditLog().length;
  progress(`app refresh storm: ${STORM.rounds} rounds of ${MAX_CLIENTS} connections × ${STORM.inFlightPerClient} in flight over ${APPS} apps`);
  const refreshes: number[] = [];
  const totals: number[] = [];
  const problems = new Set<string>();
  let previous = fleet.tokens.map((t) => t.accessToken);
  for (let r = 0; r < STORM.rounds; r++) {
    b.expireTokens();
    await b.demo.resetStats();
    const start = performance.now();
    const results = await Promise.allSettled(
      fleet.clients.flatMap((c, i) => Array.from({ length: STORM.inFlightPerClient }, () => c.tryGetAuthTokens({ scope: APP_SCOPE }).then((t) => ({ app: i % APPS, token: t.accessToken })))),
    );
    totals.push(since(start));
    refreshes.push(await b.demo.refreshes());
    const ok = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
    if (ok.length !== total) problems.add(`round ${r + 1}: ${total - ok.length} failed (${asLatchkeyError((results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason).code})`);
    const perApp = Array.from({ length: APPS }, (_, app) => new Set(ok.filter((x) => x.app === app).map((x) => x.token)));
    if (perApp.some((s) => s.size !== 1)) problems.add(`round ${r + 1}: an app got ${Math.max(...perApp.map((s) => s.size))} different tokens`);
    const fresh = perApp.map((s) => [...s][0]);
    if (new Set(fresh).size !== APPS) problems.add(`round ${r + 1}: apps shared a token`);
    if (fresh.some((t, app) => t === previous[app])) problems.add(`round ${r + 1}: an expired token was handed out`);
    previous = fresh.map((t) => t ?? '');
  }
  report.row('refresh requests the provider saw, per round', refreshes.join(' '), `apps ${APPS}: one each expected (tokens are per app)`);
  report.row('total time for all answers', fmt.ms(median(totals)), `min ${fmt.ms(Math.min(...totals))}, max ${fmt.ms(Math.max(...totals))}`, 'median');
  report.row('  time per app', fmt.ms(median(totals) / APPS), "one account's refreshes run one at a time (its refresh token rotates)", 'median');
  report.row('answers', problems.size === 0 ? `${total}/${total} ok` : 'PROBLEMS', problems.size === 0 ? 'one fresh token per app, its own, every round' : [...problems].join('; '));
  report.note(`${STORM.rounds} rounds; the agent's clock jumps past the tokens' expiry before each; one signed-in account, ${APPS} grants;`);
  report.note(`each refresh also writes the vault (the audit log, ${fmt.count(auditEntries)} entries at the start, is its own file)`);
}
