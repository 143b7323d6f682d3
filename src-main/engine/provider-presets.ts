/**
 * Presets for the OpenID Providers people use: what each one needs, from its
 * own documentation, as data. `latchkey provider add NAME --preset P …` turns
 * a preset and a few options (tenant, domain, realm …) into the provider's
 * issuer, default scope, extra authorization parameters and refresh-token
 * behaviour. The README gives each preset's registration steps.
 *
 * What it enforces:
 * - every option a preset needs is given, and no option meant for another preset;
 * - option values have their documented shape (a tenant is a GUID, a domain a
 *   host name), so a typo fails here with a clear message, not at discovery;
 * - Google gets its installed-app client secret (its token endpoint wants it
 *   even with PKCE);
 * - Microsoft Entra ID gets scopes for at most one resource per request.
 */
import { LatchkeyError } from '../errors.js';
import { isLoopbackUrl } from './discovery.js';
import type { AddProviderInput } from './provider-registry.js';
import { parseScope } from './scope.js';

export const PRESET_NAMES = ['google', 'microsoft', 'okta', 'auth0', 'keycloak', 'gitlab'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** What a preset may need besides the client id; the CLI flag is the kebab-case name. */
export interface PresetOptions {
  /** Microsoft Entra ID: the Directory (tenant) ID. */
  tenant?: string;
  /** Okta, Auth0: the org's host name, e.g. `dev-123456.okta.com`. */
  domain?: string;
  /** Okta: a custom authorization server id (default `default`), or `org` for the org authorization server. */
  authorizationServer?: string;
  /** Auth0: the API identifier tokens are for (without it, Auth0 issues tokens only for its userinfo endpoint). */
  audience?: string;
  /** Keycloak: the realm. */
  realm?: string;
  /** Keycloak (required), GitLab (self-managed; default https://gitlab.com): the server's base URL. */
  baseUrl?: string;
}
type OptionName = keyof PresetOptions;

const FLAGS: Record<OptionName, string> = {
  tenant: '--tenant',
  domain: '--domain',
  authorizationServer: '--authorization-server',
  audience: '--audience',
  realm: '--realm',
  baseUrl: '--base-url',
};

export interface ProviderPreset {
  title: string;
  /** The provider's documentation the preset follows. */
  docs: string;
  requires: readonly OptionName[];
  accepts: readonly OptionName[];
  issuer(o: PresetOptions): string;
  scope: string;
  authorizationParams?(o: PresetOptions): Record<string, string>;
  clientSecret: 'required' | 'optional';
  /** See `refreshWithoutConsent` in store/vault-document.ts. */
  refreshWithoutConsent: boolean;
  /** A provider rule about scopes, checked before anything is saved. */
  checkScope?(scope: string): void;
}

export const PROVIDER_PRESETS: Readonly<Record<PresetName, ProviderPreset>> = {
  google: {
    title: 'Google',
    docs: 'https://developers.google.com/identity/protocols/oauth2/native-app',
    requires: [],
    accepts: [],
    issuer: () => 'https://accounts.google.com',
    // Google has no offline_access scope: refresh tokens come with access_type=offline, and on a repeat
    // sign-in only with prompt=consent (which the engine adds for access_type=offline, see offline-access.ts).
    scope: 'openid email profile',
    authorizationParams: () => ({ access_type: 'offline' }),
    clientSecret: 'required',
    refreshWithoutConsent: false,
  },
  microsoft: {
    title: 'Microsoft Entra ID',
    docs: 'https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow',
    requires: ['tenant'],
    accepts: ['tenant'],
    issuer: (o) => `https://login.microsoftonline.com/${o.tenant}/v2.0`,
    scope: 'openid profile email offline_access',
    clientSecret: 'optional',
    // Entra ID issues refresh tokens for offline_access; prompt=consent would show its consent page every time.
    refreshWithoutConsent: true,
    checkScope: (scope) => {
      const resources = new Set(parseScope(scope).map(entraResourceOf).filter((r) => r !== undefined));
      if (resources.size > 1) {
        throw new LatchkeyError(
          'usage',
          `Microsoft Entra ID issues a token for one resource per request, but the scope names ${resources.size}: ${[...resources].join(', ')}. Keep one resource (e.g. api://<app id>/.default) in --scope.`,
        );
      }
    },
  },
  okta: {
    title: 'Okta',
    docs: 'https://developer.okta.com/docs/concepts/auth-servers/',
    requires: ['domain'],
    accepts: ['domain', 'authorizationServer'],
    issuer: (o) => (o.authorizationServer === 'org' ? `https://${o.domain}` : `https://${o.domain}/oauth2/${o.authorizationServer ?? 'default'}`),
    scope: 'openid profile email offline_access',
    clientSecret: 'optional',
    refreshWithoutConsent: true,
  },
  auth0: {
    title: 'Auth0',
    docs: 'https://auth0.com/docs/get-started/authentication-and-authorization-flow/authorization-code-flow-with-pkce',
    requires: ['domain'],
    accepts: ['domain', 'audience'],
    // Auth0's issuer ends with a slash; discovery checks it exactly.
    issuer: (o) => `https://${o.domain}/`,
    scope: 'openid profile email offline_access',
    authorizationParams: (o): Record<string, string> => (o.audience ? { audience: o.audience } : {}),
    clientSecret: 'optional',
    refreshWithoutConsent: true,
  },
  keycloak: {
    title: 'Keycloak',
    docs: 'https://www.keycloak.org/docs/latest/server_admin/#_offline-access',
    requires: ['baseUrl', 'realm'],
    accepts: ['baseUrl', 'realm'],
    issuer: (o) => `${o.baseUrl}/realms/${o.realm}`,
    // offline_access makes Keycloak issue an offline token, which outlives the browser session.
    scope: 'openid profile email offline_access',
    clientSecret: 'optional',
    refreshWithoutConsent: true,
  },
  gitlab: {
    title: 'GitLab',
    docs: 'https://docs.gitlab.com/integration/openid_connect_provider/',
    requires: [],
    accepts: ['baseUrl'],
    issuer: (o) => o.baseUrl ?? 'https://gitlab.com',
    // GitLab issues a refresh token with every code exchange; it has no offline_access scope.
    scope: 'openid profile email',
    clientSecret: 'optional',
    refreshWithoutConsent: true,
  },
};

export function isPresetName(value: string): value is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(value);
}

/** What `provider add --preset` gets besides the preset's own options. */
export interface PresetRequest extends Omit<AddProviderInput, 'issuer'> {
  preset: PresetName;
  options: PresetOptions;
  /** Replaces the issuer the preset would build (a custom domain, a test provider). */
  issuer?: string;
}

/**
 * Turns a preset and its options into a provider to add. Throws `usage` for a
 * missing, foreign or malformed option, or a missing required client secret.
 */
export function applyPreset(request: PresetRequest): AddProviderInput {
  const preset = PROVIDER_PRESETS[request.preset];
  const options = checkOptions(request.preset, preset, request.options);
  if (preset.clientSecret === 'required' && !request.clientSecret) {
    throw new LatchkeyError(
      'usage',
      `${preset.title} needs the client secret of its installed-app ("Desktop app") client, even with PKCE: add --client-secret - and pipe it on stdin.`,
    );
  }
  const scope = request.scope ?? preset.scope;
  preset.checkScope?.(scope);
  const { preset: name, options: _options, issuer, ...rest } = request;
  const authorizationParams = { ...preset.authorizationParams?.(options), ...request.authorizationParams };
  return {
    ...rest,
    issuer: issuer ?? preset.issuer(options),
    scope,
    refreshWithoutConsent: request.refreshWithoutConsent || preset.refreshWithoutConsent,
    ...(Object.keys(authorizationParams).length ? { authorizationParams } : {}),
    preset: name,
  };
}

function checkOptions(name: PresetName, preset: ProviderPreset, given: PresetOptions): PresetOptions {
  const options: PresetOptions = {};
  for (const [key, raw] of Object.entries(given) as [OptionName, string | undefined][]) {
    if (raw === undefined) continue;
    if (!preset.accepts.includes(key)) {
      throw new LatchkeyError('usage', `${FLAGS[key]} does not apply to --preset ${name}${preset.accepts.length ? `; it takes ${preset.accepts.map((k) => FLAGS[k]).join(', ')}` : ''}.`);
    }
    options[key] = checkOption(key, raw.trim());
  }
  const missing = preset.requires.filter((k) => options[k] === undefined);
  if (missing.length) throw new LatchkeyError('usage', `--preset ${name} needs ${missing.map((k) => FLAGS[k]).join(' and ')}.`);
  return options;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

function checkOption(key: OptionName, value: string): string {
  const bad = (why: string) => new LatchkeyError('usage', `${FLAGS[key]} "${value}" ${why}`);
  switch (key) {
    case 'tenant':
      // common/organizations/consumers sign in users of many tenants, whose ID tokens each carry their own
      // issuer; openid-client checks `iss` against one issuer exactly, so only a single tenant works.
      if (!GUID.test(value)) {
        throw bad('is not a Directory (tenant) ID. Use the GUID from the app registration\'s Overview page; "common", "organizations", "consumers" and domain names are not supported, because their ID tokens name each user\'s own tenant as issuer.');
      }
      return value.toLowerCase();
    case 'domain':
      if (!HOST.test(value)) throw bad('is not a host name; give just the host, e.g. dev-123456.okta.com or example.eu.auth0.com.');
      return value.toLowerCase();
    case 'authorizationServer':
      if (!/^[A-Za-z0-9]{1,64}$/.test(value)) throw bad('is not an authorization server id (e.g. "default", "aus1a2b3c4", or "org").');
      return value;
    case 'realm':
      // Dots alone would be a path step ("..") in the issuer URL.
      if (!/^[A-Za-z0-9._-]{1,255}$/.test(value) || /^\.+$/.test(value)) throw bad('is not a realm name.');
      return encodeURIComponent(value);
    case 'audience':
      if (!value || /\s/.test(value)) throw bad('is not an API identifier.');
      return value;
    case 'baseUrl': {
      const url = URL.parse(value);
      if (!url || (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) || url.search || url.hash) {
        throw bad('must be an https URL without query or fragment (http only on 127.0.0.1 or localhost).');
      }
      return url.href.replace(/\/+$/, '');
    }
  }
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/**
 * The resource an Entra ID scope is for: the scope's URI prefix
 * (`api://<id>/.default`, `https://graph.microsoft.com/User.Read`), Microsoft
 * Graph for a bare permission name (`User.Read`), none for the OIDC scopes.
 */
function entraResourceOf(scope: string): string | undefined {
  if (OIDC_SCOPES.has(scope)) return undefined;
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/]+)\//i.exec(scope);
  return match?.[1]?.toLowerCase() ?? 'https://graph.microsoft.com';
}
