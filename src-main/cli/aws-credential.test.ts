/**
 * `latchkey aws-credential` as a `credential_process`: the AWS CLI runs
 * `aws sts get-caller-identity` against moto_server (a local STS), with the
 * credentials STS gave for the signed-in account's ID token; a second call
 * gets the same kept credentials. Requires `npm run build`, the AWS CLI,
 * moto_server and Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { freePort } from '../testing/net.js';
import { REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';

const PYENV = '/root/.pyenv/shims';
const which = (name: string) => [join(PYENV, name), `/usr/local/bin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p));
const MOTO = which('moto_server');
const AWS = which('aws');
const ROLE = 'arn:aws:iam::123456789012:role/latchkey-test';
const built = existsSync(join(REPO_ROOT, 'dist/lean/latchkey.js'));
const skip = !built ? 'dist/ is missing; run `npm run build`' : !MOTO ? 'moto_server is not installed (pip install "moto[server]")' : !AWS ? 'the AWS CLI is not installed' : !chromiumAvailable() ? CHROMIUM_MISSING : undefined;
if (skip) console.warn(`SKIP AWS credential_process tests: ${skip}`);

describe.skipIf(Boolean(skip))('AWS CLI with credential_process = latchkey aws-credential, against moto_server', () => {
  let h: HelperAgent;
  let moto: ChildProcess;
  let awsEnv: NodeJS.ProcessEnv;
  const credential = (args: string[] = []) => runCommand('latchkey', ['aws-credential', '--provider', 'work', '--role-arn', ROLE, ...args], { env: awsEnv });

  beforeAll(async () => {
    const port = await freePort();
    moto = spawn(MOTO!, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    h = await startHelperAgent({ signIn: true });
    const endpoint = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && !(await fetch(`${endpoint}/moto-api/`).then((r) => r.ok).catch(() => false)); i++) await new Promise((r) => setTimeout(r, 100));
    const config = join(h.dir, 'aws-config');
    // As the README shows it.
    await writeFile(config, `[profile work]\ncredential_process = latchkey aws-credential --provider work --role-arn ${ROLE}\nregion = us-east-1\n`);
    awsEnv = { ...h.env, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(h.dir, 'no-credentials'), AWS_PROFILE: 'work', AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
  }, 120_000);
  afterAll(async () => {
    moto?.kill();
    await h?.close();
  });

  it('aws sts get-caller-identity runs as the assumed role', async () => {
    const run = await runCommand(AWS!, ['sts', 'get-caller-identity', '--output', 'json'], { env: awsEnv });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ Arn: expect.stringContaining('assumed-role/latchkey-test/latchkey') });
    const activity = JSON.parse((await runCommand('latchkey', ['activity', '--json'], { env: h.env })).stdout) as unknown[];
    expect(activity).toContainEqual(expect.objectContaining({ appId: 'aws', detail: `role ${ROLE}` }));
  });

  it('prints only the Version 1 JSON, and hands out the kept credentials again', async () => {
    const first = await credential();
    expect(first.stderr).toBe('');
    const creds = JSON.parse(first.stdout);
    expect(creds).toEqual({ Version: 1, AccessKeyId: expect.any(String), SecretAccessKey: expect.any(String), SessionToken: expect.any(String), Expiration: expect.stringMatching(/Z$/) });
    const second = JSON.parse((await credential()).stdout);
    expect(second.AccessKeyId).toBe(creds.AccessKeyId);
    expect(h.log.text()).not.toContain(creds.SecretAccessKey);
    expect(h.log.text()).not.toContain(creds.SessionToken);
  });

  it('fails at once with one line when the account is gone, and refuses a malformed role', async () => {
    const gone = await credential(['--account', 'nobody@example.com']);
    expect(gone.code).not.toBe(0);
    expect(gone.stdout).toBe('');
    expect(gone.stderr).toMatch(/^latchkey: .+\n$/);
    const bad = await runCommand('latchkey', ['aws-credential', '--provider', 'work', '--role-arn', 'not-an-arn'], { env: awsEnv });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
  });
});
