/**
 * The process's stdio as the lean commands use it: a cached helper call
 * reads a few lines, writes one answer and exits, and Node's stdio streams
 * cost more start-up time than that (measured with `npm run bench --
 * --helpers`: a pipe on stdin read through `process.stdin` ≈ 3–4 ms, a pipe
 * on stdout or stderr ≈ 0.5–1 ms to create, beside ≈ 30 ms for all of
 * `node -e 0`). So:
 *
 * - stdin is read with blocking reads of fd 0 to its end; a non-blocking
 *   stdin (`EAGAIN`) goes on through `process.stdin`;
 * - stdout is a small Writable over fd 1 (the answer is one short write);
 *   what a non-blocking stdout cannot take at once goes through
 *   `process.stdout`; a failed write fails the command;
 * - stderr is `process.stderr`, created only when something is written to it
 *   or asked of it (a failure, a warning, a sign-in).
 *
 * Only the lean path uses this; the full CLI keeps Node's streams (it asks
 * stdout whether it is a terminal, pipes, prompts).
 */
import { readSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { LatchkeyError } from '../errors.js';
import type { CliIO } from '../cli/output.js';

const MAX_INPUT_BYTES = 64 * 1024;

/**
 * stdout for the lean commands: writes go straight to fd 1. A failed write
 * (disk full, a closed pipe) throws from `write()`, as Node's own stream for
 * stdout on a file does, so the command fails with its message and exit code
 * instead of exiting 0 before the stream's asynchronous 'error' event.
 */
class FdWriter extends Writable {
  constructor(private readonly fd: number) {
    super({ decodeStrings: true });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    let offset = 0;
    try {
      while (offset < chunk.length) offset += writeSync(this.fd, chunk, offset);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      // A non-blocking pipe that is full: Node's stream waits for it to drain.
      process.stdout.write(chunk.subarray(offset), done);
      return;
    }
    done();
  }
}

/** The CliIO of a lean command's process (see above). */
export function leanProcessIO(): CliIO {
  return {
    stdout: new FdWriter(1),
    get stderr() {
      return process.stderr;
    },
    env: process.env,
  };
}

/**
 * The whole of stdin (tools send a few short lines and close it), bounded:
 * anything larger is a mistake.
 */
export async function readInput(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const take = (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_INPUT_BYTES) throw new LatchkeyError('usage', `More than ${MAX_INPUT_BYTES / 1024} KiB on stdin; that is not a credential request.`);
    chunks.push(chunk);
  };
  if (!readToEndSync(0, take)) {
    for await (const chunk of process.stdin) take(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Blocking reads of `fd` until its end; false when it is non-blocking and has nothing more yet (the rest is for the stream). */
function readToEndSync(fd: number, take: (chunk: Buffer) => void): boolean {
  const buffer = Buffer.allocUnsafe(16 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return false;
      // Windows reports the end of a pipe as an error.
      if (code === 'EOF') return true;
      throw err;
    }
    if (n === 0) return true;
    take(Buffer.from(buffer.subarray(0, n)));
  }
}
