/** The commands other tools run for a token: `exec`, `kubectl-credential` (both on the lean path; here for `--help` and usage errors) and `aws-credential`. */
import type { Command } from 'commander';
import { LatchkeyError } from '../../errors.js';
import { DEFAULT_TOKEN_ENV } from '../../helpers/exec-command.js';
import { runAwsCredential, type AwsCommandOptions } from '../aws-command.js';
import type { CommandKit } from './command-kit.js';
import { accountOption, providerOption, resourceOption, scopeOption, seconds } from './options.js';

export function addHelperCommands(program: Command, kit: CommandKit): void {
  const { io, paths } = kit;
  program
    .command('exec')
    .description('Run a program with an access token in its environment; exits with its status')
    .usage('[options] -- <command> [args...]')
    .addOption(accountOption())
    .addOption(providerOption())
    .addOption(scopeOption())
    .addOption(resourceOption())
    .option('--env <name>', `the environment variable that gets the token (default ${DEFAULT_TOKEN_ENV})`)
    .argument('<command...>')
    .action(async () => {
      // Usually not reached: entry.ts runs `exec` on the lean path; this is for --help and usage errors.
      throw new LatchkeyError('usage', 'Put `--` before the program: `latchkey exec [options] -- <command> [args...]`.');
    });

  program
    .command('kubectl-credential')
    .description('Print an ExecCredential for kubectl (kubeconfig users[].user.exec)')
    .addOption(providerOption())
    .addOption(accountOption())
    .addOption(scopeOption())
    .addOption(resourceOption())
    .option('--id-token', 'send the ID token instead of the access token (clusters that trust the provider as an OIDC issuer)')
    .action(async () => {
      // Not reached with valid options: entry.ts runs this command on the lean path.
      throw new LatchkeyError('usage', 'See `latchkey kubectl-credential --help`.');
    });

  program
    .command('aws-credential')
    .description('Print AWS credentials for credential_process (STS AssumeRoleWithWebIdentity with your ID token)')
    .requiredOption('--role-arn <arn>', 'the IAM role to assume')
    .addOption(providerOption())
    .addOption(accountOption())
    .addOption(scopeOption('scopes of the token exchanged'))
    .option('--session-name <name>', 'RoleSessionName (default "latchkey")')
    .option('--duration-seconds <seconds>', 'how long the STS credentials last (900–43200)', seconds)
    .option('--use-access-token', 'exchange the access token instead of the ID token')
    .option('--region <region>', 'STS region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1); the endpoint follows $AWS_ENDPOINT_URL_STS or $AWS_ENDPOINT_URL')
    .action(async (o: AwsCommandOptions) => runAwsCredential(io, paths, o));
}
