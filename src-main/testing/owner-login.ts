/**
 * `admin.login` over the owner socket, as `latchkey login` does it, with a
 * stand-in for the person: `signInAt` gets the authorization URL the agent
 * announces and does what the person would do in a browser. If that fails,
 * the sign-in is cancelled and its error is what the caller sees (rather than
 * the agent's timeout a minute later).
 */
import type { CallOptions } from '../wire/rpc-client.js';
import { LOGIN_NOTIFICATIONS, type AdminResults, type AuthorizationUrlNotification } from '../wire/owner-contract.js';

/** The one call this needs, so both the CLI's typed client and a bare RPC client fit. */
interface LoginCaller {
  call(method: 'admin.login', params: { provider: string }, options: CallOptions): Promise<unknown>;
}

export async function loginThroughOwner(owner: LoginCaller, provider: string, signInAt: (url: string) => Promise<unknown>): Promise<AdminResults['admin.login']> {
  const abort = new AbortController();
  let failure: unknown;
  const result = await owner
    .call('admin.login', { provider }, {
      signal: abort.signal,
      timeoutMs: 60_000,
      onNotification: (method, params) => {
        if (method !== LOGIN_NOTIFICATIONS.authorizationUrl) return;
        signInAt((params as AuthorizationUrlNotification).url).catch((err: unknown) => {
          failure = err;
          abort.abort(err);
        });
      },
    })
    .catch((err: unknown) => {
      throw failure ?? err;
    });
  return result as AdminResults['admin.login'];
}
