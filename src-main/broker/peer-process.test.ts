import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, realpathSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { listenSocket } from '../agent/socket-listen.js';
import { loadPeerCredentials, type PeerCredentialsReader } from '../platform/peer-credentials.js';
import { createPeerIdentifier, ExeHashCache, identifyPeer, parseSsPeer } from './peer-process.js';
import type { PeerLookup } from '../platform/peer-lookup.js';
import { tempDir } from '../testing/test-home.js';

const linux = process.platform === 'linux';
const ssPath = ['/usr/bin/ss', '/usr/sbin/ss', '/bin/ss', '/sbin/ss'].find((p) => existsSync(p));
const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;

if (!linux) console.log(`peer-process: skipping the live tests: peer identification is Linux-only (this is ${process.platform})`);
else if (!ssPath) console.log('peer-process: skipping the live tests: ss (iproute2) is not installed');

/**
 * A child that connects to `path` and reports `connected` or `error <code>` on
 * stdout; it stays connected unless told `once`.
 */
const CLIENT = `
const s = require('net').connect(process.argv[1], () => {
  process.stdout.write('connected\\n');
  if (process.argv[2] === 'once') process.exit(0);
});
s.on('error', (e) => { process.stdout.write('error ' + e.code + '\\n'); process.exit(0); });
setTimeout(() => process.exit(0), 20000);
`;

function firstLine(child: ChildProcess, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`child said nothing within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, newline));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before saying anything: ${text}`));
    });
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]);
}

describe.skipIf(!linux || !ssPath)('identifyPeer (live, Linux)', () => {
  let dir: string;
  let path: string;
  let server: Server;
  let accepted: Socket[];
  let waiters: Array<(s: Socket) => void>;
  let children: ChildProcess[];
  let identifier: PeerLookup;

  beforeEach(async () => {
    dir = await tempDir('latchkey-peer-');
    path = join(dir, 'agent', 'agent.sock');
    accepted = [];
    waiters = [];
    children = [];
    identifier = createPeerIdentifier();
    server = createServer((socket) => {
      socket.on('error', () => {});
      const waiter = waiters.shift();
      if (waiter) waiter(socket);
      else accepted.push(socket);
    });
    await listenSocket(server, path);
  });

  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of accepted) s.destroy();
    });
  });

  function nextConnection(): Promise<Socket> {
    const ready = accepted.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise<Socket>((resolve) => waiters.push((s) => { accepted.push(s); resolve(s); })), 10_000, 'accepting a connection');
  }

  function spawnClient(): ChildProcess {
    const child = spawn(process.execPath, ['-e', CLIENT, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return child;
  }

  it('names the child process on the other end: pid, uid, executable and its hash', async () => {
    const child = spawnClient();
    expect(await firstLine(child)).toBe('connected');
    const socket = await nextConnection();

    const started = performance.now();
    const peer = await within(identifier.identify(socket), 15_000, 'identify');
    const coldMs = performance.now() - started;

    expect(peer).toBeDefined();
    expect(peer!.pid).toBe(child.pid);
    expect(peer!.uid).toBe(process.getuid!());
    expect(peer!.exePath).toBe(realpathSync(process.execPath));
    expect(peer!.exeSha256).toBe(createHash('sha256').update(readFileSync(process.execPath)).digest('hex'));
    expect(peer!.argv).toEqual([process.execPath, '-e']);

    const runs = 10;
    const warmStart = performance.now();
    for (let i = 0; i < runs; i++) expect((await identifier.identify(socket))?.pid).toBe(child.pid);
    const warmMs = (performance.now() - warmStart) / runs;
    console.log(`identifyPeer: first call ${coldMs.toFixed(1)} ms (hashing ${(statSync(process.execPath).size / 2 ** 20).toFixed(0)} MiB), then ${warmMs.toFixed(1)} ms per call`);
  });

  it('names this very process for a connection it made itself', async () => {
    const client = connect(path);
    client.on('error', () => {});
    const socket = await nextConnection();
    try {
      expect((await within(identifyPeer(socket), 15_000, 'identify'))?.pid).toBe(process.pid);
    } finally {
      client.destroy();
    }
  });

  it('tells apart many simultaneous connections (sharing ss runs)', async () => {
    const kids = [spawnClient(), spawnClient(), spawnClient()];
    await Promise.all(kids.map(async (k) => expect(await firstLine(k)).toBe('connected')));
    const sockets = await Promise.all(kids.map(() => nextConnection()));
    const selfClients = Array.from({ length: 10 }, () => connect(path).on('error', () => {}));
    const selfSockets = await Promise.all(selfClients.map(() => nextConnection()));
    try {
      const peers = await within(Promise.all([...sockets, ...selfSockets].map((s) => identifier.identify(s))), 15_000, 'identify');
      const childPids = new Set(peers.slice(0, 3).map((p) => p?.pid));
      expect(childPids).toEqual(new Set(kids.map((k) => k.pid)));
      expect(peers.slice(3).map((p) => p?.pid)).toEqual(selfSockets.map(() => process.pid));
    } finally {
      for (const c of selfClients) c.destroy();
    }
  });

  it('returns undefined, not an error, when the peer hung up before identification', async () => {
    const client = connect(path);
    const socket = await nextConnection();
    const ended = new Promise((resolve) => socket.once('end', resolve));
    client.destroy();
    await within(ended, 5000, 'peer hang-up');
    expect(await identifier.identify(socket)).toBeUndefined();
    socket.destroy();
    expect(await identifier.identify(socket)).toBeUndefined();
  });

  it('returns undefined when the peer process was killed', async () => {
    const child = spawnClient();
    expect(await firstLine(child)).toBe('connected');
    const socket = await nextConnection();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await within(exited, 5000, 'child exit');
    expect(await identifier.identify(socket)).toBeUndefined();
  });

  it('logs why at debug level when it cannot tell, and never throws', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    const client = connect(path).on('error', () => {});
    const socket = await nextConnection();
    try {
      expect(await createPeerIdentifier({ logger, ssPath: join(dir, 'no-such-ss'), peerCredentials: false }).identify(socket)).toBeUndefined();
      expect(await createPeerIdentifier({ logger, platform: 'darwin' }).identify(socket)).toBeUndefined();
      expect(await createPeerIdentifier({ logger, maxExeBytes: 1024 }).identify(socket)).toBeUndefined();
    } finally {
      client.destroy();
    }
    const reasons = lines.map((l) => JSON.parse(l) as { level: number; reason: string });
    expect(reasons.every((r) => r.level === 20)).toBe(true);
    expect(reasons.map((r) => r.reason)).toEqual([
      'ss failed',
      'peer identification is not implemented on darwin',
      'could not read the peer process',
    ]);
  });

  /** An `ss` that passes the real output through `sed`, to show holders are checked, not believed. */
  function doctoredSs(sedScript: string): string {
    const wrapper = join(dir, `ss-${Math.random().toString(36).slice(2)}`);
    writeFileSync(wrapper, `#!/bin/sh\n${ssPath} "$@" | sed -e '${sedScript}'\n`, { mode: 0o700 });
    return wrapper;
  }

  it('ignores holders that /proc does not confirm', async () => {
    const child = spawnClient();
    expect(await firstLine(child)).toBe('connected');
    const socket = await nextConnection();
    // Our own stdout: a real, readable fd that is not the peer socket.
    const fake = `pid=${process.pid},fd=1`;
    const extra = createPeerIdentifier({ ssPath: doctoredSs(`s/users:((/users:(("fake",${fake}),(/`), peerCredentials: false });
    expect((await extra.identify(socket))?.pid).toBe(child.pid);
    const replaced = createPeerIdentifier({ ssPath: doctoredSs(`s/pid=[0-9]*,fd=[0-9]*/${fake}/g`), peerCredentials: false });
    expect(await replaced.identify(socket)).toBeUndefined();
  });

  describe('through SO_PEERCRED (the native addon)', () => {
    const reader = loadPeerCredentials();
    if (typeof reader === 'string') console.log(`peer-process: skipping the SO_PEERCRED tests: ${reader} (npm run build compiles it)`);
    const withAddon = it.skipIf(typeof reader === 'string');
    const real = reader as PeerCredentialsReader;

    withAddon('names the peer without running ss (a missing ss does not matter)', async () => {
      const child = spawnClient();
      expect(await firstLine(child)).toBe('connected');
      const socket = await nextConnection();
      const noSs = createPeerIdentifier({ ssPath: join(dir, 'no-such-ss'), peerCredentials: real });
      const peer = await within(noSs.identify(socket), 15_000, 'identify');
      expect(peer).toMatchObject({ pid: child.pid, uid: process.getuid!(), exePath: realpathSync(process.execPath), argv: [process.execPath, '-e'] });
      const runs = 50;
      const start = performance.now();
      for (let i = 0; i < runs; i++) await noSs.identify(socket);
      console.log(`identifyPeer via SO_PEERCRED, hash cached: ${((performance.now() - start) / runs).toFixed(2)} ms per call`);
    });

    // The pidfd is what makes a pid read from SO_PEERCRED safe to look up in /proc.
    withAddon('returns undefined when the pidfd says the process exited while /proc was read', async () => {
      const client = connect(path).on('error', () => {});
      const socket = await nextConnection();
      const released: number[] = [];
      const exited: PeerCredentialsReader = { read: (fd) => real.read(fd), alive: () => false, release: (fd) => (released.push(fd), real.release(fd)) };
      try {
        expect(await createPeerIdentifier({ peerCredentials: exited }).identify(socket)).toBeUndefined();
        expect(released).toHaveLength(1);
      } finally {
        client.destroy();
      }
    });

    withAddon('falls back to ss when the kernel gives no pidfd', async () => {
      const client = connect(path).on('error', () => {});
      const socket = await nextConnection();
      const noPidfd: PeerCredentialsReader = {
        read: (fd) => {
          const { pidfd, ...rest } = real.read(fd);
          if (pidfd !== undefined) real.release(pidfd);
          return rest;
        },
        alive: () => true,
        release: () => undefined,
      };
      try {
        expect((await createPeerIdentifier({ peerCredentials: noPidfd }).identify(socket))?.pid).toBe(process.pid);
        expect(await createPeerIdentifier({ peerCredentials: noPidfd, ssPath: join(dir, 'no-such-ss') }).identify(socket)).toBeUndefined();
      } finally {
        client.destroy();
      }
    });

    withAddon('returns undefined for a peer in another pid namespace (pid 0)', async () => {
      const client = connect(path).on('error', () => {});
      const socket = await nextConnection();
      const foreign: PeerCredentialsReader = { read: (fd) => ({ ...real.read(fd), pid: 0 }), alive: () => true, release: (fd) => real.release(fd) };
      try {
        expect(await createPeerIdentifier({ peerCredentials: foreign }).identify(socket)).toBeUndefined();
      } finally {
        client.destroy();
      }
    });
  });

  it('returns undefined for a socket that is not from a Unix-socket server', async () => {
    const client = connect(path).on('error', () => {});
    await nextConnection();
    try {
      expect(await identifier.identify(client)).toBeUndefined();
    } finally {
      client.destroy();
    }
  });
});

describe('parseSsPeer', () => {
  const local = { inode: 5000, path: '/run/user/1000/latchkey/agent.sock' };
  const ours = `u_str ESTAB 0      0      ${local.path} 5000            * 4999 users:(("node",pid=10,fd=20))  `;
  const theirs = `u_str ESTAB 0      0                                            * 4999 * 5000 users:(("tool",pid=77,fd=3))  `;
  const noise = [
    `u_str ESTAB 0      0                                            * 1584  * 1583                                    `,
    `u_str LISTEN 0     511    ${local.path} 4000 * 0 users:(("node",pid=10,fd=19))`,
    `u_str ESTAB 0      0      ${local.path} 5002            * 5001 users:(("node",pid=10,fd=21))`,
    `u_str ESTAB 0      0      * 5001 * 5002 users:(("other",pid=78,fd=3))`,
  ];

  it('finds the peer inode and its holders', () => {
    expect(parseSsPeer(['Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process', ...noise, ours, theirs].join('\n'), local)).toEqual({
      peerInode: 4999,
      holders: [{ pid: 77, fd: 3 }],
    });
  });

  it('lists every holder of a shared socket', () => {
    const shared = theirs.replace('pid=77,fd=3)', 'pid=77,fd=3),("tool",pid=79,fd=3)');
    expect(parseSsPeer([ours, shared].join('\n'), local)).toEqual({ peerInode: 4999, holders: [{ pid: 77, fd: 3 }, { pid: 79, fd: 3 }] });
  });

  // A client can bind its socket to a name with newlines; ss prints it raw.
  it('gives up rather than believe a forged copy of our line', () => {
    const forged = `u_str ESTAB 0 0 /tmp/evil\nu_str ESTAB 0 0 ${local.path} 5000 * 1234\n 4999 * 5000 users:(("evil",pid=66,fd=3))`;
    expect(parseSsPeer([forged, ours, theirs].join('\n'), local)).toEqual({ error: expect.stringMatching(/more than once/) });
    expect(parseSsPeer([ours, forged].join('\n'), local)).toEqual({ error: expect.stringMatching(/more than once/) });
  });

  it('treats holders named in forged text as candidates only (they are checked against /proc)', () => {
    const evil = `u_str ESTAB 0 0 /tmp/x\n 4999 * 5000 users:(("x",pid=1,fd=0))\n 4999 * 5000 users:(("tool",pid=77,fd=3))`;
    const result = parseSsPeer([ours, evil].join('\n'), local);
    expect(result).toEqual({ peerInode: 4999, holders: [{ pid: 1, fd: 0 }, { pid: 77, fd: 3 }] });
  });

  it('does not mistake other numbers for our inode', () => {
    const lookalikes = [
      `u_str ESTAB 0 5000 * 1 * 4999`, // queue length equal to our inode
      `u_str ESTAB 0 0 ${local.path} 50000 * 4999`,
      `u_str ESTAB 0 0 ${local.path}x 5000 * 4999`,
      `u_str ESTAB 0 0 /elsewhere.sock 5000 * 4999`,
    ];
    expect(parseSsPeer([...lookalikes, theirs].join('\n'), local)).toEqual({ error: expect.stringMatching(/not listed/) });
  });

  it('reports a closed peer and a missing holder', () => {
    expect(parseSsPeer(ours.replace('* 4999', '* 0'), local)).toEqual({ error: expect.stringMatching(/closed/) });
    expect(parseSsPeer(ours, local)).toEqual({ error: expect.stringMatching(/no process/) });
    expect(parseSsPeer('', local)).toEqual({ error: expect.stringMatching(/not listed/) });
  });

  it('escapes the listening path, which may contain regex characters and spaces', () => {
    const odd = { inode: 5000, path: '/tmp/a b+(c)*.sock' };
    expect(parseSsPeer([ours.replace(local.path, odd.path), theirs].join('\n'), odd)).toEqual({ peerInode: 4999, holders: [{ pid: 77, fd: 3 }] });
    expect(parseSsPeer([ours.replace(local.path, '/tmp/a b+((c))*.sock'), theirs].join('\n'), odd)).toEqual({ error: expect.any(String) });
  });

  it('refuses an absurd number of candidates', () => {
    const many = Array.from({ length: 17 }, (_, i) => `("x",pid=${i + 1},fd=3)`).join(',');
    expect(parseSsPeer([ours, `u_str ESTAB 0 0 * 4999 * 5000 users:(${many})`].join('\n'), local)).toEqual({ error: expect.stringMatching(/too many/) });
  });
});

describe('ExeHashCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir('latchkey-hash-');
  });

  async function hashOf(cache: ExeHashCache, file: string): Promise<string> {
    const handle = await open(file, 'r');
    try {
      return await cache.hash(handle);
    } finally {
      await handle.close();
    }
  }

  const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

  it('hashes once per file version, concurrent requests included', async () => {
    const file = join(dir, 'tool');
    const content = Buffer.alloc(3 * 1024 * 1024 + 17, 'x'); // several read chunks
    writeFileSync(file, content);
    const cache = new ExeHashCache();
    const hashes = await Promise.all([hashOf(cache, file), hashOf(cache, file), hashOf(cache, file)]);
    expect(hashes).toEqual([sha256(content), sha256(content), sha256(content)]);
    expect(await hashOf(cache, file)).toBe(sha256(content));
    expect(cache.computed).toBe(1);
  });

  // Regression guard: keying on size + mtime alone would return the old hash here.
  it('re-hashes a file rewritten in place with the same size and mtime', async () => {
    const file = join(dir, 'tool');
    writeFileSync(file, 'version-1');
    const { atime, mtime } = statSync(file);
    const cache = new ExeHashCache();
    expect(await hashOf(cache, file)).toBe(sha256('version-1'));
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, 'version-2');
    utimesSync(file, atime, mtime);
    expect(await hashOf(cache, file)).toBe(sha256('version-2'));
    expect(cache.computed).toBe(2);
  });

  it('stays bounded, evicting the least recently used', async () => {
    const files = ['a', 'b', 'c'].map((name) => {
      const file = join(dir, name);
      writeFileSync(file, name);
      return file;
    });
    const cache = new ExeHashCache(2);
    await hashOf(cache, files[0]!);
    await hashOf(cache, files[1]!);
    await hashOf(cache, files[0]!); // a is now the most recent
    await hashOf(cache, files[2]!); // evicts b
    expect(cache.computed).toBe(3);
    await hashOf(cache, files[0]!);
    expect(cache.computed).toBe(3);
    await hashOf(cache, files[1]!);
    expect(cache.computed).toBe(4);
  });

  it('refuses files over the size cap and does not cache the failure', async () => {
    const file = join(dir, 'big');
    writeFileSync(file, Buffer.alloc(2048));
    const cache = new ExeHashCache(4, 1024);
    await expect(hashOf(cache, file)).rejects.toThrow(/larger than 1024/);
    writeFileSync(file, Buffer.alloc(10));
    expect(await hashOf(cache, file)).toBe(sha256(Buffer.alloc(10)));
  });
});

describe.skipIf(!linux)('socket permissions against another local user', () => {
  const reason = !isRoot ? 'not running as root' : !runuser ? 'runuser is not installed' : undefined;
  if (reason) console.log(`peer-process: skipping the second-user test: ${reason}`);

  let dir: string;
  let server: Server;
  beforeEach(async () => {
    dir = await tempDir('latchkey-user-');
    server = createServer((s) => s.destroy());
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Connects to `path` as `nobody`; returns the child's report. */
  async function connectAsNobody(path: string): Promise<string> {
    const child = spawn(runuser!, ['-u', 'nobody', '--', process.execPath, '-e', CLIENT, path, 'once'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      return await firstLine(child);
    } finally {
      child.kill('SIGKILL');
    }
  }

  it.skipIf(reason !== undefined)('nobody gets EACCES from the agent socket, and would connect without its protections', async () => {
    const socketDir = join(dir, 'agent');
    const path = join(socketDir, 'agent.sock');
    await listenSocket(server, path);
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // tempDir (mkdtemp) makes `dir` 0700; open it so only the agent's own protections are tested.
    chmodSync(dir, 0o711);

    // The 0700 directory alone keeps another user out.
    expect(await connectAsNobody(path)).toBe('error EACCES');
    // So does the 0600 socket alone, in a directory others may traverse.
    chmodSync(socketDir, 0o711);
    expect(await connectAsNobody(path)).toBe('error EACCES');
    // Control: with both opened, the same child connects, so the EACCES above was the modes' doing.
    chmodSync(path, 0o666);
    expect(await connectAsNobody(path)).toBe('connected');
  });
});
