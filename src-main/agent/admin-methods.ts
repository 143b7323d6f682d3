/**
 * Socket handlers for the owner's `admin.*` methods. Each one parses its params
 * with the contract's schema, calls the core, and shapes the wire result. No
 * handler ever returns a refresh token or a client secret.
 */
import type { z } from 'zod';
import { LatchkeyError } from '../errors.js';
import type { AgentCore } from './agent-core.js';
import { ADMIN_PARAMS, LOGIN_NOTIFICATIONS, type AdminMethod, type AdminResults, type GrantSummary } from '../wire/owner-contract.js';
import { keyFingerprint } from '../broker/app-key.js';
import { policyStatus } from '../broker/policy-prompter.js';
import { parseParams } from '../wire/json-rpc.js';
import { ownerKeyMatches } from './owner-key.js';
import { claimRole, roleOf } from './connection-roles.js';
import { proveConnection } from './connection-slots.js';
import { fromWireTokenRequest, toWireToken } from '../wire/wire-token.js';
import { fromWireAwsRequest } from '../wire/aws-request.js';
import { applyPreset } from '../engine/provider-presets.js';
import type { AddProviderInput } from '../engine/provider-registry.js';
import type { SignInWarning } from '../engine/offline-access.js';
import { withGitHubPreset } from '../engine/github-preset.js';
import type { OAuth2ProviderInput } from '../engine/oauth2-configuration.js';
import { awsCredentials } from './aws-credentials.js';
import type { CallContext, RpcMethodEntry } from './rpc-connection.js';

type Handler<M extends AdminMethod> = (params: z.output<(typeof ADMIN_PARAMS)[M]>, ctx: CallContext) => Promise<AdminResults[M]>;

function entry<M extends AdminMethod>(method: M, handler: Handler<M>, options: { interactive?: boolean } = {}): [string, RpcMethodEntry] {
  return [
    method,
    {
      ...options,
      handler: (params, ctx) => {
        if (method !== 'admin.hello' && roleOf(ctx.connection) !== 'owner') {
          throw new LatchkeyError('unauthorized', `${method} is for the person's own tools: send admin.hello with the owner key first. Apps use hello and tokens.* instead.`);
        }
        return handler(parseParams(ADMIN_PARAMS[method] as z.ZodType, params ?? {}) as z.output<(typeof ADMIN_PARAMS)[M]>, ctx);
      },
    },
  ];
}

/** The wire's snake_case OAuth 2.0 settings as the registry takes them. */
function oauth2Input(w: NonNullable<z.output<(typeof ADMIN_PARAMS)['admin.providers.add']>['oauth2']>): OAuth2ProviderInput {
  const input: OAuth2ProviderInput = {};
  if (w.authorization_endpoint) input.authorizationEndpoint = w.authorization_endpoint;
  if (w.token_endpoint) input.tokenEndpoint = w.token_endpoint;
  if (w.device_authorization_endpoint) input.deviceAuthorizationEndpoint = w.device_authorization_endpoint;
  if (w.revocation_endpoint) input.revocationEndpoint = w.revocation_endpoint;
  if (w.userinfo_endpoint) input.userinfoEndpoint = w.userinfo_endpoint;
  if (w.account_claim) input.accountClaim = w.account_claim;
  return input;
}

export function adminMethods(core: AgentCore, ownerKey: string): Record<string, RpcMethodEntry> {
  const { engine } = core;
  return Object.fromEntries([
    entry('admin.hello', async (p, ctx) => {
      if (!ownerKeyMatches(ownerKey, p.owner_key) || !claimRole(ctx.connection, 'owner')) {
        throw new LatchkeyError('unauthorized', 'That is not the owner key of this agent.');
      }
      await proveConnection(ctx.connection, 'owner');
      return { owner: true };
    }),
    entry('admin.status', async () => ({ ...core.status(), policy: await policyStatus(core.paths.policy) })),
    entry('admin.stop', async () => {
      // Answer first, then stop, so the caller learns it worked.
      setImmediate(() => core.requestStop());
      return { stopping: true };
    }),
    entry('admin.providers.list', async () => ({ providers: core.providers() })),
    entry('admin.providers.add', async (p) => {
      const input: AddProviderInput = { name: p.name, clientId: p.client_id };
      if (p.issuer) input.issuer = p.issuer;
      if (p.client_secret) input.clientSecret = p.client_secret;
      if (p.scope !== undefined) input.scope = p.scope;
      if (p.redirect) input.redirect = p.redirect;
      if (p.loopback_port !== undefined) input.loopbackPort = p.loopback_port;
      if (p.service) input.service = true;
      if (p.refresh_without_consent) input.refreshWithoutConsent = true;
      if (p.oauth2) input.oauth2 = oauth2Input(p.oauth2);
      // GitHub speaks plain OAuth 2.0 and has its own preset builder; the OpenID Connect presets share one.
      if (p.preset === 'github') {
        if (p.preset_options) throw new LatchkeyError('usage', '--preset github takes no --tenant, --domain, --realm or similar; for GitHub Enterprise Server give --issuer.');
        return { provider: await core.addProvider(withGitHubPreset(input)) };
      }
      if (p.preset) {
        if (p.oauth2) throw new LatchkeyError('usage', `--preset ${p.preset} is an OpenID Connect provider: drop --oauth2 and the endpoint options.`);
        const o = p.preset_options ?? {};
        const options = { tenant: o.tenant, domain: o.domain, authorizationServer: o.authorization_server, audience: o.audience, realm: o.realm, baseUrl: o.base_url };
        return { provider: await core.addProvider(applyPreset({ ...input, preset: p.preset, options })) };
      }
      if (p.preset_options) throw new LatchkeyError('usage', 'Options such as --tenant, --domain or --realm go with --preset.');
      if (!p.issuer && !p.oauth2) throw new LatchkeyError('usage', 'Give the provider\'s --issuer, or a --preset.');
      return { provider: await core.addProvider(input) };
    }),
    entry('admin.providers.remove', async (p) => {
      const { signedOut } = await core.removeProvider(p.name, p.force);
      return { removed: p.name, signed_out: signedOut.map((s) => s.account.id) };
    }),
    entry('admin.accounts.list', async () => ({ accounts: engine.accounts() })),
    entry(
      'admin.login',
      async (p, ctx) => {
        const warnings: SignInWarning[] = [];
        // What the person asked, as is: the engine picks the flow (engine/sign-in/choose-flow.ts).
        const account = await engine.signIn({
          ...(p.provider ? { provider: p.provider } : {}),
          ...(p.scope ? { scope: p.scope } : {}),
          ...(p.device ? { device: true } : {}),
          ...(p.max_age !== undefined ? { maxAge: p.max_age } : {}),
          ...(p.prompt ? { prompt: p.prompt } : {}),
          ...(p.login_hint ? { loginHint: p.login_hint } : {}),
          ...(p.resource ? { resource: p.resource } : {}),
          ...(p.account_name !== undefined ? { accountName: p.account_name } : {}),
          signal: ctx.signal,
          onAuthorizationUrl: (url) => ctx.notify(LOGIN_NOTIFICATIONS.authorizationUrl, { url }),
          onUserCode: (info) => {
            const n: Record<string, unknown> = { user_code: info.userCode, verification_uri: info.verificationUri, expires_in: info.expiresIn };
            if (info.verificationUriComplete) n.verification_uri_complete = info.verificationUriComplete;
            ctx.notify(LOGIN_NOTIFICATIONS.deviceCode, n);
          },
          onWarning: (w) => void warnings.push(w),
        });
        return { account, warnings };
      },
      { interactive: true },
    ),
    entry('admin.token', async (p) => {
      const token = await engine.getToken(fromWireTokenRequest(p));
      core.broker.noteOwnerToken(token, p.resource, p.client ? { client: p.client, target: p.target } : undefined);
      const wire: AdminResults['admin.token'] = toWireToken(token);
      if (token.warning) wire.warning = token.warning;
      return wire;
    }),
    entry('admin.token.drop', async (p) => ({ dropped: await engine.dropCachedToken(p.access_token) })),
    entry('admin.aws.credentials', async (p) => awsCredentials({ store: core.store, engine, broker: core.broker, now: core.now }, fromWireAwsRequest(p))),
    entry('admin.logout', async (p) => {
      const r = await core.signOut({ ...(p.account ? { account: p.account } : {}), ...(p.provider ? { provider: p.provider } : {}) });
      return { account: r.account, revoked: r.revoked, warnings: r.warnings, ...(r.endSessionUrl ? { end_session_url: r.endSessionUrl } : {}) };
    }),
    entry('admin.callback', async (p) => {
      core.schemeRouter.deliver(p.url);
      return { accepted: true };
    }),
    entry('admin.apps.list', async () => ({
      grants: core.broker.listGrants().map((g) => {
        const summary: GrantSummary = { app: g.appId, name: g.appName, key_fingerprint: keyFingerprint(g.publicKey), account: g.account, scope: g.scope, created_at: Math.floor(g.createdAt / 1000) };
        if (g.exePath) summary.exe_path = g.exePath;
        if (g.resource) summary.resource = g.resource;
        if (g.lastUsedAt) summary.last_used_at = Math.floor(g.lastUsedAt / 1000);
        return summary;
      }),
    })),
    entry('admin.apps.revoke', async (p) => {
      const removed = await core.broker.revokeGrant(p.app, p.account);
      return { revoked: removed.map((g) => ({ app: g.appId, account: g.account })) };
    }),
    entry('admin.activity', async (p) => {
      const entries = core.broker.auditLog().filter((e) => (!p.app || e.appId === p.app) && (!p.account || e.account === p.account));
      const integrity = core.broker.auditIntegrity();
      return { entries: entries.slice(-(p.limit ?? 100)), intact: integrity.intact, ...(integrity.brokenAtLine ? { broken_at_line: integrity.brokenAtLine } : {}) };
    }),
    entry('admin.demo', async () => {
      const { issuer, provider } = await core.startDemo();
      return { issuer, provider };
    }),
  ]);
}
