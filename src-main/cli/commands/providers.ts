/** `latchkey provider add|list|remove`: the OpenID Connect and OAuth 2.0 providers the agent signs in with. */
import { Option, type Command } from 'commander';
import { LatchkeyError } from '../../errors.js';
import type { AdminParams } from '../../wire/owner-contract.js';
import { PRESET_NAMES, type PresetName, type PresetOptions } from '../../engine/provider-presets.js';
import type { AddProviderInput } from '../../engine/provider-registry.js';
import type { OAuth2ProviderInput } from '../../engine/oauth2-configuration.js';
import { printList } from '../output.js';
import type { CommandKit } from './command-kit.js';
import { portArg, scopeArg, urlArg } from './options.js';

/** The options as commander parses them: the engine's provider and OAuth 2.0 inputs (flat, under their option names) and a preset's options. */
type ProviderAddOptions = PresetOptions &
  Pick<AddProviderInput, 'issuer' | 'clientId' | 'clientSecret' | 'scope' | 'loopbackPort' | 'service' | 'refreshWithoutConsent'> &
  Pick<OAuth2ProviderInput, 'authorizationEndpoint' | 'tokenEndpoint' | 'deviceAuthorizationEndpoint' | 'revocationEndpoint' | 'userinfoEndpoint' | 'accountClaim'> & {
    redirect: 'loopback' | 'scheme';
    oauth2?: boolean;
    preset?: PresetName | 'github';
    json?: boolean;
  };

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

export function addProviderCommands(program: Command, kit: CommandKit): void {
  const { io, json, withAgent } = kit;
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
      if (secret === '-') secret = (await kit.readStdin()).replace(/\r?\n$/, '');
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
      printList(io, providers, {
        json: Boolean(o.json),
        empty: 'No providers yet. Add one with `latchkey provider add`, or run `latchkey demo`.',
        header: ['NAME', 'ISSUER', 'CLIENT ID', 'PROTOCOL', 'KIND', 'REDIRECT', 'REFRESH', 'ACCOUNTS'],
        row: (p) => [p.name, p.issuer, p.clientId, p.protocol, p.kind, p.kind === 'service' ? '-' : p.redirect, p.kind === 'service' ? '-' : p.refreshWithoutConsent ? 'without consent' : 'prompt=consent', String(p.accounts)],
      });
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
}
