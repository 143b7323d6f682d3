import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireAgentLock, linuxProcessIdentity, processIsRunning } from './agent-lock.js';
import { makeSocketDir, type SocketDir } from '../testing/rpc-testing.js';

let dir: SocketDir;
afterEach(async () => dir?.remove());

async function lockPath(): Promise<string> {
  dir = await makeSocketDir();
  return join(dir.dir, 'home', 'agent.lock');
}

/** The pid of a process that has exited, so it is certainly not running now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('acquireAgentLock', () => {
  it('writes pid and start time to a private file and removes it on release', async () => {
    const path = await lockPath();
    const lock = await acquireAgentLock(path, { now: () => new Date('2025-01-02T03:04:05Z') });
    const content = JSON.parse(await readFile(path, 'utf8'));
    expect(content).toMatchObject({ pid: process.pid, startedAt: '2025-01-02T03:04:05.000Z' });
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
    await lock.release();
    await lock.release();
    expect(await readdir(join(dir.dir, 'home'))).toEqual([]); // no temp files left either
  });

  it('refuses while a live agent holds the lock, naming its pid', async () => {
    const path = await lockPath();
    const first = await acquireAgentLock(path);
    await expect(acquireAgentLock(path, { pid: process.pid + 1 })).rejects.toMatchObject({
      code: 'agent_running',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await first.release();
  });

  it('takes over a lock whose process is gone', async () => {
    const path = await lockPath();
    const stale = await acquireAgentLock(path, { pid: await deadPid() });
    const lock = await acquireAgentLock(path);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await stale.release(); // not ours any more: must not remove it
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process', async () => {
    const path = await lockPath();
    await acquireAgentLock(path, { processIdentity: () => 'boot-a:100' });
    const lock = await acquireAgentLock(path, { pid: process.pid + 1, processIdentity: (pid) => (pid === process.pid ? 'boot-b:200' : 'x') });
    expect(lock.pid).toBe(process.pid + 1);
  });

  it('an agent that answers on its socket is alive, whatever its pid says', async () => {
    const path = await lockPath();
    await acquireAgentLock(path, { pid: await deadPid() });
    await expect(acquireAgentLock(path, { agentAnswers: async () => true })).rejects.toMatchObject({ code: 'agent_running' });
    await expect(acquireAgentLock(path, { agentAnswers: async () => false })).resolves.toMatchObject({ pid: process.pid });
  });

  it('takes over a corrupt lock file', async () => {
    const path = await lockPath();
    await (await acquireAgentLock(path)).release();
    await writeFile(path, '{"pid": "garbage');
    await expect(acquireAgentLock(path)).resolves.toMatchObject({ pid: process.pid });
  });

  it.runIf(process.platform === 'linux')('on Linux a zombie is not running; a live process and a missing pid are told right', async () => {
    // `sleep` never reaps the child the shell started before exec'ing it, so once killed the child stays a zombie.
    const parent = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))));
      // Give the shell time to exec, so the child's parent is the `sleep` that never reaps.
      for (let i = 0; i < 200 && !readFileSync(`/proc/${parent.pid}/cmdline`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 10));
      process.kill(zombie, 'SIGKILL');
      const state = () => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]?.charAt(0);
      for (let i = 0; i < 200 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(state()).toBe('Z');
      expect(processIsRunning(zombie)).toBe(false);
      // What the lock used to ask: the pid still exists.
      expect(() => process.kill(zombie, 0)).not.toThrow();
      expect(processIsRunning(process.pid)).toBe(true);
      expect(processIsRunning(await deadPid())).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it.runIf(process.platform === 'linux')('identifies Linux processes by boot and start time', () => {
    const mine = linuxProcessIdentity(process.pid);
    expect(mine).toMatch(/^[0-9a-f-]+:\d+$/);
    expect(linuxProcessIdentity(process.pid)).toBe(mine);
    expect(linuxProcessIdentity(process.ppid)).not.toBe(mine);
    expect(linuxProcessIdentity(2 ** 30)).toBeUndefined();
  });
});
