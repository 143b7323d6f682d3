/**
 * Test-only: what the interop matrix needs from an independent OpenID
 * Provider started on 127.0.0.1 with a throw-away configuration, and the
 * process plumbing the fixtures share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { act, type ProviderPages } from '../browser.js';

export const FEATURES = [
  'loopback sign-in + PKCE',
  'private-use scheme sign-in',
  'ID token validation',
  'refresh',
  'refresh token rotation',
  'max_age',
  'revocation',
  'RP-initiated logout',
  'device grant',
  'client credentials',
] as const;
export type Feature = (typeof FEATURES)[number];

export interface InteropProvider {
  name: string;
  issuer: string;
  /** The public native client: PKCE, loopback and private-use-scheme redirects. */
  clientId: string;
  /** Set when the provider matches redirect URIs exactly, so the fixture registered this loopback port. */
  loopbackPort?: number;
  /** A confidential client allowed the client credentials grant, where the provider offers it. */
  serviceClient?: { clientId: string; clientSecret: string; scope: string };
  /** Scope the sign-ins ask for; default: what the engine derives from discovery. */
  scope?: string;
  /** `prompt` the provider needs for a refresh token, passed explicitly (OIDC Core §11). */
  offlinePrompt?: string;
  user: { login: string; password: string };
  pages: ProviderPages;
  /** Features the provider does not offer, each with why: reported as "unsupported by provider". */
  unsupported: Partial<Record<Feature, string>>;
  close(): Promise<void>;
}

export interface ProviderFixture {
  name: string;
  /** Why the provider cannot run here (a package is missing), or undefined. */
  missing(): string | undefined;
  start(): Promise<InteropProvider>;
}

/** The first of `paths` that is missing, as a skip reason naming the Debian package. */
export function missingFile(paths: readonly string[], packages: string): string | undefined {
  const absent = paths.find((p) => !existsSync(p));
  return absent ? `${absent} is not installed (apt-get install ${packages})` : undefined;
}

/** Where a provider's login form and its buttons are, as Playwright selectors. */
export interface FormSelectors {
  user: string;
  password: string;
  submit: string;
  consent: string;
  confirmLogout: string;
}

/**
 * The login, consent and logout steps of a provider whose pages are forms,
 * signing in as `person` unless the sign-in names someone else. On
 * re-authentication (max_age) the name shows greyed out and only the password
 * is asked, so the name is filled in only where it is editable.
 */
export function formSteps(selectors: FormSelectors, person: { login: string; password: string }): Pick<ProviderPages, 'login' | 'consent' | 'confirmLogout'> {
  return {
    login: async (page, options) => {
      if (await page.isEditable(selectors.user)) await page.fill(selectors.user, options.login ?? person.login);
      await page.fill(selectors.password, options.password ?? person.password);
      await act(page, () => page.click(selectors.submit));
    },
    consent: (page) => act(page, () => page.click(selectors.consent)),
    confirmLogout: (page) => act(page, () => page.click(selectors.confirmLogout)),
  };
}

/** A child process whose output is kept (bounded) for error messages, stopped with SIGTERM then SIGKILL. */
export class ServerProcess {
  private output = '';
  private exited = false;
  private readonly child: ChildProcess;

  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    // Its own process group, so stopping it also stops the workers it forks (LemonLDAP::NG's FastCGI server).
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    // Never leave a provider running: if this process ends without stop(), take the child along.
    const killOnExit = () => this.signalGroup('SIGKILL');
    process.once('exit', killOnExit);
    this.child.on('exit', () => {
      this.exited = true;
      process.off('exit', killOnExit);
    });
    this.child.on('error', (err) => {
      this.exited = true;
      this.output += `\n${err.message}`;
    });
  }

  get log(): string {
    return this.output;
  }

  /** Polls `ready` every 100 ms until it is true; fails with the server's output when it exits or the time is up. */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.label} exited while starting:\n${this.output}`);
      if (await ready().catch(() => false)) return;
      await sleep(100);
    }
    throw new Error(`${this.label} did not start within ${timeoutMs} ms:\n${this.output}`);
  }

  async stop(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.signalGroup('SIGTERM');
    const killed = await Promise.race([gone.then(() => true), sleep(3000).then(() => false)]);
    if (!killed) {
      this.signalGroup('SIGKILL');
      await gone;
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      if (this.child.pid) process.kill(-this.child.pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }
}

/** A temp dir that is removed when this process exits, even when interrupted; the returned function removes it now. */
export function throwAwayDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => {
    process.off('exit', remove);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  return { dir, remove };
}

/** `fetch` that answers with the body parsed as JSON, or throws with the status and body. */
export async function fetchJson(url: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}
