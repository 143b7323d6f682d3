/**
 * `latchkey login`: asks the agent to run a sign-in, opens the browser on this
 * side (the agent may have been started from another session, without our
 * $DISPLAY or $BROWSER), shows progress, and cancels cleanly on Ctrl-C.
 */
import { LatchkeyError } from '../errors.js';
import { browserAvailable, systemBrowserLauncher, type BrowserLauncher } from '../engine/browser-launcher.js';
import {
  LOGIN_NOTIFICATIONS,
  type AdminParams,
  type AdminResults,
  type AuthorizationUrlNotification,
  type DeviceCodeNotification,
} from '../wire/owner-contract.js';
import type { AdminClient } from './agent-connection.js';
import { accountLabel, jsonText, startSpinner, type CliIO } from './output.js';

export interface LoginCommandOptions {
  params: AdminParams<'admin.login'>;
  noBrowser: boolean;
  json: boolean;
  browser?: BrowserLauncher;
}

export async function runLogin(client: AdminClient, io: CliIO, options: LoginCommandOptions): Promise<AdminResults['admin.login']> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new LatchkeyError('cancelled', 'Sign-in cancelled.'));
  process.once('SIGINT', onSigint);
  let spinner: { stop(final?: string): void } | undefined;
  const browser = options.browser ?? systemBrowserLauncher(io.env);
  // No display (SSH, a container): say so at once instead of "opening" a browser nobody sees.
  const noDisplay = !options.noBrowser && !options.browser && !browserAvailable(io.env);
  const onNotification = (method: string, params: unknown) => {
    if (method === LOGIN_NOTIFICATIONS.authorizationUrl) {
      const { url } = params as AuthorizationUrlNotification;
      void showAuthorizationUrl(url).then(() => {
        spinner = startSpinner(io, 'Waiting for you to finish signing in in the browser… (Ctrl-C to cancel)');
      });
    } else if (method === LOGIN_NOTIFICATIONS.deviceCode) {
      const d = params as DeviceCodeNotification;
      io.stderr.write(
        `To sign in, open ${d.verification_uri} on any device and enter the code:\n\n    ${d.user_code}\n\n` +
          (d.verification_uri_complete ? `(or open ${d.verification_uri_complete})\n` : '') +
          `The code expires in ${Math.round(d.expires_in / 60)} min.\n`,
      );
      spinner = startSpinner(io, 'Waiting for the sign-in to be approved… (Ctrl-C to cancel)');
    }
  };
  const showAuthorizationUrl = async (url: string) => {
    if (noDisplay) {
      io.stderr.write(
        `No display here to open a browser on. Open this URL in a browser on this machine to sign in:\n\n  ${url}\n\n` +
          `Or sign in on another device with a code: \`latchkey login${options.params.provider ? ` --provider ${options.params.provider}` : ''} --device\`.\n`,
      );
      return;
    }
    if (options.noBrowser) {
      io.stderr.write(`Open this URL in a browser to sign in:\n\n  ${url}\n\n`);
      return;
    }
    try {
      await browser.open(url);
      io.stderr.write(`Opened your browser to sign in. If it did not open, visit:\n\n  ${url}\n\n`);
    } catch (err) {
      io.stderr.write(`${(err as Error).message}\nOpen this URL in a browser to sign in:\n\n  ${url}\n\n`);
    }
  };
  try {
    const result = await client.call('admin.login', options.params, { signal: controller.signal, onNotification, timeoutMs: 0 });
    spinner?.stop();
    if (options.json) io.stdout.write(jsonText(result.account));
    else io.stdout.write(`Signed in as ${accountLabel(result.account)} — account ${result.account.id} (provider ${result.account.provider})\n`);
    for (const w of result.warnings ?? []) io.stderr.write(`warning: ${w.message}\n`);
    return result;
  } catch (err) {
    spinner?.stop();
    // The RPC layer reports an abort in its own words; the person pressed Ctrl-C and reads ours.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
