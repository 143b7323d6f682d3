/**
 * How the CLI reaches the agent: connect to its socket, and if nobody answers,
 * start one in the background and wait (bounded) until it is ready. When the
 * background agent dies during start-up, its last words are read from the log
 * so the user sees the real reason (a locked keyring, a broken config…).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LatchkeyError, fromWireError, type WireError } from '../errors.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { ADMIN_PARAMS, STARTUP_FAILURE_MARKER, type AdminMethod, type AdminParams, type AdminResults } from '../wire/owner-contract.js';
import { connectRpc, type RpcClient } from '../wire/rpc-client.js';
import { connectOwner } from '../wire/owner-client.js';
import { passphraseForAgent, type Terminal } from './agent-passphrase.js';
import { assertPathsUsable, parseCliInput } from './input-errors.js';

export interface AdminClient {
  call<M extends AdminMethod>(
    method: M,
    params: AdminParams<M>,
    options?: { signal?: AbortSignal; onNotification?: (method: string, params: unknown) => void; timeoutMs?: number },
  ): Promise<AdminResults[M]>;
  close(): void;
}

function wrap(client: RpcClient): AdminClient {
  return {
    call(method, params, options = {}) {
      // Validate locally too: a CLI bug shows up as a clear usage error, not a round trip.
      parseCliInput(ADMIN_PARAMS[method], params);
      const callOptions: Parameters<RpcClient['call']>[2] = {};
      if (options.signal) callOptions.signal = options.signal;
      if (options.timeoutMs) callOptions.timeoutMs = options.timeoutMs;
      if (options.onNotification) callOptions.onNotification = options.onNotification;
      return client.call(method, params ?? {}, callOptions) as never;
    },
    close: () => client.close(),
  };
}

/**
 * The CLI's client: each call's input is checked before anything connects, so
 * bad input is one usage sentence (exit 2) that starts no agent and writes nothing.
 */
export function agentOnDemand(paths: LatchkeyPaths, options: ConnectOptions): AdminClient {
  let connecting: Promise<AdminClient> | undefined;
  return {
    async call(method, params, callOptions) {
      parseCliInput(ADMIN_PARAMS[method], params);
      connecting ??= connectAgent(paths, options);
      return (await connecting).call(method, params, callOptions);
    },
    close: () => void connecting?.then((c) => c.close(), () => undefined),
  };
}

const CLI_ENTRY = fileURLToPath(new URL('./entry.js', import.meta.url));

export interface ConnectOptions {
  autoStart: boolean;
  /** How long to wait for a freshly started agent. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Where to ask for the vault passphrase, if the agent to start needs one. */
  terminal?: Terminal;
}

export async function connectAgent(paths: LatchkeyPaths, options: ConnectOptions): Promise<AdminClient> {
  try {
    return wrap(await connectOwner(paths.socket, paths.ownerKey, { timeoutMs: 30_000 }));
  } catch (err) {
    if (!(err instanceof LatchkeyError) || err.code !== 'agent_unavailable') throw err;
    // No agent here may be because the data directory cannot exist: say that rather than "not running".
    await assertPathsUsable(paths, options.env ?? process.env);
    if (!options.autoStart) throw err;
  }
  await startBackgroundAgent(paths, options);
  return wrap(await connectOwner(paths.socket, paths.ownerKey, { timeoutMs: 30_000 }));
}

/** Starts `latchkey agent --foreground` detached, logging to the data dir, and waits until it answers. */
export async function startBackgroundAgent(paths: LatchkeyPaths, options: Omit<ConnectOptions, 'autoStart'> = {}): Promise<number> {
  await assertPathsUsable(paths, options.env ?? process.env);
  const passphrase = await passphraseForAgent(paths, options.env ?? process.env, options.terminal);
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  const log = await open(paths.log, 'a', 0o600);
  const logStart = (await log.stat()).size;
  const child = spawn(process.execPath, [CLI_ENTRY, 'agent', '--foreground', '--background-child', ...(passphrase === undefined ? [] : ['--passphrase-stdin'])], {
    detached: true,
    stdio: [passphrase === undefined ? 'ignore' : 'pipe', 'ignore', log.fd],
    env: options.env ?? process.env,
  });
  // On a pipe, never in argv or the environment, where other processes could read it.
  if (passphrase !== undefined) child.stdin!.end(`${passphrase}\n`);
  await log.close();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (exited !== null) break;
    try {
      (await connectRpc(paths.socket, { timeoutMs: 2000 })).close();
      return child.pid ?? 0;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const reason = await startupFailure(paths.log, logStart);
  if (reason) throw reason;
  throw new LatchkeyError(
    'agent_unavailable',
    exited !== null
      ? `The Latchkey agent exited during start-up (code ${exited}). See ${paths.log}.`
      : `The Latchkey agent did not become ready in time. See ${paths.log}.`,
  );
}

async function startupFailure(logPath: string, from: number): Promise<LatchkeyError | undefined> {
  const text = (await readFile(logPath, 'utf8').catch(() => '')).slice(from);
  const line = text.split('\n').reverse().find((l) => l.startsWith(STARTUP_FAILURE_MARKER));
  if (!line) return undefined;
  try {
    return fromWireError(JSON.parse(line.slice(STARTUP_FAILURE_MARKER.length)) as WireError);
  } catch {
    return undefined;
  }
}
