/**
 * Child processes and clean-up for `npm run bench`: every resource the bench
 * takes is registered with a {@link Cleanup} and released in reverse order,
 * on success, on failure and on Ctrl-C; every wait has a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export class Cleanup {
  readonly #tasks: Array<{ what: string; run: () => unknown }> = [];

  add(what: string, run: () => unknown): void {
    this.#tasks.push({ what, run });
  }

  /** Runs every task, newest first; a failing task is reported and the rest still run. */
  async runAll(): Promise<void> {
    for (let task = this.#tasks.pop(); task; task = this.#tasks.pop()) {
      try {
        await withDeadline(Promise.resolve(task.run()), 10_000, `clean-up of ${task.what}`);
      } catch (err) {
        process.stderr.write(`bench: clean-up of ${task.what} failed: ${(err as Error).message}\n`);
      }
    }
  }
}

export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Children still running, so a failure or Ctrl-C can kill them. */
const live = new Set<ChildProcess>();

export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once stdio has closed. */
  closed: Promise<number | null>;
  /** What the child wrote so far, each capped to its last 8 KiB. */
  stdout(): string;
  stderr(): string;
}

const KEEP_BYTES = 8 * 1024;

/** Spawns `node <args>` with stdout and stderr captured (bounded). */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Spawned {
  const child = spawn(process.execPath, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString('utf8')).slice(-KEEP_BYTES)));
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-KEEP_BYTES)));
  const closed = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  }).finally(() => live.delete(child));
  return { child, closed, stdout: () => out, stderr: () => err };
}

export interface TimedRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` (with `stdin` written to it, if given) to completion and times it from spawn to stdio closed, as a shell's `$(…)` would wait. */
export async function timeNode(args: string[], env: NodeJS.ProcessEnv, options: { stdin?: string; timeoutMs?: number } = {}): Promise<TimedRun> {
  const { stdin, timeoutMs = 20_000 } = options;
  const start = performance.now();
  const run = spawnNode(args, env, stdin);
  try {
    const code = await withDeadline(run.closed, timeoutMs, `node ${args.join(' ')}`);
    return { ms: performance.now() - start, code, stdout: run.stdout(), stderr: run.stderr() };
  } catch (err) {
    run.child.kill('SIGKILL');
    throw err;
  }
}

export interface MemoryFigures {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  peak: number;
}

/** `/proc/<pid>/<file>` (Linux); undefined where there is no /proc or the process is gone. */
function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** RSS of another process from /proc (Linux); undefined where there is no /proc. */
export function memoryOf(pid: number): MemoryFigures | undefined {
  const status = readProc(pid, 'status');
  if (status === undefined) return undefined;
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * CPU time (user + system, ms) another process has used so far, from
 * /proc/<pid>/stat (Linux; in clock ticks, 100 per second on every Linux
 * Node supports); undefined where there is no /proc. On a busy machine it
 * moves much less than wall time, which waits for a core.
 */
export function cpuTimeOf(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
