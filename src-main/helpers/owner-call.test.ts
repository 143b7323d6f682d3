/**
 * The lean owner client's failures, against a real Unix socket: no agent, and
 * an agent that accepts the connection but never answers (one deadline covers
 * the connection and the call). The cached path itself runs against the real
 * agent in lean-entry.test.ts and the helpers' tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createTestHome, type TestHome } from '../testing/test-home.js';
import { LatchkeyError } from '../errors.js';
import { ownerCall } from './owner-call.js';

let home: TestHome | undefined;
let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  if (home) await rm(home.dir, { recursive: true, force: true });
  home = undefined;
});

async function failureOf(promise: Promise<unknown>): Promise<LatchkeyError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LatchkeyError);
  return err as LatchkeyError;
}

describe.skipIf(process.platform === 'win32')('ownerCall', () => {
  it('no agent at the socket: agent_unavailable naming it, and none started when autoStart is false', async () => {
    home = await createTestHome('latchkey-owner-call-');
    const err = await failureOf(ownerCall(home.paths, 'admin.token', {}, { env: home.env, autoStart: false }));
    expect(err.code).toBe('agent_unavailable');
    expect(err.message).toBe(`No Latchkey agent is running at ${home.paths.socket}`);
  });

  it('an agent that never answers: a timeout at the deadline, and the connection is closed', async () => {
    home = await createTestHome('latchkey-owner-call-');
    await mkdir(home.paths.home, { recursive: true, mode: 0o700 });
    await writeFile(home.paths.ownerKey, 'k'.repeat(43), { mode: 0o600 });
    const closed: Promise<void>[] = [];
    server = createServer((socket: Socket) => {
      socket.resume();
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    });
    await new Promise<void>((resolve) => server!.listen(home!.paths.socket, resolve));
    const started = Date.now();
    const err = await failureOf(ownerCall(home.paths, 'admin.token', {}, { env: home.env, autoStart: false, timeoutMs: 300 }));
    expect(err.code).toBe('timeout');
    expect(err.message).toBe('admin.token did not finish within 300 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(closed).toHaveLength(1);
    await closed[0];
  });
});
