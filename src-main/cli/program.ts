/**
 * The `latchkey` command line. Each command is a thin call to the agent; the
 * agent owns the vault. Output for people goes to stderr, output for scripts
 * (a token, JSON) to stdout, so `$(latchkey token)` captures just the token.
 */
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LatchkeyError } from '../errors.js';
import { resolvePaths, type LatchkeyPaths } from '../platform/paths.js';
import { agentOnDemand, startBackgroundAgent, type AdminClient } from './agent-connection.js';
import { runLogin } from './login-command.js';
import type { AdminParams } from '../agent/admin-contract.js';
import { addHost, listHosts, removeHost } from './host-command.js';
import { runAwsCredential, type AwsCommandOptions } from './aws-command.js';
import { accountLabel, relativeTime, table, terminalOf, type CliIO } from './output.js';
import { runForegroundAgent } from './agent-foreground.js';
import { LATCHKEY_VERSION } from '../version.js';
import { PRESET_NAMES, type PresetName, type PresetOptions } from '../engine/provider-presets.js';
import { shortFingerprint } from '../broker/short-fingerprint.js';
import { accountName } from '../engine/account-name.js';
import { isAbsoluteUrl, isScope, isSeconds } from './arg-checks.js';
import { TOKEN_FORMATS, runTokenCommand, tokenParams } from '../helpers/token-command.js';
import { ADMIN_PARAMS } from '../agent/admin-contract.js';
import { parseCliInput } from './input-errors.js';
import { DEFAULT_TOKEN_ENV } from '../helpers/exec-command.js';

export interface CliContext {
  io: CliIO;
  paths: LatchkeyPaths;
  /** Runs the agent in this process (`latchkey agent --foreground`). */
  runAgent: (options: { backgroundChild: boolean; passphrase?: () => Promise<string>; logFormat?: 'text' | 'json' }) => Promise<void>;
  /** Reads all of stdin (for `--client-secret -`). */
  readStdin: () => Promise<string>;
  /** Moves a broken vault aside (`latchkey vault reset`). */
  resetVault: () => Promise<string | undefined>;
}

function seconds(value: string): number {
  if (!isSeconds(value)) throw new InvalidArgumentError('expected a whole number of seconds.');
  return Number(value);
}

function scopeArg(value: string): string {
  if (!isScope(value)) throw new InvalidArgumentError('expected space-separated scope names, e.g. "openid profile".');
  return value.trim();
}

function portArg(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 1 to 65535.');
  return Number(value);
}

function urlArg(value: string): string {
  if (!isAbsoluteUrl(value)) throw new InvalidArgumentError('expected an absolute URL.');
  return value;
}

interface ProviderAddOptions extends PresetOptions {
  issuer?: string;
  clientId: string;
  clientSecret?: string;
  scope?: string;
  redirect: 'loopback' | 'scheme';
  loopbackPort?: number;
  service?: boolean;
  oauth2?: boolean;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  deviceAuthorizationEndpoint?: string;
  revocationEndpoint?: string;
  userinfoEndpoint?: string;
  accountClaim?: string;
  refreshWithoutConsent?: boolean;
  preset?: PresetName | 'github';
  json?: boolean;
}

/** The `--oauth2` options as wire params; the endpoint options without `--oauth2` are a mistake worth naming. */
function oauth2Params(o: ProviderAddOptions): AdminParams<'admin.providers.add'>['oauth2'] {
  const wire = {
    ...(o.authorizationEndpoint ? { authorization_endpoint: o.authorizationEndpoint } : {}),
    ...(o.tokenEndpoint ? { token_endpoint: o.tokenEndpoint } : {}),
    ...(o.deviceAuthorizationEndpoint ? { device_authorization_endpoint: o.deviceAuthorizationEndpoint } : {}),
    ...(o.revocationEndpoint ? { revocation_endpoint: o.revocationEndpoint } : {}),
    ...(o.userinfoEndpoint ? { userinfo_endpoint: o.userinfoEndpoint } : {}),
    ...(o.accountClaim ? { account_claim: o.accountClaim } : {}),
  };
  if (o.oauth2) return wire;
  if (Object.keys(wire).length && !o.preset) {
    throw new LatchkeyError('usage', 'The endpoint options (--authorization-endpoint, --userinfo-endpoint, …) are for plain OAuth 2.0 providers: add --oauth2.');
  }
  return Object.keys(wire).length ? wire : undefined;
}

export function buildProgram(ctx: CliContext): Command {
  const { io, paths } = ctx;
  const out = (text: string): void => void io.stdout.write(text);
  const json = (value: unknown): void => out(`${JSON.stringify(value, null, 2)}\n`);
  const withAgent = async <T>(fn: (client: AdminClient) => Promise<T>, autoStart = true): Promise<T> => {
    const terminal = terminalOf(io);
    const client = agentOnDemand(paths, { autoStart, env: io.env, ...(terminal ? { terminal } : {}) });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };

  const program = new Command('latchkey')
    .description('Sign in to OpenID Connect providers and hand tokens to local apps, with your consent.')
    .version(LATCHKEY_VERSION, '-V, --version')
    .showHelpAfterError('(run `latchkey help` or add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // One error style: commander's own "error: …" reads like every other failure, "latchkey: …".
      outputError: (s, write) => write(s.replace(/^error: /, 'latchkey: ')),
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Quick start:
  latchkey demo                       start the built-in demo provider
  latchkey login --provider demo      sign in (any user name and password work)
  latchkey token                      print an access token

Environment:
  LATCHKEY_HOME             data directory (vault, config, logs)
  LATCHKEY_SOCKET           agent socket path
  LATCHKEY_PASSPHRASE_FILE  use a passphrase from this file instead of the OS keyring
  BROWSER                   command used to open sign-in pages

Exit codes: 0 ok, 1 failure, 2 usage or config, 3 sign-in needed, 4 provider error,
            5 vault or key error, 6 agent unavailable, 7 denied, 130 cancelled.`,
  );

  const agent = program
    .command('agent')
    .description('Run the Latchkey agent, which owns the vault (started automatically when needed)')
    .argument('[action]', '"start" (default) or "stop"', 'start')
    .option('--foreground', 'run in this terminal instead of the background')
    .addOption(new Option('--log-format <format>', 'with --foreground: log lines as text (default on a terminal) or json').choices(['text', 'json']))
    .addOption(new Option('--background-child').hideHelp())
    .addOption(new Option('--passphrase-stdin', 'the CLI that starts the agent passes the vault passphrase on stdin').hideHelp())
    .action(async (action: string, opts: { foreground?: boolean; backgroundChild?: boolean; passphraseStdin?: boolean; logFormat?: 'text' | 'json' }) => {
      if (action === 'stop') {
        const stopped = await withAgent((c) => c.call('admin.stop', {}), false).catch((err) => {
          if (err instanceof LatchkeyError && err.code === 'agent_unavailable') return undefined;
          throw err;
        });
        io.stderr.write(stopped ? 'Latchkey agent stopping.\n' : 'The Latchkey agent is not running.\n');
        return;
      }
      if (action !== 'start') throw new LatchkeyError('usage', `Unknown agent action "${action}"; use "start" or "stop".`);
      if (opts.foreground) {
        const foreground = { backgroundChild: Boolean(opts.backgroundChild), ...(opts.passphraseStdin ? { readPassphrase: ctx.readStdin } : {}), ...(opts.logFormat ? { logFormat: opts.logFormat } : {}) };
        return runForegroundAgent(io, paths, foreground, ctx.runAgent);
      }
      const running = await withAgent((c) => c.call('admin.status', {}), false).catch(() => undefined);
      if (running) {
        io.stderr.write(`The Latchkey agent is already running (pid ${running.pid}).\n`);
        return;
      }
      const terminal = terminalOf(io);
      const pid = await startBackgroundAgent(paths, { env: io.env, ...(terminal ? { terminal } : {}) });
      io.stderr.write(`Latchkey agent started (pid ${pid}); logs in ${paths.log}\n`);
    });
  void agent;

  const provider = program.command('provider').description('Manage OpenID providers');
  provider
    .command('add')
    .description('Add a provider (checked with a live discovery request)')
    .argument('<name>', 'a short name, e.g. "work"')
    .option('--issuer <url>', 'the issuer URL, e.g. https://login.example.com (with --preset: replaces the one it builds)', urlArg)
    .requiredOption('--client-id <id>', 'the client id registered for Latchkey at the provider')
    .option('--client-secret <secret>', 'client secret for confidential clients; "-" reads it from stdin (safer than argv)')
    .option('--scope <scopes>', 'default scopes (default: what the provider supports of "openid profile email offline_access")', scopeArg)
    .addOption(new Option('--redirect <mode>', 'how the browser returns to Latchkey').choices(['loopback', 'scheme']).default('loopback'))
    .option('--loopback-port <port>', 'a fixed port for the loopback redirect, for providers that cannot allow any port', portArg)
    .option('--service', 'a service profile: tokens via client credentials, no user sign-in')
    .option('--refresh-without-consent', 'the provider issues refresh tokens without prompt=consent: do not ask for consent at every sign-in')
    .addOption(new Option('--preset <name>', 'fill in what a known provider needs (see the README)').choices([...PRESET_NAMES, 'github']))
    .option('--tenant <id>', 'microsoft: the Directory (tenant) ID')
    .option('--domain <host>', 'okta, auth0: your org\'s domain, e.g. dev-123456.okta.com')
    .option('--authorization-server <id>', 'okta: a custom authorization server id (default "default"), or "org"')
    .option('--audience <api>', 'auth0: the API identifier to get access tokens for')
    .option('--realm <name>', 'keycloak: the realm')
    .option('--base-url <url>', 'keycloak, gitlab (self-managed): the server URL', urlArg)
    .option('--oauth2', 'plain OAuth 2.0, no OpenID Connect: RFC 8414 metadata from --issuer, or the endpoints below')
    .option('--authorization-endpoint <url>', '(--oauth2) the authorization endpoint, given by hand', urlArg)
    .option('--token-endpoint <url>', '(--oauth2) the token endpoint, given by hand', urlArg)
    .option('--device-authorization-endpoint <url>', '(--oauth2) the device authorization endpoint (RFC 8628)', urlArg)
    .option('--revocation-endpoint <url>', '(--oauth2) the token revocation endpoint (RFC 7009)', urlArg)
    .option('--userinfo-endpoint <url>', '(--oauth2) a URL answering the signed-in user as JSON; it names the account', urlArg)
    .option('--account-claim <member>', '(--oauth2) the member of that JSON that names the account (default: sub, id, login or email)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: ProviderAddOptions) => {
      let secret = o.clientSecret;
      if (secret === '-') secret = (await ctx.readStdin()).replace(/\r?\n$/, '');
      const presetOptions = Object.fromEntries(
        Object.entries({ tenant: o.tenant, domain: o.domain, authorization_server: o.authorizationServer, audience: o.audience, realm: o.realm, base_url: o.baseUrl }).filter(([, v]) => v !== undefined),
      );
      const oauth2 = oauth2Params(o);
      const params = {
        name,
        client_id: o.clientId,
        redirect: o.redirect,
        ...(o.issuer ? { issuer: o.issuer } : {}),
        ...(secret ? { client_secret: secret } : {}),
        ...(o.scope ? { scope: o.scope } : {}),
        ...(o.loopbackPort ? { loopback_port: o.loopbackPort } : {}),
        ...(o.service ? { service: true } : {}),
        ...(o.refreshWithoutConsent ? { refresh_without_consent: true } : {}),
        ...(oauth2 ? { oauth2 } : {}),
        ...(o.preset ? { preset: o.preset } : {}),
        ...(Object.keys(presetOptions).length ? { preset_options: presetOptions } : {}),
      };
      const { provider: p } = await withAgent((c) => c.call('admin.providers.add', params));
      if (o.json) return json(p);
      io.stderr.write(
        `Added provider "${p.name}" (${p.issuer}, ${p.protocol === 'oauth2' ? 'plain OAuth 2.0' : 'OpenID Connect'})${p.preset ? ` from preset ${p.preset}` : ''}, ${p.kind === 'service' ? 'service profile' : `scopes "${p.scope || '(none)'}", ${p.redirect} redirect`}.\n`,
      );
      if (p.protocol === 'oauth2' && p.kind === 'user' && !p.userinfoEndpoint) {
        io.stderr.write(`Without a userinfo endpoint Latchkey cannot tell who signs in: name the account at sign-in, e.g. latchkey login --provider ${p.name} --account-name NAME\n`);
      }
    });
  provider
    .command('list')
    .description('List providers')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { providers } = await withAgent((c) => c.call('admin.providers.list', {}));
      if (o.json) return json(providers);
      if (providers.length === 0) return void io.stderr.write('No providers yet. Add one with `latchkey provider add`, or run `latchkey demo`.\n');
      out(
        table([
          ['NAME', 'ISSUER', 'CLIENT ID', 'PROTOCOL', 'KIND', 'REDIRECT', 'REFRESH', 'ACCOUNTS'],
          ...providers.map((p) => [p.name, p.issuer, p.clientId, p.protocol, p.kind, p.kind === 'service' ? '-' : p.redirect, p.kind === 'service' ? '-' : p.refreshWithoutConsent ? 'without consent' : 'prompt=consent', String(p.accounts)]),
        ]),
      );
    });
  provider
    .command('remove')
    .description('Remove a provider')
    .argument('<name>')
    .option('--force', 'sign out its accounts first')
    .action(async (name: string, o: { force?: boolean }) => {
      const r = await withAgent((c) => c.call('admin.providers.remove', { name, ...(o.force ? { force: true } : {}) }));
      io.stderr.write(`Removed provider "${r.removed}"${r.signed_out.length ? ` and signed out ${r.signed_out.join(', ')}` : ''}.\n`);
    });

  program
    .command('login')
    .description('Sign in with a provider in your browser; prints the account')
    .option('--provider <name>', 'which provider (default: the only one)')
    .option('--scope <scopes>', 'scopes to ask for (default: the provider\'s)', scopeArg)
    .option('--max-age <seconds>', 'ask the provider to re-authenticate if your session there is older', seconds)
    .addOption(new Option('--prompt <prompt>', 'OIDC prompt').choices(['none', 'login', 'consent', 'select_account']))
    .option('--login-hint <hint>', 'user name or email to suggest at the provider')
    .option('--resource <uri>', 'target API (RFC 8707 resource indicator)', urlArg)
    .option('--no-browser', 'print the sign-in URL instead of opening a browser')
    .option('--device', 'sign in on another device with a code (for SSH and headless sessions)')
    .option('--account-name <name>', 'name the account (plain OAuth 2.0 providers without a userinfo endpoint)')
    .option('--json', 'print the account as JSON')
    .action(async (o: { provider?: string; scope?: string; maxAge?: number; prompt?: 'none'; loginHint?: string; resource?: string; browser: boolean; device?: boolean; accountName?: string; json?: boolean }) => {
      const params = {
        ...(o.provider ? { provider: o.provider } : {}),
        ...(o.scope ? { scope: o.scope } : {}),
        ...(o.maxAge !== undefined ? { max_age: o.maxAge } : {}),
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.loginHint ? { login_hint: o.loginHint } : {}),
        ...(o.resource ? { resource: o.resource } : {}),
        ...(o.device ? { device: true } : {}),
        ...(o.accountName !== undefined ? { account_name: o.accountName } : {}),
      };
      await withAgent((c) => runLogin(c, io, { params, noBrowser: !o.browser, json: Boolean(o.json) }));
    });

  program
    .command('token')
    .description('Print an access token (refreshed when needed)')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--provider <name>', 'pick the account by provider; for a service profile, use client credentials')
    .option('--scope <scopes>', 'narrow the token to these scopes', scopeArg)
    .option('--resource <uri>', 'audience-restrict the token (RFC 8707)', urlArg)
    .option('--min-ttl <seconds>', 'refresh unless the token is valid at least this long', seconds)
    .option('--max-age <seconds>', 'fail with exit 3 unless you authenticated within this time', seconds)
    .option('--json', 'print JSON with access_token, token_type, expires_at, scope, id_token (same as --format json)')
    .addOption(new Option('--format <format>', '"header" prints `Bearer <token>` (for cargo and pnpm token helpers)').choices(TOKEN_FORMATS).default('plain'))
    .action(async (o: { account?: string; provider?: string; scope?: string; resource?: string; minTtl?: number; maxAge?: number; json?: boolean; format: string }) => {
      // Usually not reached: entry.ts runs `token` on the lean path; this serves runCli and anything the lean parser declined.
      const flags: Record<string, string | true> = { format: o.format };
      for (const [name, value] of [['account', o.account], ['provider', o.provider], ['scope', o.scope], ['resource', o.resource], ['min-ttl', o.minTtl], ['max-age', o.maxAge]] as const) {
        if (value !== undefined) flags[name] = String(value);
      }
      if (o.json) flags.json = true;
      // The lean path leaves long values here: one sentence naming the option, before any agent starts.
      parseCliInput(ADMIN_PARAMS['admin.token'], tokenParams(flags));
      await runTokenCommand(io, paths, flags);
    });

  const host = program.command('host').description('Which provider serves a host, for the git and Docker credential helpers');
  host
    .command('add')
    .description('Map a host (or registry) to a provider and account')
    .argument('<host>', 'host, host:port or URL, e.g. git.example.com or registry.example.com:5000')
    .requiredOption('--provider <name>', 'the provider whose tokens the host accepts')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--scope <scopes>', 'narrow the token to these scopes', scopeArg)
    .option('--resource <uri>', 'audience-restrict the token (RFC 8707)', urlArg)
    .option('--username <name>', 'user name to send with the token (Docker then uses Basic auth instead of an identity token)')
    .action(async (name: string, o: { provider: string; account?: string; scope?: string; resource?: string; username?: string }) => {
      const mapping = { provider: o.provider, ...(o.account ? { account: o.account } : {}), ...(o.scope ? { scope: o.scope } : {}), ...(o.resource ? { resource: o.resource } : {}), ...(o.username ? { username: o.username } : {}) };
      const added = await withAgent((c) => addHost(paths, c, name, mapping));
      io.stderr.write(`Mapped ${added} to provider "${o.provider}".\n`);
    });
  host
    .command('list')
    .description('List mapped hosts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => listHosts(paths, io, Boolean(o.json)));
  host
    .command('remove')
    .description('Forget a host mapping')
    .argument('<host>')
    .action(async (name: string) => {
      io.stderr.write(`Removed the mapping for ${await removeHost(paths, name)}.\n`);
    });

  program
    .command('exec')
    .description('Run a program with an access token in its environment; exits with its status')
    .usage('[options] -- <command> [args...]')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--provider <name>', 'pick the account by provider')
    .option('--scope <scopes>', 'narrow the token to these scopes', scopeArg)
    .option('--resource <uri>', 'audience-restrict the token (RFC 8707)', urlArg)
    .option('--env <name>', `the environment variable that gets the token (default ${DEFAULT_TOKEN_ENV})`)
    .argument('<command...>')
    .action(async () => {
      // Usually not reached: entry.ts runs `exec` on the lean path; this is for --help and usage errors.
      throw new LatchkeyError('usage', 'Put `--` before the program: `latchkey exec [options] -- <command> [args...]`.');
    });

  program
    .command('kubectl-credential')
    .description('Print an ExecCredential for kubectl (kubeconfig users[].user.exec)')
    .option('--provider <name>', 'pick the account by provider')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--scope <scopes>', 'narrow the token to these scopes', scopeArg)
    .option('--resource <uri>', 'audience-restrict the token (RFC 8707)', urlArg)
    .option('--id-token', 'send the ID token instead of the access token (clusters that trust the provider as an OIDC issuer)')
    .action(async () => {
      // Not reached with valid options: entry.ts runs this command on the lean path.
      throw new LatchkeyError('usage', 'See `latchkey kubectl-credential --help`.');
    });

  program
    .command('aws-credential')
    .description('Print AWS credentials for credential_process (STS AssumeRoleWithWebIdentity with your ID token)')
    .requiredOption('--role-arn <arn>', 'the IAM role to assume')
    .option('--provider <name>', 'pick the account by provider')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--scope <scopes>', 'scopes of the token exchanged', scopeArg)
    .option('--session-name <name>', 'RoleSessionName (default "latchkey")')
    .option('--duration-seconds <seconds>', 'how long the STS credentials last (900–43200)', seconds)
    .option('--use-access-token', 'exchange the access token instead of the ID token')
    .option('--region <region>', 'STS region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1); the endpoint follows $AWS_ENDPOINT_URL_STS or $AWS_ENDPOINT_URL')
    .action(async (o: AwsCommandOptions) => runAwsCredential(io, paths, o));

  program
    .command('accounts')
    .description('List signed-in accounts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { accounts } = await withAgent((c) => c.call('admin.accounts.list', {}));
      if (o.json) return json(accounts);
      if (accounts.length === 0) return void io.stderr.write('No accounts. Sign in with `latchkey login`.\n');
      out(table([['ID', 'PROVIDER', 'USER', 'STATUS'], ...accounts.map((a) => [a.id, a.provider, accountLabel(a), a.status === 'active' ? 'signed in' : 'sign-in needed'])]));
    });

  program
    .command('logout')
    .description('Sign out: revoke tokens at the provider and delete them here')
    .option('--account <id>', 'account id, email or user name (default: the only one)')
    .option('--provider <name>', 'pick the account by provider')
    .option('--json', 'print JSON')
    .action(async (o: { account?: string; provider?: string; json?: boolean }) => {
      const r = await withAgent((c) => c.call('admin.logout', { ...(o.account ? { account: o.account } : {}), ...(o.provider ? { provider: o.provider } : {}) }));
      if (o.json) return json(r);
      io.stderr.write(`Signed out ${accountLabel(r.account)} (${r.account.id}); revoked: ${r.revoked.length ? r.revoked.join(', ') : 'nothing'}.\n`);
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      if (r.end_session_url) io.stderr.write(`To also end your session at the provider, open:\n  ${r.end_session_url}\n`);
    });

  program
    .command('status')
    .description('Show the agent, key source, providers and accounts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await withAgent((c) => c.call('admin.status', {}), false).catch((err) => {
        if (err instanceof LatchkeyError && err.code === 'agent_unavailable') return undefined;
        throw err;
      });
      // A broken config.json stops the next agent start: report it now (exit 2), not at the next command.
      const configError = await import('../platform/config.js').then(({ loadConfig }) => loadConfig(paths.config)).then(() => undefined, (err: unknown) => err);
      if (o.json) json(s ? { running: true, ...s } : { running: false, socket: paths.socket });
      else if (!s) out(`Agent:      not running (socket ${paths.socket}); it starts on the next command that needs it\n`);
      else out(
        table([
          ['Agent:', `running, pid ${s.pid}, version ${s.version}, up ${relativeTime(s.startedAt).replace(' ago', '')}`],
          ['Key source:', `${s.keySource.description}`],
          ['Vault:', s.vault],
          ['Socket:', s.socket],
          ['Providers:', s.providers.length ? s.providers.map((p) => p.name).join(', ') : 'none'],
          ['Accounts:', String(s.accounts)],
          ...(s.demo ? [['Demo:', `running at ${s.demo.issuer}`]] : []),
          ['Policy:', s.policy.state === 'active' ? `${s.policy.path} (${s.policy.rules} rule(s))` : s.policy.state === 'absent' ? 'none' : `IGNORED, apps are asked instead: ${s.policy.path}`],
        ]),
      );
      if (s?.policy.state === 'ignored' && !o.json) io.stderr.write(`Warning: ${s.policy.error}\n`);
      if (configError) throw configError;
    });

  program
    .command('handle-url')
    .description('Deliver a sign-in callback URL to the agent (run by the OS for the dev.latchkey.app: scheme)')
    .argument('<url>')
    .action(async (url: string) => {
      // Checked here, so a URL that is not ours is a usage error even when no agent runs.
      const [{ loadConfig }, { parseCallbackUrl }] = await Promise.all([import('../platform/config.js'), import('../engine/callback/callback-receiver.js')]);
      parseCallbackUrl(url, (await loadConfig(paths.config)).schemeRedirectUri);
      await withAgent((c) => c.call('admin.callback', { url }), false).catch((err) => {
        if (err instanceof LatchkeyError && err.code === 'agent_unavailable') {
          throw new LatchkeyError('callback_rejected', 'No Latchkey sign-in is waiting: the agent is not running. Start the sign-in again with `latchkey login`.');
        }
        throw err;
      });
      io.stderr.write('Sign-in response delivered to Latchkey.\n');
    });

  program
    .command('demo')
    .description('Start the built-in demo provider in the agent and add it as provider "demo"')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await withAgent((c) => c.call('admin.demo', {}));
      if (o.json) return json(r);
      io.stderr.write(
        `Demo provider running at ${r.issuer} (inside the agent, on 127.0.0.1 only).\n` +
          `Next:\n  latchkey login --provider demo    # any user name and password are accepted\n  latchkey token --provider demo\n`,
      );
    });

  const apps = program.command('apps').description('Apps you allowed to get tokens (connected apps)');
  apps
    .command('list', { isDefault: true })
    .description('List remembered app grants')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const [{ grants }, { accounts }] = await withAgent(async (c) => [await c.call('admin.apps.list', {}), await c.call('admin.accounts.list', {})] as const);
      if (o.json) return json(grants);
      if (grants.length === 0) return void io.stderr.write('No app has a remembered grant.\n');
      // The account as the consent prompt named it (--json keeps the id, which `apps revoke --account` takes).
      const named = (id: string) => { const a = accounts.find((x) => x.id === id); return a ? accountName(a) : id; };
      out(table([['APP', 'NAME (CLAIMED)', 'ACCOUNT', 'SCOPE', 'LAST USED', 'KEY'], ...grants.map((g) => [g.app, g.name, named(g.account), g.scope + (g.resource ? ` @ ${g.resource}` : ''), g.last_used_at ? relativeTime(g.last_used_at * 1000) : 'never', g.key_fingerprint])]));
    });
  apps
    .command('revoke')
    .description("Revoke an app's grant; Latchkey forgets its tokens (see revokeAppTokensAtProvider in config.json)")
    .argument('<app>', 'the app id, as `latchkey apps` shows it')
    .option('--account <id>', 'only for this account')
    .action(async (app: string, o: { account?: string }) => {
      const r = await withAgent((c) => c.call('admin.apps.revoke', { app, ...(o.account ? { account: o.account } : {}) }));
      io.stderr.write(`Revoked ${r.revoked.map((x) => `${x.app} for ${x.account}`).join(', ')}.\n`);
    });

  program
    .command('activity')
    .description('Which app got which token, when; and every consent decision')
    .option('--app <id>', 'only this app')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many entries (default 100)', (v) => {
      if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a number from 1 to 5000.');
      return Number(v);
    })
    .option('--json', 'print JSON')
    .action(async (o: { app?: string; account?: string; limit?: number; json?: boolean }) => {
      const { entries, intact, broken_at_line: brokenAt } = await withAgent((c) => c.call('admin.activity', { ...(o.app ? { app: o.app } : {}), ...(o.account ? { account: o.account } : {}), ...(o.limit ? { limit: o.limit } : {}) }));
      if (!intact) io.stderr.write(`Warning: the audit log (${paths.audit}) was changed outside Latchkey at entry ${brokenAt}; entries from there on are not shown.\n`);
      if (o.json) return json(entries);
      if (entries.length === 0) return void io.stderr.write(o.app || o.account ? `No activity for ${[o.app, o.account].filter(Boolean).join(' and ')}.\n` : 'No activity yet.\n');
      out(table([['WHEN', 'APP', 'EVENT', 'ACCOUNT', 'SCOPE', 'KEY', 'DETAIL'], ...entries.map((e) => [new Date(e.at).toISOString().replace('T', ' ').slice(0, 19), e.appId, e.event.replaceAll('_', ' '), e.account ?? '-', e.scope ?? '-', e.keyFingerprint ? shortFingerprint(e.keyFingerprint) : '-', e.detail ?? ''])]));
    });

  program
    .command('register-scheme')
    .description('Make this desktop open dev.latchkey.app: sign-in links with `latchkey handle-url` (Linux)')
    .action(async () => {
      const { loadConfig } = await import('../platform/config.js');
      const { registerUrlScheme } = await import('../platform/url-scheme.js');
      const config = await loadConfig(paths.config);
      const entry = fileURLToPath(new URL('./entry.js', import.meta.url));
      const r = await registerUrlScheme({ redirectUri: config.schemeRedirectUri, command: [process.execPath, entry], env: io.env });
      io.stderr.write(`Wrote ${r.desktopFile}; ${r.madeDefault ? 'it is now the default handler' : 'could not run xdg-mime, so set it as the default handler yourself'} for ${config.schemeRedirectUri}\n`);
    });

  const vault = program.command('vault').description('Vault maintenance');
  vault
    .command('reset')
    .description('Move the vault aside and start empty (for a vault that can no longer be opened)')
    .option('--yes', 'confirm: all accounts and providers will be forgotten')
    .action(async (o: { yes?: boolean }) => {
      if (!o.yes) throw new LatchkeyError('usage', 'This forgets all providers and accounts. Run again with --yes to confirm.');
      const running = await withAgent((c) => c.call('admin.status', {}), false).catch(() => undefined);
      if (running) throw new LatchkeyError('agent_running', `Stop the agent first (latchkey agent stop; pid ${running.pid}).`);
      const moved = await ctx.resetVault();
      io.stderr.write(moved ? `The old vault was kept at ${moved}. A new one is created on next use.\n` : 'There was no vault to reset.\n');
    });

  return program;
}

export function defaultPaths(env: NodeJS.ProcessEnv): LatchkeyPaths {
  return resolvePaths(env);
}

export async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new LatchkeyError('usage', 'Pipe the secret into stdin, e.g. `latchkey provider add … --client-secret - < secret.txt`.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new LatchkeyError('usage', 'The secret on stdin is larger than 64 KiB; that is not a client secret.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
