/**
 * Compiles the one native addon, native/peer-credentials.c, into
 * dist/native/peer-credentials.node (Linux only). Run by `npm run build`
 * after tsc. It is a plain Node-API module, so one C compiler call against
 * Node's headers is the whole build (no node-gyp) and the result also loads
 * in Electron. Without a compiler or headers the build goes on: the agent
 * then finds its peers the slow way, through `ss` (see peer-process.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = join(root, 'native', 'peer-credentials.c');
const output = join(root, 'dist', 'native', 'peer-credentials.node');

function skip(reason: string): void {
  process.stderr.write(`build-native: not building the peer-credentials addon: ${reason}; peers are found through ss instead\n`);
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') return skip(`SO_PEERCRED is Linux-only (this is ${process.platform})`);
  const headers = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
  if (!headers) return skip("Node's headers (node_api.h) are not installed");
  const compiler = process.env.CC ?? 'cc';
  await mkdir(dirname(output), { recursive: true });
  try {
    await promisify(execFile)(compiler, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${headers}`, source, '-o', output]);
  } catch (err) {
    return skip(`${compiler} failed: ${(err as Error).message.trim()}`);
  }
}

await main();
