/**
 * A writer that died between writing its temp file and renaming it leaves
 * `<file>.tmp-<pid>-<random>` beside the file: the agent removes those of dead
 * writers when it starts, and never one a live process is still writing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { silentLogger } from '../log/logger.js';
import { createTestHome } from '../testing/test-home.js';
import { startAgent, type RunningAgent } from './agent-main.js';

describe('agent start', () => {
  let agent: RunningAgent | undefined;
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('removes temp files of dead writers beside the audit log, owner key and host mapping, and keeps a live writer\'s', async () => {
    const home = await createTestHome('lk-sweep-');
    await mkdir(home.paths.home, { recursive: true, mode: 0o700 });
    // A pid that is certainly gone: a child that has already exited.
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    const dead = [`audit.log.tmp-${deadPid}-a1b2`, `owner.key.tmp-${deadPid}-c3d4`, `hosts.json.tmp-${deadPid}-e5f6`];
    const live = `hosts.json.tmp-${process.pid}-0000`;
    for (const name of [...dead, live]) await writeFile(`${home.paths.home}/${name}`, 'partial');
    const unrelated = 'notes.tmp-1-keep';
    await writeFile(`${home.paths.home}/${unrelated}`, 'not ours');

    agent = await startAgent({ env: home.env, paths: home.paths, logger: silentLogger() });

    const left = await readdir(home.paths.home);
    for (const name of dead) expect(left).not.toContain(name);
    expect(left).toContain(live);
    expect(left).toContain(unrelated);
  });
});
