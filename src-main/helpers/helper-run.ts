/**
 * What every lean command and credential helper shares: getting a token with
 * a sign-in when one is needed and a person can answer, and turning a failure
 * into one line on stderr and the CLI's exit code.
 *
 * Rules (issue 9): stdout carries only the tool's answer; people text goes to
 * stderr; without a person to answer, a needed sign-in fails at once with a
 * one-line message that names the command to run — it never waits.
 */
import { EXIT_CODES, LatchkeyError, asLatchkeyError, exitCodeFor } from '../errors.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import type { AdminParams, WireToken } from '../wire/owner-contract.js';
import type { CliIO } from '../cli/output.js';
import { ownerToken } from './owner-call.js';

export interface HelperContext {
  io: CliIO;
  paths: LatchkeyPaths;
  /** Whether a person can answer a browser sign-in now (a terminal, kubectl's `interactive`). */
  interactive: boolean;
}

/**
 * A context whose `interactive` is worked out only when a sign-in is needed
 * (default: {@link personAtTerminal}): asking stderr whether it is a terminal
 * creates Node's stderr stream, which a cached call otherwise never needs.
 */
export function helperContext(io: CliIO, paths: LatchkeyPaths, interactive: () => boolean = () => personAtTerminal(io)): HelperContext {
  return {
    io,
    paths,
    get interactive() {
      return interactive();
    },
  };
}

/** A terminal on stderr, and nobody said otherwise (CI, `LATCHKEY_NONINTERACTIVE=1`). */
export function personAtTerminal(io: CliIO): boolean {
  return Boolean(io.stderr.isTTY) && !io.env.CI && io.env.LATCHKEY_NONINTERACTIVE !== '1';
}

/**
 * `admin.token`, and when the account needs a sign-in and a person is there,
 * the browser sign-in (progress on stderr), then the token again.
 */
export function tokenWithSignIn(ctx: HelperContext, params: AdminParams<'admin.token'>): Promise<WireToken> {
  return withSignIn(ctx, params, () => ownerToken(ctx.paths, params, { env: ctx.io.env }));
}

/** Runs `fn`; on `login_required` with a person there, signs in (provider and scope from `selection`) and runs it once more. */
export async function withSignIn<T>(ctx: HelperContext, selection: { provider?: string; scope?: string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof LatchkeyError) || err.code !== 'login_required' || !ctx.interactive) throw err;
    ctx.io.stderr.write(`latchkey: ${err.message}\nSigning in now.\n`);
  }
  // Loaded only now: the sign-in needs the full client and the browser launcher.
  const [{ connectAgent }, { runLogin }] = await Promise.all([import('../cli/agent-connection.js'), import('../cli/login-command.js')]);
  const client = await connectAgent(ctx.paths, { autoStart: true, env: ctx.io.env });
  try {
    // The sign-in's "Signed in as …" is for the person: onto stderr, stdout is the tool's.
    const login: AdminParams<'admin.login'> = { ...(selection.provider ? { provider: selection.provider } : {}), ...(selection.scope ? { scope: selection.scope } : {}) };
    await runLogin(client, { stdout: ctx.io.stderr, stderr: ctx.io.stderr, env: ctx.io.env }, { params: login, noBrowser: false, json: false });
  } finally {
    client.close();
  }
  return fn();
}

/** One line on stderr (stack only with LATCHKEY_DEBUG=1) and the exit code for the error. */
export function reportFailure(io: CliIO, err: unknown, prefix = 'latchkey'): number {
  const e = asLatchkeyError(err);
  io.stderr.write(`${prefix}: ${e.message}\n`);
  if (io.env.LATCHKEY_DEBUG === '1' && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return exitCodeFor(e.code);
}

/** Runs a helper body: its exit code, or the failure's. */
export async function runHelper(io: CliIO, body: () => Promise<number | void>, prefix?: string): Promise<number> {
  try {
    return (await body()) ?? EXIT_CODES.ok;
  } catch (err) {
    return reportFailure(io, err, prefix);
  }
}
