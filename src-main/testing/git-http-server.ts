/**
 * A git host on 127.0.0.1 for the git helper tests: Debian's `git
 * http-backend` (smart HTTP, clone and push) run as a CGI program behind a
 * Node server that accepts only tokens the provider reports active.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenOnLoopback } from './net.js';
import { presentedToken, type TokenChecker } from './token-checker.js';

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export function gitHttpBackendAvailable(): boolean {
  return existsSync(GIT_HTTP_BACKEND);
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Requests turned away with 401. */
  rejected: number;
  close(): Promise<void>;
}

export async function startGitHttpServer(projectRoot: string, checker: TokenChecker): Promise<GitHttpServer> {
  const state = { rejected: 0 };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = presentedToken(req.headers.authorization);
    if (!token || !(await checker.isActive(token))) {
      state.rejected++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="latchkey test"' });
      res.end();
      return;
    }
    const url = new URL(req.url!, 'http://127.0.0.1');
    const cgi = spawn(GIT_HTTP_BACKEND, [], {
      env: {
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        // http-backend enables push (receive-pack) only for an authenticated user.
        REMOTE_USER: 'latchkey-test',
        REQUEST_METHOD: req.method!,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => cgi.once('close', () => resolve()));
    writeCgiResponse(Buffer.concat(chunks), res);
  }
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    get rejected() {
      return state.rejected;
    },
    close: () => closeNow(server),
  };
}

/** CGI output: header lines (`Status:` among them), a blank line, the body. */
function writeCgiResponse(output: Buffer, res: ServerResponse): void {
  let split = output.indexOf('\r\n\r\n');
  let gap = 4;
  if (split < 0) {
    split = output.indexOf('\n\n');
    gap = 2;
  }
  const head = output.subarray(0, Math.max(split, 0)).toString('latin1');
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
    else headers[name] = value;
  }
  res.writeHead(status, headers);
  res.end(split < 0 ? output : output.subarray(split + gap));
}
