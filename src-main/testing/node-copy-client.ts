/**
 * An SDK client in its own process, run by a copy of node at a path of the
 * test's choosing: to the agent (which identifies the peer's executable on
 * Linux) it is another program than the one an earlier grant names.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built SDK the child imports: the tests run from source, a child cannot. */
export const BUILT_SDK = fileURLToPath(new URL('../../dist/src-main/sdk/latchkey-client.js', import.meta.url));

/** One SDK call as the child process reports it: never the token itself. */
export type StepResult = { ok: true; scope: string } | { ok: false; code: string; message: string };

export interface ClientStep {
  method: 'get' | 'tryGet';
  scope: string;
  provider?: string;
}

export interface ChildApp {
  appId: string;
  name: string;
  keyPath: string;
  socket: string;
}

const CLIENT_SCRIPT = `
import { LatchkeyClient } from ${JSON.stringify(pathToFileURL(BUILT_SDK).href)};
const [socket, keyPath, appId, name, stepsJson] = process.argv.slice(2);
const client = await LatchkeyClient.connect({ appId, name, version: '1.0.0', keyPath, socket });
const results = [];
for (const step of JSON.parse(stepsJson)) {
  const request = step.provider ? { provider: step.provider, scope: step.scope } : { scope: step.scope };
  try {
    const t = step.method === 'get' ? await client.getAuthTokens(request) : await client.tryGetAuthTokens(request);
    results.push({ ok: true, scope: t.scope });
  } catch (err) {
    results.push({ ok: false, code: err.code, message: err.message });
  }
}
await client.close();
process.stdout.write(JSON.stringify({ fingerprint: client.keyFingerprint, results }));
`;

/** Copies the running node binary to `<dir>/<to>/node`, executable. */
export async function copyNode(dir: string, to: string): Promise<string> {
  await mkdir(join(dir, to), { recursive: true });
  const exe = join(dir, to, 'node');
  await copyFile(process.execPath, exe);
  await chmod(exe, 0o755);
  return exe;
}

/** Runs the client under `exe` (with `dir` as its home) and returns what each SDK call gave. */
export async function runClientProcess(exe: string, dir: string, app: ChildApp, steps: ClientStep[]): Promise<{ fingerprint: string; results: StepResult[] }> {
  if (!existsSync(BUILT_SDK)) throw new Error(`${BUILT_SDK} is missing: run \`npm run build\` before the tests.`);
  const script = join(dir, 'latchkey-sdk-client.mjs');
  await writeFile(script, CLIENT_SCRIPT);
  const { stdout } = await run(exe, [script, app.socket, app.keyPath, app.appId, app.name, JSON.stringify(steps)], {
    // A clean environment: no loader hooks of the test runner in the child.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    timeout: 45_000,
  });
  return JSON.parse(stdout) as { fingerprint: string; results: StepResult[] };
}
