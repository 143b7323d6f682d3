/**
 * AWS credentials for `latchkey aws-credential` (the AWS CLI's and SDKs'
 * `credential_process`): the account's ID token (or access token) exchanged
 * at STS `AssumeRoleWithWebIdentity`, with the AWS SDK's own STS client (no
 * hand-made requests).
 *
 * Enforces:
 * - the STS credentials are kept in the vault and handed out again while
 *   they have more than 15 minutes left (the AWS CLI asks for every command,
 *   and STS calls are rate-limited);
 * - the web identity token never appears in an error message or a log;
 * - every hand-out is recorded in the activity log as "aws" with the role.
 *
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 * @see https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html
 */
import { LatchkeyError, asLatchkeyError } from '../errors.js';
import type { OidcEngine } from '../engine/oidc-engine.js';
import type { TokenBroker } from '../broker/token-broker.js';
import type { DocumentStore, StsSessionRecord, VaultDocument } from '../store/vault-document.js';
import type { ProcessCredentials } from '../wire/owner-contract.js';
import type { AwsCredentialRequest } from '../wire/aws-request.js';

/** Hand out kept credentials only while they last at least this long. */
export const MIN_REMAINING_MS = 15 * 60_000;

/** What the exchange needs from the agent. */
export interface AwsCredentialDeps {
  store: DocumentStore<VaultDocument>;
  engine: OidcEngine;
  broker: TokenBroker;
  now: () => number;
}

function toProcessCredentials(s: StsSessionRecord): ProcessCredentials {
  return { Version: 1, AccessKeyId: s.accessKeyId, SecretAccessKey: s.secretAccessKey, SessionToken: s.sessionToken, Expiration: new Date(s.expiresAt).toISOString() };
}

export async function awsCredentials(deps: AwsCredentialDeps, r: AwsCredentialRequest): Promise<ProcessCredentials> {
  const token = await deps.engine.getToken({ ...(r.provider ? { provider: r.provider } : {}), ...(r.account ? { account: r.account } : {}), ...(r.scope ? { scope: r.scope } : {}) });
  const account = token.account ?? r.provider ?? 'service';
  const sessionName = r.sessionName ?? 'latchkey';
  const key = JSON.stringify([account, r.roleArn, sessionName, Boolean(r.useAccessToken), r.endpoint ?? '', r.region, r.durationSeconds ?? 0]);
  const record = (s: StsSessionRecord) => deps.broker.noteOwnerToken({ account, scope: token.scope, accessToken: s.accessKeyId }, undefined, { client: 'aws', target: `role ${r.roleArn}` });
  const kept = deps.store.read().stsSessions.find((s) => s.key === key && s.expiresAt - deps.now() > MIN_REMAINING_MS);
  if (kept) {
    record(kept);
    return toProcessCredentials(kept);
  }
  const webIdentity = r.useAccessToken ? token.accessToken : token.idToken;
  if (!webIdentity) {
    throw new LatchkeyError('login_required', 'This account has no ID token for STS: sign in with the "openid" scope, or pass --use-access-token.');
  }
  // Loaded on demand: the SDK is large, and only this command needs it.
  const { STSClient, AssumeRoleWithWebIdentityCommand } = await import('@aws-sdk/client-sts');
  const client = new STSClient({ region: r.region, ...(r.endpoint ? { endpoint: r.endpoint } : {}), maxAttempts: 2 });
  let answer;
  try {
    answer = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: r.roleArn,
        RoleSessionName: sessionName,
        WebIdentityToken: webIdentity,
        ...(r.durationSeconds ? { DurationSeconds: r.durationSeconds } : {}),
      }),
    );
  } catch (err) {
    const e = err as { name?: string; message?: string };
    // STS's own words (e.g. InvalidIdentityToken, AccessDenied); the request (with the token) is not repeated.
    throw new LatchkeyError(e.name === 'AccessDenied' ? 'access_denied' : 'provider_error', `STS AssumeRoleWithWebIdentity for ${r.roleArn} failed: ${e.name ?? 'error'}: ${e.message ?? asLatchkeyError(err).message}`, { providerError: e.name ?? 'sts_error' });
  } finally {
    client.destroy();
  }
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new LatchkeyError('invalid_response', 'STS answered without credentials.');
  const session: StsSessionRecord = { key, account, roleArn: r.roleArn, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiresAt: c.Expiration.getTime() };
  await deps.store.update((d) => {
    // Expired sessions go; one per key.
    d.stsSessions = [...d.stsSessions.filter((s) => s.key !== key && s.expiresAt > deps.now()), session];
  });
  record(session);
  return toProcessCredentials(session);
}
