/**
 * Sign-in flows as objects behind one interface, as VS Code's auth providers
 * have them: each OAuth 2.0 grant that ends in a token response is a
 * {@link SignInFlow}, and the engine runs whichever one
 * {@link chooseSignInFlow} picks for what the person asked. The engine does
 * what is common to all of them (the provider, its configuration, the scope,
 * naming and saving the account, the missing-refresh-token warning); a flow
 * only runs its grant.
 * - {@link AuthorizationCodeFlow}: authorization code + PKCE in the system
 *   browser, with a loopback or private-use-scheme callback receiver;
 * - {@link DeviceAuthorizationFlow}: RFC 8628, for sessions without a browser;
 * - {@link ClientCredentialsFlow}: service profiles, no person involved.
 * Plain OAuth 2.0 providers (GitHub included) run the same flows; what differs
 * lives in their openid-client configuration (oauth2-configuration.ts).
 */
import type * as oidc from 'openid-client';
import type { Logger } from '../../log/logger.js';
import type { ProviderRecord } from '../../store/vault-document.js';
import type { ProviderFlow } from '../provider-metadata.js';
import type { SignInWarning } from '../offline-access.js';

/** A token endpoint response as openid-client returns it (validated, with `claims()`). */
export type GrantResponse = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/** What the person needs to finish a device sign-in elsewhere (RFC 8628 §3.2). */
export interface UserCodeInfo {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  /** Seconds the code stays valid. */
  expiresIn: number;
}

/** What the person asked for when signing in; the engine picks the flow from it. */
export interface SignInRequest {
  provider?: string;
  scope?: string;
  /** Sign in on another device with a code (RFC 8628) instead of in a browser here. */
  device?: boolean;
  /** OIDC `max_age`: re-authenticate if the provider session is older (seconds). */
  maxAge?: number;
  prompt?: string;
  loginHint?: string;
  resource?: string;
  /** Names the account at a plain OAuth 2.0 provider without a userinfo endpoint. */
  accountName?: string;
  signal?: AbortSignal;
  /** Called with the authorization URL; the caller opens the browser or prints it. */
  onAuthorizationUrl?: (url: string) => void | Promise<void>;
  /** Called with the code to enter elsewhere, for a device sign-in. */
  onUserCode?: (info: UserCodeInfo) => void | Promise<void>;
  /** Called before the sign-in resolves with what the person should know, e.g. that no refresh token came back. */
  onWarning?: (warning: SignInWarning) => void;
}

/** What the engine gives every flow. */
export interface FlowContext {
  provider: ProviderRecord;
  config: oidc.Configuration;
  /** The scope to ask for, normalised; may be empty (plain OAuth 2.0). */
  scope: string;
  signal?: AbortSignal | undefined;
  log: Logger;
}

/** A flow's token response, and how it asked (for offline-access.ts's warning). */
export interface FlowGrant {
  tokens: GrantResponse;
  /** `prompt` as sent; undefined where the flow has none. */
  prompt?: string | undefined;
  /** Whether the person chose that prompt. */
  promptChosen: boolean;
}

export interface SignInFlow {
  /** The grant the flow runs, in provider-metadata.ts's terms. */
  readonly grant: ProviderFlow;
  /** Refuses, before anything reaches the provider, a request this flow cannot honour with `provider`. */
  assertFits?(provider: ProviderRecord): void;
  /** Runs the grant to its token response; ends with `cancelled` when `signal` aborts while waiting for the person. */
  run(context: FlowContext): Promise<FlowGrant>;
}
