/**
 * Loopback redirect receiver (RFC 8252 §7.3): a one-shot HTTP server on
 * 127.0.0.1 with an ephemeral port. It binds the IPv4 literal rather than
 * "localhost" (§8.3) so no other interface, and no DNS, is involved.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LatchkeyError } from '../../errors.js';
import {
  PendingCallbacks,
  parseCallbackUrl,
  UNKNOWN_STATE_MESSAGE,
  type CallbackReceiver,
  type WaitOptions,
} from './callback-receiver.js';

const PAGE = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
  `<meta name="viewport" content="width=device-width"><style>body{font:16px system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 1em;color:#222}` +
  `@media(prefers-color-scheme:dark){body{background:#1e1e1e;color:#eee}}</style></head>` +
  `<body><h1>${title}</h1><p>${body}</p></body></html>`;

export class LoopbackReceiver implements CallbackReceiver {
  private readonly pending = new PendingCallbacks();
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly redirectUri: string,
  ) {}

  /** Starts listening on 127.0.0.1 with a port chosen by the OS, or `port` for a provider that registered one. */
  static async start(options: { path?: string; host?: string; port?: number } = {}): Promise<LoopbackReceiver> {
    const path = options.path ?? '/callback';
    const host = options.host ?? '127.0.0.1';
    let receiver!: LoopbackReceiver;
    const server = createServer((req, res) => receiver.handle(req.url ?? '/', req.method ?? 'GET', res));
    // A stray client must not hold the sign-in open.
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new LatchkeyError('internal', `Could not open a loopback port: ${err.message}`, { cause: err })));
      server.listen({ host, port: options.port ?? 0 }, resolve);
    });
    const { port } = server.address() as AddressInfo;
    receiver = new LoopbackReceiver(server, `http://${host}:${port}${path}`);
    return receiver;
  }

  waitForCallback(state: string, options?: WaitOptions): Promise<URL> {
    if (this.closed) return Promise.reject(new LatchkeyError('internal', 'The loopback receiver is closed.'));
    return this.pending.wait(state, options).finally(() => void this.close());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.rejectAll(new LatchkeyError('cancelled', 'The sign-in was cancelled.'));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(path: string, method: string, res: import('node:http').ServerResponse): void {
    const send = (status: number, title: string, body: string) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        'x-frame-options': 'DENY',
      });
      res.end(PAGE(title, body));
    };
    if (method !== 'GET') return send(405, 'Not allowed', 'This address only receives sign-in responses.');
    const origin = new URL(this.redirectUri);
    let parsed: { url: URL; state: string };
    try {
      parsed = parseCallbackUrl(`${origin.origin}${path}`, this.redirectUri);
    } catch (err) {
      return send(400, 'Not a sign-in response', (err as Error).message);
    }
    if (!this.pending.deliver(parsed.state, parsed.url)) {
      return send(400, 'Sign-in not recognised', UNKNOWN_STATE_MESSAGE);
    }
    const failed = parsed.url.searchParams.get('error');
    if (failed) {
      return send(200, 'Sign-in did not complete', 'The provider reported an error. Return to Latchkey for details; you can close this tab.');
    }
    send(200, 'Latchkey received your sign-in', 'You can close this tab and return to where you started.');
  }
}
