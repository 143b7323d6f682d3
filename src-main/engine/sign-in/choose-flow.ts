/**
 * Picks the sign-in flow for what the person asked, so that callers (the
 * agent's `admin.login`, the desktop app, the broker) pass the request on
 * instead of choosing a flow themselves. It enforces:
 * - `device` runs the device authorization grant, which takes none of the
 *   browser request's options (`max_age`, `prompt`, `login_hint`, `resource`);
 * - otherwise authorization code + PKCE, with the receiver the provider's
 *   redirect mode asks for;
 * - the caller can show what the flow needs (an authorization URL, a user code).
 */
import { LatchkeyError } from '../../errors.js';
import { AuthorizationCodeFlow, type OpenReceiver } from './authorization-code-flow.js';
import { DeviceAuthorizationFlow } from './device-authorization-flow.js';
import type { SignInFlow, SignInRequest } from './sign-in-flow.js';

export interface FlowChoiceOptions {
  openReceiver: OpenReceiver;
  callbackTimeoutMs?: number | undefined;
}

export function chooseSignInFlow(request: SignInRequest, options: FlowChoiceOptions): SignInFlow {
  if (request.device) {
    if (request.maxAge !== undefined || request.prompt || request.loginHint || request.resource) {
      throw new LatchkeyError('usage', '--device cannot be combined with --max-age, --prompt, --login-hint or --resource.');
    }
    if (!request.onUserCode) throw new LatchkeyError('usage', 'This client cannot show a device sign-in code; sign in in the browser instead.');
    return new DeviceAuthorizationFlow(request.onUserCode);
  }
  if (!request.onAuthorizationUrl) throw new LatchkeyError('usage', 'This client cannot open a browser sign-in; sign in with a code (--device) instead.');
  return new AuthorizationCodeFlow({
    maxAge: request.maxAge,
    prompt: request.prompt,
    loginHint: request.loginHint,
    resource: request.resource,
    openReceiver: options.openReceiver,
    onAuthorizationUrl: request.onAuthorizationUrl,
    callbackTimeoutMs: options.callbackTimeoutMs,
  });
}
