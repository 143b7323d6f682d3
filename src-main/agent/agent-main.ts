/**
 * Starting and stopping the headless agent: one per user (lock file + socket),
 * config loaded and checked, vault opened with its key source, the core
 * started, then the socket served. Any failure before "ready" releases what
 * was taken and is reported in a form the CLI can show (see
 * STARTUP_FAILURE_MARKER).
 */
import { mkdir } from 'node:fs/promises';
import { toWireError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { loadConfig } from '../platform/config.js';
import type { Env, LatchkeyPaths } from '../platform/paths.js';
import { STARTUP_FAILURE_MARKER } from './admin-contract.js';
import { adminMethods } from './admin-methods.js';
import { AgentCore } from './agent-core.js';
import { acquireAgentLock } from './agent-lock.js';
import { openAgentVault, type VaultOpenOptions } from './agent-vault.js';
import { createRpcServer, type RpcLimits, type RpcMethod } from './rpc-server.js';

export interface StartAgentOptions {
  env: Env;
  paths: LatchkeyPaths;
  logger?: Logger;
  /** May the key source ask on this terminal (passphrase)? */
  interactive?: boolean;
  limits?: Partial<RpcLimits>;
  /** Extra socket methods (the broker adds its app methods here). */
  extraMethods?: (core: AgentCore) => Record<string, RpcMethod>;
  now?: () => number;
  vault?: Partial<VaultOpenOptions>;
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
  const lock = await acquireAgentLock(paths.lock);
  try {
    const config = await loadConfig(paths.config);
    const logger = options.logger ?? createLogger({ level: options.env.LATCHKEY_LOG_LEVEL ?? config.logLevel });
    const { vault, keySource } = await openAgentVault(paths, options.env, { interactive: Boolean(options.interactive), logger, ...options.vault });
    const core = new AgentCore({ store: vault, config, paths, logger, keySource, ...(options.now ? { now: options.now } : {}) });
    await core.start();
    const server = createRpcServer({
      handlers: { ...adminMethods(core), ...(options.extraMethods?.(core) ?? {}) },
      logger,
      ...(options.limits ? { limits: options.limits } : {}),
    });
    try {
      await server.listen(paths.socket);
    } catch (err) {
      await core.close();
      throw err;
    }
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => (resolveStopped = r));
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        logger.info('agent stopping');
        await server.close();
        await core.close();
        await lock.release();
        resolveStopped();
      })());
    core.onStopRequested(() => void stop());
    logger.info({ pid: process.pid, socket: paths.socket, keySource: keySource.kind }, 'agent ready');
    return { core, stop, stopped };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/** `latchkey agent --foreground`: runs until stopped by a signal or `latchkey agent stop`. */
export async function runAgentProcess(options: { env: Env; paths: LatchkeyPaths; backgroundChild: boolean }): Promise<void> {
  let agent: RunningAgent;
  try {
    agent = await startAgent({ env: options.env, paths: options.paths, interactive: !options.backgroundChild && Boolean(process.stdin.isTTY) });
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
