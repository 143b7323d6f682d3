/**
 * Consent in a desktop dialog started by the agent (zenity on GNOME and most
 * desktops, kdialog on KDE) when a display is present. The dialog is a child of
 * the agent, so a socket client cannot click it; it is killed when the prompt
 * times out or is cancelled.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Env } from '../platform/paths.js';
import type { ConsentDecision, ConsentPrompter, ConsentRequest } from './consent-prompter.js';
import { consentText } from './consent-prompter.js';

export type DialogTool = 'zenity' | 'kdialog';

export function findOnPath(command: string, env: Env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** The dialog tool to use, if a display and a tool are present. */
export function detectDialogTool(env: Env): { tool: DialogTool; path: string } | undefined {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  for (const tool of ['zenity', 'kdialog'] as const) {
    const path = findOnPath(tool, env);
    if (path) return { tool, path };
  }
  return undefined;
}

/**
 * argv for the dialog, and how to read its exit status back into a decision.
 * In both tools Enter and Escape mean Deny: "Always allow" is never the
 * default, and with an impostor warning the title says so too.
 */
export function dialogCommand(tool: DialogTool, r: ConsentRequest): { args: string[]; decide: (code: number | null, stdout: string) => ConsentDecision } {
  const text = consentText(r);
  const title = r.warning ? 'Latchkey: WARNING' : 'Latchkey';
  const seconds = Math.max(1, Math.round(r.timeoutMs / 1000));
  const account = r.accounts.length === 1 ? r.accounts[0]!.id : undefined;
  const allow = (decision: 'once' | 'always'): ConsentDecision => (account ? { decision, account } : { decision });
  if (tool === 'zenity') {
    return {
      args: ['--question', `--title=${title}`, `--text=${text}`, '--no-markup', '--default-cancel', '--ok-label=Allow once', '--cancel-label=Deny', '--extra-button=Always allow', `--timeout=${seconds}`],
      // zenity: 0 = OK, 1 = Cancel or extra button (its label on stdout), 5 = timeout.
      decide: (code, stdout) => (code === 0 ? allow('once') : stdout.trim() === 'Always allow' ? allow('always') : { decision: 'deny', reason: code === 5 ? 'The consent prompt timed out.' : 'Denied.' }),
    };
  }
  // kdialog's yes/no/cancel boxes always default to "yes" and have no option to change it, so a
  // menu whose first (current) entry is Deny: Enter picks Deny, Escape cancels, which denies too.
  return {
    args: ['--title', title, '--menu', text, 'deny', 'Deny', 'once', 'Allow once', 'always', 'Always allow', '--default', 'Deny'],
    // kdialog --menu: 0 with the chosen tag on stdout, 1 = cancel.
    decide: (code, stdout) => {
      const tag = code === 0 ? stdout.trim() : '';
      return tag === 'once' || tag === 'always' ? allow(tag) : { decision: 'deny', reason: 'Denied.' };
    },
  };
}

export class DialogPrompter implements ConsentPrompter {
  readonly name: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dialog: { tool: DialogTool; path: string },
    private readonly env: Env,
  ) {
    this.name = dialog.tool;
  }

  prompt(request: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision | undefined> {
    const next = this.queue.then(() => this.ask(request, signal));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private ask(r: ConsentRequest, signal: AbortSignal): Promise<ConsentDecision | undefined> {
    // Several apps asking for more than one account: the dialog cannot choose; let the next prompter try.
    if (r.accounts.length > 1) return Promise.resolve(undefined);
    if (signal.aborted) return Promise.resolve({ decision: 'deny', reason: 'The consent prompt timed out.' });
    const { args, decide } = dialogCommand(this.dialog.tool, r);
    return new Promise((resolve) => {
      const child = execFile(this.dialog.path, args, { env: { ...process.env, ...this.env }, timeout: r.timeoutMs + 5000 }, (err, stdout) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return resolve({ decision: 'deny', reason: 'The consent prompt timed out.' });
        const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
        if (typeof code !== 'number' && err) return resolve(undefined); // the tool failed to start: ask elsewhere
        resolve(decide(code, stdout));
      });
      const onAbort = () => child.kill('SIGTERM');
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
