import { afterEach, describe, expect, it } from 'vitest';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { connectRpc } from '../wire/rpc-client.js';
import { createRpcServer } from './rpc-server.js';
import { makeSocketDir, makeStaleSocket, type SocketDir } from '../testing/rpc-testing.js';
import { isNamedPipePath, listenSocket } from './socket-listen.js';

const posixOnly = process.platform === 'win32' ? it.skip : it;

let dir: SocketDir;
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await dir?.remove();
});

function server(): Server {
  const s = createServer((socket) => socket.end());
  servers.push(s);
  return s;
}

describe('listenSocket', () => {
  posixOnly('creates the directory 0700 and the socket 0600', async () => {
    dir = await makeSocketDir();
    await listenSocket(server(), dir.socket);
    expect((await stat(dirname(dir.socket))).mode & 0o777).toBe(0o700);
    const st = await stat(dir.socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  posixOnly('leaves the process umask as it found it', async () => {
    dir = await makeSocketDir();
    const original = process.umask(0o027);
    await listenSocket(server(), dir.socket);
    expect(process.umask(original)).toBe(0o027);
  });

  posixOnly('refuses a directory other users can write to', async () => {
    dir = await makeSocketDir();
    await mkdir(dirname(dir.socket), { mode: 0o700 });
    await chmod(dirname(dir.socket), 0o777);
    await expect(listenSocket(server(), dir.socket)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('writable by other users') });
  });

  // Only root can hand a directory to another user; elsewhere this runs in CI as root or not at all.
  it.runIf(process.getuid?.() === 0)('refuses a directory owned by another user', async () => {
    dir = await makeSocketDir();
    await mkdir(dirname(dir.socket), { mode: 0o700 });
    await chown(dirname(dir.socket), 65534, 65534);
    await expect(listenSocket(server(), dir.socket)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('owned by uid 65534') });
  });

  posixOnly('refuses a socket directory that is a file', async () => {
    dir = await makeSocketDir();
    await writeFile(dirname(dir.socket), 'not a dir');
    await expect(listenSocket(server(), dir.socket)).rejects.toMatchObject({ code: 'config_invalid' });
  });

  posixOnly('never deletes a regular file at the socket path', async () => {
    dir = await makeSocketDir();
    await mkdir(dirname(dir.socket), { mode: 0o700 });
    await writeFile(dir.socket, 'precious');
    await expect(listenSocket(server(), dir.socket)).rejects.toMatchObject({ code: 'config_invalid' });
    expect((await stat(dir.socket)).isFile()).toBe(true);
  });

  posixOnly('replaces a stale socket left by a crashed agent', async () => {
    dir = await makeSocketDir();
    await mkdir(dirname(dir.socket), { mode: 0o700 });
    await makeStaleSocket(dir.socket);
    const rpc = createRpcServer({ handlers: {} });
    await rpc.listen(dir.socket);
    const client = await connectRpc(dir.socket);
    expect(await client.call('rpc.version')).toMatchObject({ protocol: 1 });
    await client.close();
    await rpc.close();
  });

  it('refuses to start beside a live agent', async () => {
    dir = await makeSocketDir();
    await listenSocket(server(), dir.socket);
    await expect(listenSocket(server(), dir.socket)).rejects.toMatchObject({ code: 'agent_running' });
    // The live agent's socket is untouched and still answers.
    await expect(connectRpc(dir.socket).then((c) => c.close())).resolves.toBeUndefined();
  });

  it('recognises Windows named pipe paths', () => {
    expect(isNamedPipePath('\\\\.\\pipe\\latchkey-alice')).toBe(true);
    expect(isNamedPipePath('\\\\?\\pipe\\latchkey-alice')).toBe(true);
    expect(isNamedPipePath('/run/user/1000/latchkey/agent.sock')).toBe(false);
  });
});
