/**
 * `npm run bench`: the figures to watch, each a median over repeated runs in
 * this one process, printed as a report (no assertions):
 *
 * 1. cached `latchkey token` round trip through the agent socket, beside a
 *    bare Unix-socket echo of the same sizes measured in the same run;
 * 2. whole-process cached helpers (`latchkey token`, git, Docker, kubectl),
 *    each beside bare `node -e 0` in the same run (alone, with more rounds:
 *    `npm run bench -- --helpers`);
 * 3. refresh storm: 500 concurrent requests on an expired token → how many
 *    refreshes the provider saw (must be 1) and the total time;
 * 4. cached `tokens.tryGet` for apps (SDK) with 1, 8 and 64 concurrent
 *    clients, each beside a bare echo with the same concurrency (bench-apps.ts);
 * 5. refresh storm across apps: 8 apps' tokens expired at once → one refresh
 *    per app expected (bench-apps.ts);
 * 6. vault open + decrypt with 1,000 accounts, split into its steps;
 * 7. agent start-to-ready time and RSS.
 *
 * Everything runs on 127.0.0.1 in a temporary LATCHKEY_HOME with the
 * passphrase key source; the real demo provider and Debian Chromium (for the
 * sign-in) are used, both in a child process (bench-provider.ts says why).
 * Whatever was started is stopped and removed, also on failure and Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WireToken } from '../src-main/wire/owner-contract.js';
import { startAgent, type RunningAgent } from '../src-main/agent/agent-main.js';
import { resetVaultAt } from '../src-main/agent/agent-vault.js';
import { encodeMessage } from '../src-main/wire/framing.js';
import { connectOwner } from '../src-main/wire/owner-client.js';
import { connectAgent, type AdminClient } from '../src-main/cli/agent-connection.js';
import { addHost } from '../src-main/cli/host-command.js';
import { DEMO_CLIENT_ID } from '../src-main/demo/demo-provider.js';
import { asLatchkeyError } from '../src-main/errors.js';
import { silentLogger } from '../src-main/log/logger.js';
import { resolvePaths, type LatchkeyPaths } from '../src-main/platform/paths.js';
import { CHROMIUM_PATH, chromiumAvailable } from '../src-main/testing/browser.js';
import { probeKeyring } from '../src-main/testing/keyring-probe.js';
import { signInThroughAgent, startBenchProvider, type BenchProvider } from './bench-provider.js';
import { benchOidcAgent, OIDC_AGENT_CLIENT } from './bench-oidc-agent.js';
import { benchAppConnect, benchAppRefreshStorm, benchAppTokens } from './bench-apps.js';
import { connectEcho, startEchoServer } from './bench-echo.js';
import { Cleanup, cpuTimeOf, killChildren, memoryOf, sleep, spawnNode, timeNode, withDeadline, type MemoryFigures } from './bench-process.js';
import { fmt, median, percentile, progress, Report, since } from './bench-report.js';
import { passphraseSource, timeOpenBeyondKey, timeVaultOpen, writeSyntheticVault } from './bench-vault.js';
import { KeyringKeySource } from '../src-main/vault/keyring-key-source.js';
import { journalPathFor } from '../src-main/vault/vault.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'latchkey.js');
const CLI_MAIN = join(ROOT, 'dist', 'src-main', 'cli', 'main.js');
const GIT_HELPER = join(ROOT, 'bin', 'git-credential-latchkey.js');
const DOCKER_HELPER = join(ROOT, 'bin', 'docker-credential-latchkey.js');
/** Mapped to the bench provider (`latchkey host add`), for the Docker helper. */
const BENCH_REGISTRY = 'registry.bench.test';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const PASSPHRASE = 'latchkey bench passphrase';

const CACHED = { rounds: 5, calls: 2000, warmup: 500 };
const WHOLE_PROCESS = { runs: 15, helpersOnlyRuns: 40, warmup: 2 };
const STORM = { rounds: 5, connections: 20, perConnection: 25 };
const VAULT = { accounts: 1000, runs: 7, updates: 7 };
const AGENT_START = { runs: 5 };
const NO_SIGN_IN = 'no signed-in account (see above)';
/** Each storm round moves the agent's clock this far ahead, past the demo's 1 h access tokens. */
const CLOCK_JUMP_MS = 3 * 3_600_000;

/** What every section has: the report, the clean-up list and the run's temporary directory. */
interface BenchBase {
  report: Report;
  cleanup: Cleanup;
  tmp: string;
  /** The 1,000-account passphrase vault, for the agent start with a full vault (section 6 writes it; section 7 alone writes its own). */
  bigVault?: string;
  /** RSS growth of this process while the in-process agent started; known once sections 1–5 set it up. */
  agentRssDelta?: number;
}

/** What the sections measured through a running agent (1–5) have besides. */
interface Bench extends BenchBase {
  env: NodeJS.ProcessEnv;
  paths: LatchkeyPaths;
  demo: BenchProvider;
  agent: RunningAgent;
  /** Moves the agent's clock (`Date.now() + offset`) ahead, so every cached token is expired without waiting. */
  expireTokens(): void;
  client: AdminClient;
  /** The cached token `latchkey token` should print; undefined when nobody could sign in. */
  token?: WireToken;
  /** Why the sign-in-dependent figures are missing. */
  skipped?: string;
}

/** Every LATCHKEY_HOME made here, so an agent a CLI child started behind our back can be found and stopped. */
const homes: string[] = [];

/**
 * A LATCHKEY_HOME and the minimal environment that points a CLI or agent at
 * it: a 0600 passphrase file, or (given `keyring`) a keyring service of its own.
 */
async function makeHome(dir: string, keyring?: { service: string; bus: string | undefined }): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  homes.push(home);
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, LATCHKEY_HOME: home, LATCHKEY_LOG_LEVEL: 'error' };
  if (keyring) {
    return { ...env, LATCHKEY_KEY_SOURCE: 'keyring', LATCHKEY_KEYRING_SERVICE: keyring.service, DBUS_SESSION_BUS_ADDRESS: keyring.bus };
  }
  const passphraseFile = join(dir, 'passphrase');
  await writeFile(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  return { ...env, LATCHKEY_PASSPHRASE_FILE: passphraseFile };
}

/**
 * A `latchkey token` child that finds no agent starts one in the background
 * (detached, so not ours to wait for). Should that happen, its lock names it.
 */
async function stopStrayAgents(): Promise<void> {
  for (const home of homes) {
    const pid = await readFile(join(home, 'agent.lock'), 'utf8')
      .then((text) => (JSON.parse(text) as { pid?: unknown }).pid)
      .catch(() => undefined);
    if (typeof pid === 'number' && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGTERM');
        process.stderr.write(`bench: stopped a stray agent (pid ${pid}) in ${home}\n`);
      } catch {
        // Already gone.
      }
    }
  }
}

async function setUpBase(report: Report, cleanup: Cleanup): Promise<BenchBase> {
  const tmp = await mkdtemp(join(tmpdir(), 'latchkey-bench-'));
  cleanup.add('temp dir', () => rm(tmp, { recursive: true, force: true }));
  cleanup.add('stray agents', stopStrayAgents);
  return { report, cleanup, tmp };
}

/** The agent the sections 1–5 measure, with the demo provider and (when Chromium can) one signed-in account. */
async function setUp(base: BenchBase): Promise<Bench> {
  const { cleanup, tmp } = base;
  const env = await makeHome(join(tmp, 'agent'));
  const paths = resolvePaths(env);
  progress('starting the demo provider (in a child process, see bench-provider.ts) and the agent');
  const demo = await startBenchProvider({ clients: [OIDC_AGENT_CLIENT] });
  cleanup.add('demo provider', () => demo.close());
  const clock = { offsetMs: 0 };
  const rssBefore = process.memoryUsage().rss;
  // The bench's 64 app clients all live in this one process; the agent's per-process cap (32, against one
  // program hogging the slots) would refuse half of them, so it is raised here and only here.
  const agent = await startAgent({ env, paths, logger: silentLogger(), now: () => Date.now() + clock.offsetMs, limits: { maxConnectionsPerPeer: 128 } });
  base.agentRssDelta = process.memoryUsage().rss - rssBefore;
  cleanup.add('agent', () => agent.stop());
  // Before the agent stops: a `latchkey token` child that lost its agent would start another.
  cleanup.add('child processes', killChildren);
  const client = await connectAgent(paths, { autoStart: false });
  cleanup.add('agent client', () => client.close());
  await client.call('admin.providers.add', { name: 'bench', issuer: demo.issuer, client_id: DEMO_CLIENT_ID });
  await addHost(paths, client, BENCH_REGISTRY, { provider: 'bench' });
  const expireTokens = () => void (clock.offsetMs += CLOCK_JUMP_MS);
  const bench: Bench = { ...base, env, paths, demo, agent, expireTokens, client };
  if (!chromiumAvailable()) {
    bench.skipped = `${CHROMIUM_PATH} is not installed (apt-get install chromium), so nobody can sign in`;
    return bench;
  }
  try {
    progress('signing in one account through Chromium');
    await signInThroughAgent(client, demo, 'bench', 'bench');
    bench.token = await client.call('admin.token', {});
  } catch (err) {
    bench.skipped = `the sign-in through Chromium failed: ${asLatchkeyError(err).message}`;
  }
  return bench;
}

/** Microseconds one call takes. */
async function timeUs(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - start) / 1000;
}

async function benchCachedToken(b: Bench): Promise<void> {
  const { report } = b;
  report.section('1. Cached token round trip through the agent socket (warm connection, sequential)');
  const request = encodeMessage({ jsonrpc: '2.0', id: CACHED.calls, method: 'admin.token', params: {} });
  // Without a token the echo still runs, with a reply the size of a typical one.
  const reply = b.token ? encodeMessage({ jsonrpc: '2.0', id: CACHED.calls, result: b.token }) : Buffer.from(`${'x'.repeat(1200)}\n`);
  const echoServer = await startEchoServer(join(b.tmp, 'echo.sock'), reply);
  b.cleanup.add('echo server', () => echoServer.close());
  const echo = await connectEcho(join(b.tmp, 'echo.sock'));
  b.cleanup.add('echo client', () => echo.close());
  const token = () => b.client.call('admin.token', {});
  const echoCall = () => echo.roundTrip(request);

  progress(`cached token: ${CACHED.rounds} rounds × ${fmt.count(CACHED.calls)} calls, agent and echo alternating`);
  const rounds = { agent: { p50: [] as number[], p99: [] as number[] }, echo: { p50: [] as number[], p99: [] as number[] } };
  // Round -1 is the warm-up. Calls alternate one by one, so both sides see the same machine (a busy neighbour, a GC, a CPU clock change).
  for (let r = -1; r < CACHED.rounds; r++) {
    const agent: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < (r < 0 ? CACHED.warmup : CACHED.calls); i++) {
      if (b.token) agent.push(await timeUs(token));
      bare.push(await timeUs(echoCall));
    }
    if (r < 0) continue;
    if (b.token) {
      rounds.agent.p50.push(percentile(agent, 50));
      rounds.agent.p99.push(percentile(agent, 99));
    }
    rounds.echo.p50.push(percentile(bare, 50));
    rounds.echo.p99.push(percentile(bare, 99));
  }
  const echoP50 = median(rounds.echo.p50);
  const echoP99 = median(rounds.echo.p99);
  if (b.token) {
    const agentP50 = median(rounds.agent.p50);
    const agentP99 = median(rounds.agent.p99);
    report.row('`latchkey token` path (admin.token)', fmt.us(agentP50), `p99 ${fmt.us(agentP99)}`, 'p50');
    report.row('bare Node Unix-socket echo, same sizes', fmt.us(echoP50), `p99 ${fmt.us(echoP99)}`, 'p50');
    report.row('ratio agent / echo', fmt.ratio(agentP50 / echoP50), `p99 ${fmt.ratio(agentP99 / echoP99)}   ← the figure to watch`, 'p50');
  } else {
    report.row('`latchkey token` path (admin.token)', 'skipped', NO_SIGN_IN);
    report.row('bare Node Unix-socket echo, same sizes', fmt.us(echoP50), `p99 ${fmt.us(echoP99)}`, 'p50');
  }
  report.note(
    `median of per-round percentiles, ${CACHED.rounds} rounds × ${fmt.count(CACHED.calls)} calls each, alternating; request ${request.length} B, ` +
      `reply ${reply.length} B; client, agent and echo server share this process`,
  );
}

/** One whole-process command of section 2: what to run, and what its stdout must be given the cached token. */
interface WholeProcessCommand {
  label: string;
  args: string[];
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** The stdout expected with the cached token `t`; commands without it need no sign-in. */
  expect?: (t: WireToken) => string | RegExp;
  /** Compared with `node -e 0` (the helpers the speed rule is about). */
  ratio?: boolean;
}

/**
 * The cached-path commands that tools run as a new process on every
 * operation, beside the floor (`node -e 0`) and the cost of loading the full
 * CLI. Each must stay within 1.5× the floor (issue 9).
 */
function wholeProcessCommands(): WholeProcessCommand[] {
  return [
    { label: 'node -e 0 (bare process start)', args: ['-e', '0'] },
    { label: '`latchkey token`', args: [BIN, 'token'], expect: (t) => `${t.access_token}\n`, ratio: true },
    { label: '`latchkey token --format header`', args: [BIN, 'token', '--format', 'header'], expect: (t) => `Bearer ${t.access_token}\n`, ratio: true },
    {
      label: '`git-credential-latchkey get`',
      args: [GIT_HELPER, '--provider', 'bench', 'get'],
      stdin: 'protocol=https\nhost=git.bench.test\n\n',
      expect: (t) => new RegExp(`^username=latchkey\npassword=${escapeRegExp(t.access_token)}\npassword_expiry_utc=\\d+\n$`),
      ratio: true,
    },
    {
      label: '`docker-credential-latchkey get`',
      args: [DOCKER_HELPER, 'get'],
      stdin: `https://${BENCH_REGISTRY}/v2/`,
      expect: (t) => `${JSON.stringify({ ServerURL: `https://${BENCH_REGISTRY}/v2/`, Username: '<token>', Secret: t.access_token })}\n`,
      ratio: true,
    },
    {
      label: '`latchkey kubectl-credential`',
      args: [BIN, 'kubectl-credential', '--provider', 'bench'],
      env: { KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false } }) },
      expect: (t) => new RegExp(`^\\{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":\\{"token":"${escapeRegExp(t.access_token)}"`),
      ratio: true,
    },
    { label: 'node + import full CLI modules, no call', args: ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(CLI_MAIN).href)})`] },
  ];
}

/** The issue 9 target: a cached helper call, as a whole process, within this many times `node -e 0`. */
const HELPER_TARGET_RATIO = 1.5;

/** Section 2; `helpersOnly` (`--helpers`) leaves out the full CLI's import time and runs more rounds. */
async function benchWholeProcess(b: Bench, helpersOnly = false): Promise<void> {
  const { report } = b;
  report.section('2. Whole-process cached helpers (spawn → exit, agent already running), beside `node -e 0`');
  const runs = helpersOnly ? WHOLE_PROCESS.helpersOnlyRuns : WHOLE_PROCESS.runs;
  const commands = wholeProcessCommands().filter((c, k) => (b.token || !c.expect) && (!helpersOnly || k === 0 || c.ratio));
  const times = commands.map(() => [] as number[]);
  const run = async (c: WholeProcessCommand) => {
    const r = await timeNode(c.args, { ...b.env, ...c.env }, c.stdin === undefined ? {} : { stdin: c.stdin });
    if (r.code !== 0) throw new Error(`${c.label} exited with ${r.code}: ${r.stderr.trim().slice(-500)}`);
    const expected = c.expect?.(b.token!);
    if (expected !== undefined && !(typeof expected === 'string' ? r.stdout === expected : expected.test(r.stdout))) {
      throw new Error(`${c.label} printed something other than its answer with the cached token`);
    }
    return r.ms;
  };
  progress(`whole process: ${runs} runs each of ${commands.length} commands, interleaved`);
  // One round runs every command once, so each helper's run sits next to a `node -e 0` run on the same machine.
  for (let i = 0; i < WHOLE_PROCESS.warmup + runs; i++) {
    for (const [k, c] of commands.entries()) {
      const ms = await run(c);
      if (i >= WHOLE_PROCESS.warmup) times[k]!.push(ms);
    }
  }
  const floor = times[0]!;
  for (const [k, c] of commands.entries()) {
    const t = times[k]!;
    report.row(c.label, fmt.ms(median(t)), `p90 ${fmt.ms(percentile(t, 90))}`, 'median');
    if (!c.ratio) continue;
    const ratio = median(t) / median(floor);
    // Each round's helper run over that round's floor run: steadier than the medians' ratio when the load changes during the bench.
    const paired = median(t.map((ms, i) => ms / floor[i]!));
    report.row('  ratio to node -e 0', fmt.ratio(ratio), `per round ${fmt.ratio(paired)}; p90 ${fmt.ratio(percentile(t, 90) / percentile(floor, 90))}   ← must stay ≤ ${fmt.ratio(HELPER_TARGET_RATIO)}`, 'median');
    report.target({
      figure: `cached ${c.label} as a whole process`,
      value: `${fmt.ms(median(t))}, ${fmt.ratio(ratio)}`,
      baseline: `node -e 0 ${fmt.ms(median(floor))} (this run); 1.45–1.58× before the CommonJS launchers, 2.2–4.8× before the lean path`,
      target: `≤ ${fmt.ratio(HELPER_TARGET_RATIO)} node -e 0`,
      met: ratio <= HELPER_TARGET_RATIO,
    });
  }
  if (!b.token) {
    report.row('cached helpers', 'skipped', NO_SIGN_IN);
    for (const c of wholeProcessCommands().filter((x) => x.ratio)) {
      report.target({ figure: `cached ${c.label} as a whole process`, value: 'skipped', baseline: '', target: `≤ ${fmt.ratio(HELPER_TARGET_RATIO)} node -e 0`, met: undefined, note: NO_SIGN_IN });
    }
  }
  report.note(`${runs} runs each after ${WHOLE_PROCESS.warmup} warm-ups, interleaved; spawn until stdout/stderr closed, as \`$(latchkey token)\` waits`);
}

async function benchRefreshStorm(b: Bench): Promise<void> {
  const { report } = b;
  const total = STORM.connections * STORM.perConnection;
  report.section(`3. Refresh storm (${total} concurrent admin.token on an expired token)`);
  if (!b.token) {
    report.row('refresh storm', 'skipped', NO_SIGN_IN);
    return;
  }
  const clients = await Promise.all(Array.from({ length: STORM.connections }, () => connectOwner(b.paths.socket, b.paths.ownerKey)));
  b.cleanup.add('storm clients', () => Promise.all(clients.map((c) => c.close())));
  progress(`refresh storm: ${STORM.rounds} rounds of ${STORM.connections} connections × ${STORM.perConnection} in flight`);
  const refreshes: number[] = [];
  const totals: number[] = [];
  const problems = new Set<string>();
  for (let r = 0; r < STORM.rounds; r++) {
    b.expireTokens();
    await b.demo.resetStats();
    const start = performance.now();
    const results = await Promise.allSettled(
      clients.flatMap((c) => Array.from({ length: STORM.perConnection }, () => c.call<WireToken>('admin.token', {}))),
    );
    totals.push(since(start));
    refreshes.push(await b.demo.refreshes());
    const ok = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value.access_token] : []));
    if (ok.length !== total) problems.add(`round ${r + 1}: ${total - ok.length} failed (${asLatchkeyError((results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason).code})`);
    if (new Set(ok).size > 1) problems.add(`round ${r + 1}: ${new Set(ok).size} different tokens handed out`);
    if (ok[0] === b.token.access_token) problems.add(`round ${r + 1}: the expired token was handed out`);
  }
  report.row('refresh requests the provider saw, per round', refreshes.join(' '), 'must be 1 each');
  report.row('total time for all answers', fmt.ms(median(totals)), `min ${fmt.ms(Math.min(...totals))}, max ${fmt.ms(Math.max(...totals))}`, 'median');
  report.row('answers', problems.size === 0 ? `${total}/${total} ok` : 'PROBLEMS', problems.size === 0 ? 'one fresh token for every caller, every round' : [...problems].join('; '));
  report.note(`${STORM.rounds} rounds; the agent's clock jumps ${CLOCK_JUMP_MS / 3_600_000} h before each, so the cached token is really expired;`);
  report.note('the time includes the token endpoint call, ID token checks and the durable vault write of the rotated refresh token');
}

async function benchVault(b: BenchBase): Promise<void> {
  const { report } = b;
  report.section(`6. Vault open + decrypt with ${fmt.count(VAULT.accounts)} accounts (passphrase key source, default scrypt cost)`);
  const dir = join(b.tmp, 'vault');
  await mkdir(dir, { mode: 0o700 });
  const path = join(dir, 'vault.json');
  progress(`vault: writing ${fmt.count(VAULT.accounts)} accounts, then ${VAULT.runs} opens`);
  const written = await writeSyntheticVault(path, passphraseSource(PASSPHRASE), VAULT.accounts, VAULT.updates);
  const t = await timeVaultOpen(path, PASSPHRASE, VAULT.runs);
  b.bigVault = path;
  const parts = [
    ['read file', t.read],
    ['envelope parse (JSON + header schema)', t.envelope],
    ['key derivation (scrypt N=2^15 r=8 p=1)', t.kdf],
    ['AES-256-GCM decrypt', t.decrypt],
    ['JSON.parse of the document', t.json],
    ['document schema (zod), when a full parse is due', t.schema],
  ] as const;
  const open = median(t.open);
  report.row('vault file size', fmt.kib(written.fileBytes), `${fmt.kib(written.plaintextBytes)} of JSON inside`);
  report.row('Vault.open', fmt.ms(open), `min ${fmt.ms(Math.min(...t.open))}, max ${fmt.ms(Math.max(...t.open))}`, 'median');
  for (const [label, v] of parts) report.row(`  ${label}`, fmt.ms(median(v)), `${((median(v) / open) * 100).toFixed(0)}%`);
  report.row('KDF vs decrypt+parse', `${fmt.ms(median(t.kdf))} / ${fmt.ms(open - median(t.kdf))}`, 'scrypt alone / everything else in Vault.open');
  const update = median(written.updateMs);
  const rewrite = median(written.rewriteMs);
  report.row('vault write, one account changed', fmt.ms(update), 'what a refresh pays to persist a rotated token: one journal record + fdatasync', 'median');
  report.row('vault write, whole document', fmt.ms(rewrite), 'what every refresh paid before the journal; now only when the journal is folded', 'median');
  report.target({
    figure: `one refresh's durable write, ${fmt.count(VAULT.accounts)} accounts`,
    value: fmt.ms(update),
    baseline: `${fmt.ms(rewrite)} (whole-vault rewrite, this run; ≈ 304 ms before)`,
    target: '≤ 20 ms, atomic and crash-safe',
    met: update <= 20,
  });
  report.note(`${VAULT.runs} runs; the steps are timed one by one with the code Vault.open uses, so they need not add up to it exactly`);
  report.note('(Vault.open also checks its directory and deep-freezes the document, and skips the schema for a file it wrote under the same rules); each account has a refresh token, an ID token and two access tokens');
}

/** Section 7 run without section 6: the 1,000-account passphrase vault, written but not timed. */
async function writeBigVault(b: BenchBase): Promise<string> {
  const dir = join(b.tmp, 'vault');
  await mkdir(dir, { mode: 0o700 });
  const path = join(dir, 'vault.json');
  progress(`vault: writing ${fmt.count(VAULT.accounts)} accounts for the agent start`);
  await writeSyntheticVault(path, passphraseSource(PASSPHRASE), VAULT.accounts, 0);
  return (b.bigVault = path);
}

/** The 1,000-account vault again, this time with its key in the OS keyring: open beyond the key source's own cost. */
async function benchKeyringVault(b: BenchBase, env: NodeJS.ProcessEnv): Promise<void> {
  const { report } = b;
  const service = env.LATCHKEY_KEYRING_SERVICE!;
  const path = join(env.LATCHKEY_HOME!, 'vault.json');
  progress(`vault: ${fmt.count(VAULT.accounts)} accounts with the key in the OS keyring, ${VAULT.runs} opens`);
  await writeSyntheticVault(path, new KeyringKeySource({ service }), VAULT.accounts, 0);
  const t = await timeOpenBeyondKey(path, new KeyringKeySource({ service }), VAULT.runs);
  const beyond = median(t.open.map((ms, i) => ms - t.key[i]!));
  report.row(`Vault.open, OS keyring, ${fmt.count(VAULT.accounts)} accounts`, fmt.ms(median(t.open)), `of which the keyring lookup ${fmt.ms(median(t.key))}`, 'median');
  report.row('  beyond the key source', fmt.ms(beyond), 'read, decrypt, JSON, freeze (a file written under the same rules skips the schema)', 'median');
  report.row('  CPU time of the whole open', fmt.ms(median(t.cpu)), 'this process, user + system (the keyring lookup mostly waits on D-Bus)', 'median');
  report.target({
    figure: `vault open, ${fmt.count(VAULT.accounts)} accounts, keyring key source (beyond the key source)`,
    value: fmt.ms(beyond),
    baseline: `the keyring lookup itself ${fmt.ms(median(t.key))} (passphrase before: 676 ms, of which scrypt 498 ms)`,
    target: '≤ 50 ms beyond the key source',
    met: beyond <= 50,
  });
}

/**
 * What bounds an agent start on this machine, in the same run: a bare Node
 * process, one that loads only the keyring addon, and one that loads the
 * agent bundle as the agent does (with its code cache) without starting
 * anything (spawn → exit each).
 */
async function benchStartFloor(b: BenchBase): Promise<void> {
  const floors = [
    { label: 'floor: node -e 0', code: '0' },
    // Required, as the bundle does: an ES import of the CommonJS package would add Node's export-finding parser.
    { label: 'floor: node + the keyring addon (load only)', code: `import { createRequire } from 'node:module'; createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('@napi-rs/keyring');` },
    // Loaded as the agent loads it (cli/agent-launch.ts): with its code cache; prints whether V8 took the cache.
    {
      label: 'floor: node + the agent bundle (load only)',
      code: `const { loadBundle } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src-main', 'cli', 'agent-bundle-loader.js')).href)}); process.stdout.write('code cache ' + loadBundle(${JSON.stringify(join(ROOT, 'dist', 'agent-bundle', 'latchkey-agent.js'))}).codeCache);`,
    },
  ];
  progress(`start floor: ${AGENT_START.runs} runs each of ${floors.length} commands, interleaved`);
  const times = floors.map(() => [] as number[]);
  /** What each command printed last (the bundle: whether its code cache was used). */
  const said = floors.map(() => '');
  for (let i = 0; i < AGENT_START.runs + 1; i++) {
    for (const [k, f] of floors.entries()) {
      const r = await timeNode(['--input-type=module', '-e', f.code], {});
      if (r.code !== 0) throw new Error(`${f.label} exited with ${r.code}: ${r.stderr.trim().slice(-300)}`);
      if (i > 0) times[k]!.push(r.ms);
      said[k] = r.stdout.trim();
    }
  }
  for (const [k, f] of floors.entries()) b.report.row(f.label, fmt.ms(median(times[k]!)), [`p90 ${fmt.ms(percentile(times[k]!, 90))}`, said[k]].filter(Boolean).join(', '), 'median');
}

/** Spawns `latchkey agent --foreground`, times it until `admin.status` answers on the socket, reads its RSS, stops it. */
interface AgentStart {
  ms: number;
  /** CPU time the agent used until it answered. */
  cpuMs?: number;
  memory?: MemoryFigures;
}

async function timeAgentStart(env: NodeJS.ProcessEnv, socket: string, ownerKeyPath: string): Promise<AgentStart> {
  const start = performance.now();
  const run = spawnNode([BIN, 'agent', '--foreground'], env);
  let exited = false;
  void run.closed.then(() => (exited = true));
  try {
    for (;;) {
      if (exited) throw new Error(`the agent exited during start-up: ${run.stderr().trim().slice(-500)}`);
      if (since(start) > 20_000) throw new Error('the agent did not answer admin.status within 20 s');
      const client = await connectOwner(socket, ownerKeyPath, { timeoutMs: 1000 }).catch(() => undefined);
      if (client) {
        try {
          await client.call('admin.status', {});
          const ms = since(start);
          const memory = memoryOf(run.child.pid!);
          const cpuMs = cpuTimeOf(run.child.pid!);
          await client.call('admin.stop', {});
          await withDeadline(run.closed, 10_000, 'the agent stopping');
          return { ms, ...(memory ? { memory } : {}), ...(cpuMs === undefined ? {} : { cpuMs }) };
        } finally {
          await client.close();
        }
      }
      await sleep(5);
    }
  } finally {
    if (!exited) run.child.kill('SIGKILL');
  }
}

interface StartVariant {
  label: string;
  env: NodeJS.ProcessEnv;
}

/** Which homes to start an agent in: passphrase with an empty and a full vault, and the OS keyring when one answers. */
async function startVariants(b: BenchBase): Promise<{ variants: StartVariant[]; keyringSkipped?: string }> {
  const variants: StartVariant[] = [{ label: 'passphrase, empty vault', env: await makeHome(join(b.tmp, 'start-empty')) }];
  const bigVault = b.bigVault ?? (await writeBigVault(b));
  const full = await makeHome(join(b.tmp, 'start-full'));
  await copyFile(bigVault, join(full.LATCHKEY_HOME!, 'vault.json'));
  await copyFile(journalPathFor(bigVault), journalPathFor(join(full.LATCHKEY_HOME!, 'vault.json'))).catch(() => undefined);
  variants.push({ label: `passphrase, ${fmt.count(VAULT.accounts)} accounts`, env: full });
  const bus = process.env.DBUS_SESSION_BUS_ADDRESS;
  if (process.platform === 'linux' && !bus) {
    return { variants, keyringSkipped: 'no session bus (`npm run bench` starts a private one with gnome-keyring)' };
  }
  const probe = await probeKeyring();
  if (!probe.ok) return { variants, keyringSkipped: probe.reason };
  // A service name of its own: never the user's real "latchkey" entry, and removed afterwards.
  const env = await makeHome(join(b.tmp, 'start-keyring'), { service: `latchkey-bench-${randomBytes(6).toString('hex')}`, bus });
  b.cleanup.add('bench keyring entry', () => resetVaultAt(resolvePaths(env), env));
  variants.push({ label: 'OS keyring, empty vault', env });
  const fullKeyring = await makeHome(join(b.tmp, 'start-keyring-full'), { service: `latchkey-bench-${randomBytes(6).toString('hex')}`, bus });
  b.cleanup.add('bench keyring entry (1,000 accounts)', () => resetVaultAt(resolvePaths(fullKeyring), fullKeyring));
  await benchKeyringVault(b, fullKeyring);
  variants.push({ label: `OS keyring, ${fmt.count(VAULT.accounts)} accounts`, env: fullKeyring });
  return { variants };
}

async function benchAgentStart(b: BenchBase): Promise<void> {
  const { report } = b;
  report.section('7. Agent start-to-ready (`latchkey agent --foreground` until admin.status answers)');
  const { variants, keyringSkipped } = await startVariants(b);
  await benchStartFloor(b);
  progress(`agent start: ${AGENT_START.runs} runs for each of ${variants.length} homes, after one warm-up each`);
  const starts = new Map<string, { ms: number; rss?: number }>();
  for (const { label, env } of variants) {
    const { socket, ownerKey } = resolvePaths(env);
    // The first start of an empty home creates its vault and key: shown, but not part of the median.
    const first = await timeAgentStart(env, socket, ownerKey);
    if (label.includes('empty')) report.row(`first start, ${label} (creates it)`, fmt.ms(first.ms));
    const runs: AgentStart[] = [];
    for (let i = 0; i < AGENT_START.runs; i++) runs.push(await timeAgentStart(env, socket, ownerKey));
    const ms = runs.map((r) => r.ms);
    const rss = runs.flatMap((r) => (r.memory ? [r.memory.rss] : []));
    const peak = runs.flatMap((r) => (r.memory ? [r.memory.peak] : []));
    const cpu = runs.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs]));
    report.row(`start to ready, ${label}`, fmt.ms(median(ms)), `min ${fmt.ms(Math.min(...ms))}, max ${fmt.ms(Math.max(...ms))}`, 'median');
    if (cpu.length > 0) report.row('  CPU time to ready', fmt.ms(median(cpu)), 'user + system of the agent process (waiting for a core not counted)', 'median');
    starts.set(label, { ms: median(ms), ...(rss.length > 0 ? { rss: median(rss) } : {}) });
    if (rss.length > 0) report.row('  RSS at ready', fmt.mib(median(rss)), `peak so far (VmHWM) ${fmt.mib(median(peak))}`);
    else report.row('  RSS at ready', 'n/a', 'no /proc on this system');
  }
  if (keyringSkipped) report.row('start to ready, OS keyring', 'skipped', keyringSkipped);
  const keyring = starts.get(`OS keyring, ${fmt.count(VAULT.accounts)} accounts`);
  const passphrase = starts.get(`passphrase, ${fmt.count(VAULT.accounts)} accounts`);
  const empty = starts.get('passphrase, empty vault');
  report.target({
    figure: `agent start to ready, ${fmt.count(VAULT.accounts)} accounts (OS keyring)`,
    value: keyring ? `${fmt.ms(keyring.ms)}, RSS ${keyring.rss === undefined ? 'n/a' : fmt.mib(keyring.rss)}` : 'skipped',
    baseline: `empty vault ${empty ? fmt.ms(empty.ms) : 'n/a'}; passphrase (scrypt) ${passphrase ? fmt.ms(passphrase.ms) : 'n/a'}; ≈ 1.5 s, 96 MiB before`,
    target: '≤ 300 ms, RSS ≤ 80 MiB',
    met: keyring ? keyring.ms <= 300 && (keyring.rss ?? 0) <= 80 * 1024 * 1024 : undefined,
    ...(keyringSkipped ? { note: keyringSkipped } : {}),
  });
  if (b.agentRssDelta !== undefined) report.row('in-process agent, RSS growth at start', fmt.mib(b.agentRssDelta), 'modules were already loaded; vault + core + socket only');
  report.note(`${AGENT_START.runs} runs each; spawn → socket answers admin.status (polled every 5 ms); stopped with admin.stop`);
}

const AGENT_SECTIONS = ['1', '2', '3', '4', '4b', '4c', '5'] as const;
const SECTIONS = [...AGENT_SECTIONS, '6', '7'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * `--only 6,7`: just those sections (numbered as printed), so
 * a change to one figure is checked in seconds. Sections 6 and 7 need no
 * running agent, demo provider or Chromium. Default: all.
 */
function selectedSections(argv: readonly string[]): ReadonlySet<Section> {
  const at = argv.indexOf('--only');
  if (at < 0) return new Set(SECTIONS);
  const wanted = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = wanted.filter((w) => !(SECTIONS as readonly string[]).includes(w));
  if (wanted.length === 0 || unknown.length > 0) throw new Error(`--only takes section numbers out of ${SECTIONS.join(',')} (got "${argv[at + 1] ?? ''}")`);
  return new Set(wanted as Section[]);
}

/** Runs one section; a failure is printed in place and the other sections still run. */
async function attempt(report: Report, section: () => Promise<void>): Promise<void> {
  try {
    await section();
  } catch (err) {
    report.row('FAILED', '', asLatchkeyError(err).message);
    process.exitCode = 1;
  }
}

async function main(): Promise<void> {
  // `npm run bench -- --helpers`: only section 2, the whole-process helpers beside `node -e 0`, with more rounds.
  const helpersOnly = process.argv.includes('--helpers');
  const started = performance.now();
  const report = new Report();
  const cleanup = new Cleanup();
  const abandon = (code: number) => void cleanup.runAll().finally(() => process.exit(code));
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) process.once(signal, () => abandon(code));
  process.once('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    abandon(1);
  });
  // `npm run bench | head` closes stdout early: keep going so clean-up still runs.
  process.stdout.on('error', () => undefined);
  try {
    const only: ReadonlySet<Section> = helpersOnly ? new Set<Section>(['2']) : selectedSections(process.argv.slice(2));
    report.header();
    const base = await setUpBase(report, cleanup);
    if (AGENT_SECTIONS.some((s) => only.has(s))) {
      const b = await setUp(base);
      if (b.skipped) {
        report.note('');
        report.note(`Sign-in-dependent figures are skipped: ${b.skipped}.`);
      }
      const sections: Array<[Section, (b: Bench) => Promise<void>]> = [
        ['1', benchCachedToken],
        ['2', (b) => benchWholeProcess(b, helpersOnly)],
        ['3', benchRefreshStorm],
        ['4', benchAppTokens],
        ['4b', benchAppConnect],
        ['4c', benchOidcAgent],
        ['5', benchAppRefreshStorm],
      ];
      for (const [section, run] of sections) if (only.has(section)) await attempt(report, () => run(b));
    }
    if (only.has('6')) await attempt(report, () => benchVault(base));
    if (only.has('7')) await attempt(report, () => benchAgentStart(base));
    report.targets();
    report.footer(since(started));
  } catch (err) {
    process.stderr.write(`bench: ${asLatchkeyError(err).message}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup.runAll();
  }
  // Keep-alive sockets of the HTTP client must not hold a finished report open.
  process.exit();
}

await main();
