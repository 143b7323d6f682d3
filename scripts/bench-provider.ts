/**
 * The demo provider for `npm run bench`, in a child process of its own.
 *
 * Why not in the bench process: oidc-provider (and Koa under it) keep their
 * request context in an AsyncLocalStorage, and on Node 20 the first request
 * switches on promise hooks for the whole process: every promise anywhere in
 * it then costs ≈ 0.8 µs more (measured: a promise round ≈ 0.3 µs without,
 * ≈ 2.7 µs with). The agent never hosts a provider in real use (only `latchkey
 * demo` does), so a provider sharing the bench's process would charge the
 * agent and the SDK for something that is not theirs, and charge them more
 * than the echo they are compared with.
 *
 * Playwright's client keeps its "zones" in an AsyncLocalStorage too, so the
 * person's part of a sign-in (Chromium at the provider's pages) is played in
 * the same child: the bench process only forwards the authorization URL.
 *
 * The child answers over the IPC channel: its issuer once ready, how many
 * refresh-token grants it saw since the last reset, and sign-ins.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientMetadata } from 'oidc-provider';
import { startDemoProvider } from '../src-main/demo/demo-provider.js';
import { loginThroughOwner } from '../src-main/testing/owner-login.js';
import type { AdminClient } from '../src-main/cli/agent-connection.js';
import { silentLogger } from '../src-main/log/logger.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, signInAtProvider } from '../src-main/testing/browser.js';
import { withDeadline } from './bench-process.js';

/** What the bench asks of its provider. */
export interface BenchProvider {
  /** `http://127.0.0.1:<port>`. */
  issuer: string;
  /** Forgets the requests recorded so far. */
  resetStats(): Promise<void>;
  /** Successful-or-not token requests with `grant_type=refresh_token` since the last reset. */
  refreshes(): Promise<number>;
  /** Does what a person does at the provider's pages for `authorizationUrl`, in headless Chromium, as `login`. */
  signIn(authorizationUrl: string, login: string): Promise<void>;
  close(): Promise<void>;
}

export interface BenchProviderOptions {
  /** Clients registered beside the demo's own (the oidc-agent comparison adds one). */
  clients?: ClientMetadata[];
}

type Ask = { op: 'reset' | 'refreshes' } | { op: 'signIn'; url: string; login: string };
type Request = Ask & { seq: number };
type Reply = { ready: true; issuer: string } | { seq: number; value: number } | { seq: number; error: string };

const SELF = fileURLToPath(import.meta.url);

/** Starts the demo provider in a child process and waits until it listens. */
export async function startBenchProvider(options: BenchProviderOptions = {}): Promise<BenchProvider> {
  const child: ChildProcess = fork(SELF, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const waiting = new Map<number, (reply: Reply) => void>();
  let seq = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const issuer = await withDeadline(
    new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the bench provider exited (${code}) before it was ready`)));
      child.on('message', (m: Reply) => {
        if ('ready' in m) resolve(m.issuer);
        else waiting.get(m.seq)?.(m);
      });
    }),
    30_000,
    'starting the demo provider',
  );
  const ask = (request: Ask, timeoutMs = 10_000) =>
    withDeadline(
      new Promise<number>((resolve, reject) => {
        const n = ++seq;
        waiting.set(n, (reply) => {
          waiting.delete(n);
          if ('error' in reply) reject(new Error(reply.error));
          else if ('value' in reply) resolve(reply.value);
        });
        child.send({ ...request, seq: n } as Request);
      }),
      timeoutMs,
      `the demo provider answering ${request.op}`,
    );
  return {
    issuer,
    resetStats: async () => void (await ask({ op: 'reset' })),
    refreshes: () => ask({ op: 'refreshes' }),
    signIn: async (url, login) => void (await ask({ op: 'signIn', url, login }, 60_000)),
    close: async () => {
      child.kill('SIGTERM');
      await withDeadline(exited, 10_000, 'the demo provider stopping').catch(() => child.kill('SIGKILL'));
    },
  };
}

/** `admin.login` for `provider` over the owner socket; the provider's child plays the person's part in Chromium, as `login`. */
export async function signInThroughAgent(client: AdminClient, demo: BenchProvider, provider: string, login: string): Promise<void> {
  await loginThroughOwner(client, provider, (url) => demo.signIn(url, login));
}

/** The child: runs the provider until the parent goes away. */
async function serve(options: BenchProviderOptions): Promise<void> {
  const demo = await startDemoProvider({ port: 0, logger: silentLogger(), ...(options.clients ? { clients: options.clients } : {}) });
  process.on('message', (m: Request) => {
    if (m.op === 'signIn') {
      signIn(m.url, m.login).then(
        () => process.send!({ seq: m.seq, value: 0 } satisfies Reply),
        (err: unknown) => process.send!({ seq: m.seq, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
      );
      return;
    }
    if (m.op === 'reset') demo.stats.reset();
    const value = m.op === 'refreshes' ? demo.stats.tokenRequests.filter((t) => t.grant_type === 'refresh_token').length : 0;
    process.send!({ seq: m.seq, value } satisfies Reply);
  });
  // The parent died or closed the channel: nothing is left to serve.
  process.on('disconnect', () => void demo.close().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void demo.close().finally(() => process.exit(0)));
  process.send!({ ready: true, issuer: demo.issuer } satisfies Reply);
}

async function signIn(url: string, login: string): Promise<void> {
  // Without the session bus: Chromium on a bus with no desktop behind it wakes
  // xdg-desktop-portal, whose warnings would be printed in the middle of the report.
  const { DBUS_SESSION_BUS_ADDRESS: _bus, ...env } = process.env;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS], env });
  try {
    await signInAtProvider(browser, url, { login });
  } finally {
    await withDeadline(browser.close(), 10_000, 'closing Chromium');
  }
}

if (process.argv[1] === SELF && process.send) await serve(JSON.parse(process.argv[2] ?? '{}') as BenchProviderOptions);
