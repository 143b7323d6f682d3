/**
 * `latchkey aws-credential`: the AWS CLI's and SDKs' `credential_process`.
 * The exchange runs in the agent (which keeps the STS credentials in the
 * vault); this side resolves what only the tool's environment knows, since
 * the AWS CLI does not tell a credential_process which profile it serves.
 */
import type { CliIO } from './output.js';
import { toWireAwsRequest, type AwsCredentialRequest } from '../wire/aws-request.js';
import type { LatchkeyPaths } from '../platform/paths.js';
import { ownerCall } from '../helpers/owner-call.js';
import { personAtTerminal, withSignIn } from '../helpers/helper-run.js';

/** The command's options: the agent's request, with the region and endpoint still to be found in the environment. */
export type AwsCommandOptions = Omit<AwsCredentialRequest, 'region' | 'endpoint'> & { region?: string };

export async function runAwsCredential(io: CliIO, paths: LatchkeyPaths, o: AwsCommandOptions): Promise<void> {
  const endpoint = io.env.AWS_ENDPOINT_URL_STS || io.env.AWS_ENDPOINT_URL;
  const params = toWireAwsRequest({
    ...o,
    region: o.region || io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
  });
  const ctx = { io, paths, interactive: personAtTerminal(io) };
  const credentials = await withSignIn(ctx, o, () => ownerCall(paths, 'admin.aws.credentials', params, { env: io.env }));
  io.stdout.write(`${JSON.stringify(credentials)}\n`);
}
