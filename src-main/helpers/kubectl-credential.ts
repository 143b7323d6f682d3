/**
 * `latchkey kubectl-credential`: a client-go credential plugin (kubeconfig
 * `users[].user.exec`). kubectl runs it as a new process for each command and
 * reads one `ExecCredential` from stdout.
 *
 * Enforces:
 * - the answer's `apiVersion` is the one kubectl sent in
 *   `KUBERNETES_EXEC_INFO` (`client.authentication.k8s.io/v1` or `v1beta1`);
 *   any other version is refused rather than answered in a form kubectl
 *   would misread;
 * - a sign-in runs only when kubectl says a person can answer
 *   (`spec.interactive`); otherwise a sign-in-needed error is one line on
 *   stderr and a non-zero exit at once;
 * - `expirationTimestamp` makes kubectl ask again before the token expires.
 *
 * @see https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
 */
import type { WireToken } from '../wire/owner-contract.js';
import { LatchkeyError } from '../errors.js';

export const EXEC_CREDENTIAL_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecCredentialVersion = (typeof EXEC_CREDENTIAL_VERSIONS)[number];

export interface ExecInfo {
  apiVersion: ExecCredentialVersion;
  interactive: boolean | undefined;
  /** `spec.cluster.server`, with `provideClusterInfo: true`. */
  server: string | undefined;
}

/** Reads `KUBERNETES_EXEC_INFO`; without it (run by hand), v1 and no opinion on interactivity. */
export function parseExecInfo(text: string | undefined): ExecInfo {
  if (!text) return { apiVersion: EXEC_CREDENTIAL_VERSIONS[0], interactive: undefined, server: undefined };
  let raw: { apiVersion?: unknown; spec?: { interactive?: unknown; cluster?: { server?: unknown } } };
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LatchkeyError('usage', 'KUBERNETES_EXEC_INFO is not JSON.', { cause: err });
  }
  if (!(EXEC_CREDENTIAL_VERSIONS as readonly unknown[]).includes(raw?.apiVersion)) {
    throw new LatchkeyError('usage', `kubectl asked for ExecCredential ${String(raw?.apiVersion)}; Latchkey speaks ${EXEC_CREDENTIAL_VERSIONS.join(' and ')}.`);
  }
  const interactive = raw.spec?.interactive;
  const server = raw.spec?.cluster?.server;
  return { apiVersion: raw.apiVersion as ExecCredentialVersion, interactive: typeof interactive === 'boolean' ? interactive : undefined, server: typeof server === 'string' ? server : undefined };
}

/** The expiry (epoch seconds) a JWT's payload states; its signature was checked by the engine when it was received. */
function jwtExpiry(jwt: string): number | undefined {
  try {
    const exp = (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

export function execCredential(info: ExecInfo, token: WireToken, useIdToken: boolean): string {
  let value = token.access_token;
  let expiresAt = token.expires_at;
  if (useIdToken) {
    if (!token.id_token) throw new LatchkeyError('login_required', 'No ID token for this account and scope: ask for the "openid" scope (--scope "openid …"), or drop --id-token.');
    value = token.id_token;
    const exp = jwtExpiry(token.id_token);
    if (exp !== undefined) expiresAt = Math.min(exp, expiresAt ?? exp);
  }
  const status: Record<string, string> = { token: value };
  if (expiresAt !== undefined) status.expirationTimestamp = new Date(expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status })}\n`;
}
