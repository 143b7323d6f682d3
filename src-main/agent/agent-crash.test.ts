/**
 * `kill -9` of the agent, then at once the next start (what the CLI's next
 * command does when it finds no agent): it must work, even while the killed
 * agent is still a zombie because its parent has not reaped it yet — as in
 * containers whose init reaps slowly. The parent here is `sleep`, which never
 * reaps, so the zombie lasts for the whole test.
 *
 * Regression: the lock judged liveness by `kill(pid, 0)`, which succeeds for a
 * zombie, so the next start failed with "agent already running (pid N)".
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHome, type TestHome } from '../testing/test-home.js';
import { sleep } from '../testing/rpc-testing.js';
import { startAgent } from './agent-main.js';
import { connectOwner } from '../wire/owner-client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../cli/entry.ts', import.meta.url));
const linux = process.platform === 'linux';
if (!linux) console.warn('SKIP agent crash test: zombies are looked up in /proc, which only Linux has.');

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

/** Starts an agent as the child of a `sleep` that never reaps it; resolves with its pid once it is ready. */
async function agentUnderNonReapingParent(home: TestHome): Promise<{ pid: number; parent: ChildProcessByStdio<null, Readable, Readable> }> {
  const parent = spawn('/bin/sh', ['-c', '"$0" --import tsx "$1" agent --foreground & echo "pid $!"; exec sleep 120', process.execPath, ENTRY], {
    cwd: ROOT,
    env: { ...process.env, ...home.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  parent.stdout.on('data', (c: Buffer) => (out += c.toString()));
  parent.stderr.on('data', (c: Buffer) => (out += c.toString()));
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    const pid = /^pid (\d+)$/m.exec(out)?.[1];
    if (pid && out.includes('Latchkey agent ready')) return { pid: Number(pid), parent };
  }
  parent.kill('SIGKILL');
  throw new Error(`the agent did not start: ${out}`);
}

describe.runIf(linux)('after kill -9 of the agent', () => {
  let home: TestHome | undefined;
  let parent: { kill(signal: NodeJS.Signals): boolean } | undefined;
  afterEach(async () => {
    // Killing `sleep` hands the zombie to init, which reaps it.
    parent?.kill('SIGKILL');
    if (home) await rm(home.dir, { recursive: true, force: true });
  });

  it('the next agent starts at once, while the killed one is still a zombie, and its owner can connect', async () => {
    home = await createTestHome('latchkey-crash-');
    const killed = await agentUnderNonReapingParent(home);
    parent = killed.parent;
    process.kill(killed.pid, 'SIGKILL');
    for (const deadline = Date.now() + 5000; processState(killed.pid) !== 'Z' && Date.now() < deadline; ) await sleep(10);
    expect(processState(killed.pid)).toBe('Z');

    const agent = await startAgent({ env: home.env, paths: home.paths });
    try {
      const owner = await connectOwner(home.paths.socket, home.paths.ownerKey);
      await expect(owner.call('admin.status', {})).resolves.toMatchObject({ pid: process.pid });
      await owner.close();
    } finally {
      await agent.stop();
    }
    // The zombie was there the whole time: the start did not wait for it to be reaped.
    expect(processState(killed.pid)).toBe('Z');
  });
});
