/**
 * Starting and stopping the headless agent: one per user (lock file + socket),
 * config loaded and checked, vault opened with its key source, the core
 * started, then the socket served. Any failure before "ready" releases what
 * was taken and is reported in a form the CLI can show (see
 * STARTUP_FAILURE_MARKER).
 */
import { mkdir } from 'node:fs/promises';
import { toWireError } from '../errors.js';
import { createLogger, textDestination, type Logger } from '../log/logger.js';

export type LogFormat = 'text' | 'json';
import { loadConfig } from '../platform/config.js';
import type { Env, LatchkeyPaths } from '../platform/paths.js';
import { STARTUP_FAILURE_MARKER } from '../wire/owner-contract.js';
import { adminMethods } from './admin-methods.js';
import { AgentCore } from './agent-core.js';
import { acquireAgentLock } from './agent-lock.js';
import { removeStaleTempFiles } from '../platform/file-safety.js';
import { connectRpc } from '../wire/rpc-client.js';
import { VERSION_METHOD } from '../wire/json-rpc.js';
import { openAgentVault, type VaultOpenOptions } from './agent-vault.js';
import { createRpcServer, type RpcLimits, type RpcMethod } from './rpc-server.js';
import { removeOwnerKey, writeOwnerKey } from './owner-key.js';
import { appMethods } from './app-methods.js';
import { createAgentInstanceId } from '../broker/app-identity.js';
import { ChainPrompter, type ConsentPrompter } from '../broker/consent-prompter.js';
import { detectDialogTool, DialogPrompter } from '../broker/dialog-prompter.js';
import { createPeerIdentifier } from '../broker/peer-process.js';
import type { PeerLookup } from '../platform/peer-lookup.js';
import { policyStatus, PolicyFilePrompter } from '../broker/policy-prompter.js';
import { TerminalPrompter } from '../broker/terminal-prompter.js';
import type { BrowserLauncher } from '../engine/browser-launcher.js';

export interface StartAgentOptions {
  env: Env;
  paths: LatchkeyPaths;
  logger?: Logger;
  /** `text` for a person at a terminal; default `json` (the log file, pipes). */
  logFormat?: LogFormat;
  /** May the key source ask on this terminal (passphrase)? */
  interactive?: boolean;
  limits?: Partial<RpcLimits>;
  /** Extra socket methods (the broker adds its app methods here). */
  extraMethods?: (core: AgentCore) => Record<string, RpcMethod>;
  now?: () => number;
  vault?: Partial<VaultOpenOptions>;
  /** Who answers app consent prompts; default: the policy file, then this terminal (if interactive), then a desktop dialog. */
  prompter?: ConsentPrompter;
  /** Opens sign-in pages the agent starts for apps; default the system browser. */
  browser?: BrowserLauncher;
  /** An unanswered consent prompt becomes a denial after this long; default 60 s. */
  promptTimeoutMs?: number;
  /** Tests: how the peer process of a connection is found (default: Linux `ss` + /proc). */
  identifyPeer?: PeerLookup['identify'];
  /** Where this code was loaded from, for the debug log. */
  origin?: AgentCodeOrigin;
}

/** The agent bundle this process runs from and whether its code cache was used (cli/agent-bundle-loader.ts). */
export interface AgentCodeOrigin {
  bundle: string;
  codeCache: string;
}

export interface RunningAgent {
  core: AgentCore;
  /** Stops serving, closes the core and releases the lock; idempotent. */
  stop(): Promise<void>;
  /** Resolves once the agent has stopped, for whatever reason. */
  readonly stopped: Promise<void>;
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { paths } = options;
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  const lock = await acquireAgentLock(paths.lock, { agentAnswers: () => agentAnswersAt(paths.socket) });
  try {
    const config = await loadConfig(paths.config);
    const logger =
      options.logger ??
      createLogger({ level: options.env.LATCHKEY_LOG_LEVEL ?? config.logLevel, ...(options.logFormat === 'text' ? { destination: textDestination(process.stderr) } : {}) });
    if (options.origin) logger.debug(options.origin, 'agent code loaded from the bundle');
    const { vault, keySource } = await openAgentVault(paths, options.env, { interactive: Boolean(options.interactive), logger, ...options.vault });
    // The vault sweeps its own; these are the other files written by atomic replace (a temp file
    // beside the target, then a rename) whose writer may have died between the two.
    const swept = await removeStaleTempFiles(paths.audit, paths.ownerKey, paths.hosts);
    if (swept.length > 0) logger.info({ removed: swept.length }, 'removed temp files left by interrupted writes');
    // Checked now so a broken policy file is reported at once; it never stops the agent (`latchkey status` shows it too).
    const policy = await policyStatus(paths.policy);
    if (policy.state === 'ignored') logger.warn({ path: policy.path, error: policy.error }, 'the policy file is invalid and is ignored: apps will be asked about');
    const prompter = options.prompter ?? defaultPrompter(paths, options.env, Boolean(options.interactive), logger);
    const core = new AgentCore({
      store: vault,
      config,
      paths,
      logger,
      keySource,
      prompter,
      ...(options.browser ? { browser: options.browser } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.promptTimeoutMs !== undefined ? { promptTimeoutMs: options.promptTimeoutMs } : {}),
    });
    await core.start();
    const ownerKey = await writeOwnerKey(paths.ownerKey);
    const peers = createPeerIdentifier({ logger });
    const server = createRpcServer({
      handlers: {
        ...adminMethods(core, ownerKey),
        ...appMethods({ broker: core.broker, agentInstance: createAgentInstanceId(), logger }),
        ...(options.extraMethods?.(core) ?? {}),
      },
      logger,
      identifyPeer: options.identifyPeer ?? ((socket) => peers.identify(socket)),
      requireProof: true,
      ...(options.limits ? { limits: options.limits } : {}),
    });
    try {
      await server.listen(paths.socket);
    } catch (err) {
      await removeOwnerKey(paths.ownerKey, ownerKey);
      await core.close();
      await vault.close();
      throw err;
    }
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        logger.info('agent stopping');
        await server.close();
        await removeOwnerKey(paths.ownerKey, ownerKey).catch(() => undefined);
        await core.close();
        await vault.close();
        await lock.release();
        resolveStopped();
      })());
    core.onStopRequested(() => void stop());
    logger.info({ pid: process.pid, socket: paths.socket, keySource: keySource.kind, consent: prompter.name }, 'agent ready');
    return { core, stop, stopped };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * Consent in the headless agent: the policy file first (servers), then the
 * agent's own terminal when it runs in the foreground, then a desktop dialog
 * when there is a display. Never a socket client.
 */
export function defaultPrompter(paths: LatchkeyPaths, env: Env, interactive: boolean, logger?: Logger): ConsentPrompter {
  const chain: ConsentPrompter[] = [new PolicyFilePrompter(paths.policy, logger)];
  if (interactive && process.stdin.isTTY) chain.push(new TerminalPrompter(process.stdin, process.stderr));
  const dialog = env.DISPLAY || env.WAYLAND_DISPLAY ? detectDialogTool(env) : undefined;
  if (dialog) chain.push(new DialogPrompter(dialog, env));
  return new ChainPrompter(chain);
}

/** `latchkey agent --foreground`: runs until stopped by a signal or `latchkey agent stop`. */
export async function runAgentProcess(options: {
  env: Env;
  paths: LatchkeyPaths;
  backgroundChild: boolean;
  /** The vault passphrase the CLI asked for on its terminal (see cli/agent-passphrase.ts). */
  passphrase?: () => Promise<string>;
  /** Default: text on a terminal, JSON otherwise (the background agent's log file). */
  logFormat?: LogFormat;
  origin?: AgentCodeOrigin;
}): Promise<void> {
  let agent: RunningAgent;
  try {
    agent = await startAgent({
      env: options.env,
      paths: options.paths,
      interactive: !options.backgroundChild && Boolean(process.stdin.isTTY),
      logFormat: options.logFormat ?? (!options.backgroundChild && process.stderr.isTTY ? 'text' : 'json'),
      ...(options.passphrase ? { vault: { passphrase: options.passphrase } } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    });
  } catch (err) {
    // The CLI that started us in the background reads this line from the log to explain the failure.
    if (options.backgroundChild) process.stderr.write(`${STARTUP_FAILURE_MARKER}${JSON.stringify(toWireError(err))}\n`);
    throw err;
  }
  if (!options.backgroundChild) {
    process.stderr.write(`Latchkey agent ready (pid ${process.pid}) on ${options.paths.socket}. Ctrl-C stops it.\n`);
  }
  const onSignal = () => void agent.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await agent.stopped;
}

/** How long the agent lock waits for a running agent to answer `rpc.version`. */
const LIVENESS_PROBE_MS = 1000;

/**
 * Whether an agent answers `rpc.version` at `path`. An answer, not a connect:
 * a process killed a moment ago can still have its listening socket accept
 * into the backlog while its threads are torn down (the pid is already a
 * zombie), but it never replies.
 */
async function agentAnswersAt(path: string): Promise<boolean> {
  try {
    const client = await connectRpc(path, { timeoutMs: LIVENESS_PROBE_MS });
    try {
      await client.call(VERSION_METHOD);
      return true;
    } finally {
      client.close();
    }
  } catch {
    return false;
  }
}
