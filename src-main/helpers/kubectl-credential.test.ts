/**
 * The kubectl credential plugin: the ExecCredential by unit, then the real
 * kubectl against an HTTPS API server on 127.0.0.1 (a test CA in the
 * kubeconfig) that accepts only bearer tokens the provider reports active.
 * Requires `npm run build`, kubectl, openssl and Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { chromiumAvailable, CHROMIUM_MISSING } from '../testing/browser.js';
import { REPO_ROOT, runCommand, startHelperAgent, type HelperAgent } from '../testing/helper-agent.js';
import { makeTestTls, opensslAvailable } from '../testing/test-tls.js';
import { closeNow, listenOnLoopback } from '../testing/net.js';
import { presentedToken, tokenChecker, type TokenChecker } from '../testing/token-checker.js';
import { execCredential, parseExecInfo } from './kubectl-credential.js';

describe('ExecCredential', () => {
  const token = { access_token: 'at', token_type: 'Bearer', scope: 'openid', expires_at: 1_900_000_000 };

  it('answers in the apiVersion kubectl asked for, with an RFC 3339 expiry', () => {
    for (const apiVersion of ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']) {
      const info = parseExecInfo(JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } }));
      expect(JSON.parse(execCredential(info, token, false))).toEqual({ apiVersion, kind: 'ExecCredential', status: { token: 'at', expirationTimestamp: '2030-03-17T17:46:40Z' } });
    }
  });

  it('refuses versions it does not speak and malformed exec info', () => {
    expect(() => parseExecInfo('{"apiVersion":"client.authentication.k8s.io/v1alpha1"}')).toThrow(/v1 and/);
    expect(() => parseExecInfo('not json')).toThrow(/not JSON/);
  });

  it('--id-token sends the ID token and needs one', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_800_000_000 })).toString('base64url');
    const info = parseExecInfo(undefined);
    expect(JSON.parse(execCredential(info, { ...token, id_token: `h.${payload}.s` }, true)).status).toEqual({ token: `h.${payload}.s`, expirationTimestamp: '2027-01-15T08:00:00Z' });
    expect(() => execCredential(info, token, true)).toThrow(/openid/);
  });
});

const KUBECTL = '/usr/bin/kubectl';
const kubectlPath = existsSync(KUBECTL) ? KUBECTL : undefined;
const built = existsSync(join(REPO_ROOT, 'dist/lean/latchkey.js'));
const skip = !built ? 'dist/ is missing; run `npm run build`' : !kubectlPath ? `${KUBECTL} is not installed` : !opensslAvailable() ? 'openssl is not installed' : !chromiumAvailable() ? CHROMIUM_MISSING : undefined;
if (skip) console.warn(`SKIP kubectl tests with the real kubectl: ${skip}`);

describe.skipIf(Boolean(skip))('kubectl with latchkey kubectl-credential against an HTTPS API server', () => {
  let h: HelperAgent;
  let checker: TokenChecker;
  let server: Server;
  let apiUrl: string;
  let caData: string;

  beforeAll(async () => {
    h = await startHelperAgent({ signIn: true });
    checker = await tokenChecker(h.demo);
    const tls = makeTestTls(h.dir);
    caData = Buffer.from(tls.caCert).toString('base64');
    server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const token = presentedToken(req.headers.authorization);
      void (token ? checker.isActive(token) : Promise.resolve(false)).then((ok) => {
        if (!ok) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] }));
      });
    });
    apiUrl = `https://127.0.0.1:${await listenOnLoopback(server)}`;
  }, 120_000);
  afterAll(async () => {
    if (server) await closeNow(server);
    await h?.close();
  });

  async function kubeconfig(apiVersion: string): Promise<string> {
    const path = join(h.dir, `kubeconfig-${apiVersion.split('/')[1]}`);
    // As the README shows it.
    await writeFile(
      path,
      `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${apiUrl}
    certificate-authority-data: ${caData}
contexts:
- name: test
  context: {cluster: test, user: latchkey}
current-context: test
users:
- name: latchkey
  user:
    exec:
      apiVersion: ${apiVersion}
      command: latchkey
      args: [kubectl-credential, --provider, work]
      interactiveMode: IfAvailable
      provideClusterInfo: true
`,
    );
    return path;
  }

  it.each(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])('kubectl get --raw /api works with %s', async (apiVersion) => {
    const seen = checker.seen.length;
    const run = await runCommand(kubectlPath!, ['--kubeconfig', await kubeconfig(apiVersion), 'get', '--raw', '/api'], { env: h.env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kind: 'APIVersions' });
    expect(checker.seen.length).toBeGreaterThan(seen);
    expect(h.log.text()).not.toContain(checker.seen.at(-1));
    expect(run.stderr).not.toContain(checker.seen.at(-1));
    const activity = JSON.parse((await runCommand('latchkey', ['activity', '--json'], { env: h.env })).stdout) as unknown[];
    expect(activity).toContainEqual(expect.objectContaining({ appId: 'kubectl', detail: `cluster ${apiUrl}` }));
  });

  it('prints only the ExecCredential; without an account and not interactive, fails at once', async () => {
    const info = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } });
    const ok = await runCommand('latchkey', ['kubectl-credential', '--provider', 'work'], { env: { ...h.env, KUBERNETES_EXEC_INFO: info } });
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: expect.any(String) } });
    const started = Date.now();
    const none = await runCommand('latchkey', ['kubectl-credential', '--provider', 'work', '--account', 'nobody@example.com'], { env: { ...h.env, KUBERNETES_EXEC_INFO: info } });
    expect(none.code).not.toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^latchkey: .+\n$/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

