/**
 * A container registry on 127.0.0.1 for the Docker helper test: the
 * distribution API's `/v2/` challenge, a token endpoint that takes Docker's
 * identity token (OAuth2 refresh-token form, POST) or Basic auth (GET) and
 * accepts only tokens the provider reports active, and one manifest.
 *
 * @see https://distribution.github.io/distribution/spec/auth/token/
 * @see https://distribution.github.io/distribution/spec/auth/oauth/
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { closeNow, listenOnLoopback } from './net.js';
import { presentedToken, type TokenChecker } from './token-checker.js';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} });

export interface FakeRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** How the token endpoint was asked: 'identity-token' or 'basic'. */
  tokenRequests: string[];
  manifest: string;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw new Error('request body too large');
  }
  return text;
}

export async function startFakeRegistry(checker: TokenChecker): Promise<FakeRegistry> {
  const registryTokens = new Set<string>();
  const tokenRequests: string[] = [];
  const configDigest = `sha256:${createHash('sha256').update(CONFIG).digest('hex')}`;
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: Buffer.byteLength(CONFIG), digest: configDigest }, layers: [] });
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  let realm = '';
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, 'http://127.0.0.1');
      if (url.pathname === '/token') {
        let presented: string | undefined;
        if (req.method === 'POST') {
          const form = new URLSearchParams(await body(req));
          if (form.get('grant_type') === 'refresh_token') presented = form.get('refresh_token') ?? undefined;
          tokenRequests.push('identity-token');
        } else {
          presented = presentedToken(req.headers.authorization);
          tokenRequests.push('basic');
        }
        if (!presented || !(await checker.isActive(presented))) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'token not active' }] }));
        }
        const issued = randomBytes(16).toString('hex');
        registryTokens.add(issued);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token: issued, access_token: issued, expires_in: 300 }));
      }
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !registryTokens.has(auth.slice(7))) {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${realm}",service="latchkey-test-registry"`, 'content-type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
        return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      }
      if (url.pathname === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
        return res.end('{}');
      }
      if (/^\/v2\/team\/app\/manifests\/(1\.0|sha256:[0-9a-f]{64})$/.test(url.pathname)) {
        res.writeHead(200, { 'content-type': MANIFEST_TYPE, 'Docker-Content-Digest': digest, 'content-length': Buffer.byteLength(manifest), 'Docker-Distribution-API-Version': 'registry/2.0' });
        return res.end(req.method === 'HEAD' ? undefined : manifest);
      }
      if (url.pathname === `/v2/team/app/blobs/${configDigest}`) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'Docker-Content-Digest': configDigest, 'content-length': Buffer.byteLength(CONFIG) });
        return res.end(req.method === 'HEAD' ? undefined : CONFIG);
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'unknown' }] }));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  const host = `127.0.0.1:${await listenOnLoopback(server)}`;
  realm = `http://${host}/token`;
  return {
    host,
    tokenRequests,
    manifest,
    close: () => closeNow(server),
  };
}
