/**
 * The AWS `credential_process` request (`admin.aws.credentials`) in its two
 * spellings: the CLI's and the agent's camelCase, and snake_case on the wire
 * (docs/protocol.md). One converter each way. Type imports only, so the lean
 * helper path can use it without loading zod.
 */
import type { AdminParams } from './owner-contract.js';

export interface AwsCredentialRequest {
  provider?: string;
  account?: string;
  scope?: string;
  roleArn: string;
  sessionName?: string;
  durationSeconds?: number;
  useAccessToken?: boolean;
  region: string;
  /** From AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL of the caller (the agent's own environment is not the tool's). */
  endpoint?: string;
}

type WireAwsRequest = AdminParams<'admin.aws.credentials'>;

/** Caller → wire. */
export function toWireAwsRequest(r: AwsCredentialRequest): WireAwsRequest {
  return {
    role_arn: r.roleArn,
    region: r.region,
    ...(r.provider ? { provider: r.provider } : {}),
    ...(r.account ? { account: r.account } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
    ...(r.sessionName ? { session_name: r.sessionName } : {}),
    ...(r.durationSeconds ? { duration_seconds: r.durationSeconds } : {}),
    ...(r.useAccessToken ? { use_access_token: true } : {}),
    ...(r.endpoint ? { endpoint: r.endpoint } : {}),
  };
}

/** Wire → agent: the inverse of {@link toWireAwsRequest}. */
export function fromWireAwsRequest(p: WireAwsRequest): AwsCredentialRequest {
  return {
    roleArn: p.role_arn,
    region: p.region,
    ...(p.provider ? { provider: p.provider } : {}),
    ...(p.account ? { account: p.account } : {}),
    ...(p.scope ? { scope: p.scope } : {}),
    ...(p.session_name ? { sessionName: p.session_name } : {}),
    ...(p.duration_seconds ? { durationSeconds: p.duration_seconds } : {}),
    ...(p.use_access_token ? { useAccessToken: true } : {}),
    ...(p.endpoint ? { endpoint: p.endpoint } : {}),
  };
}
