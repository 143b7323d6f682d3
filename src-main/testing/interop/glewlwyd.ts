/**
 * Test-only: Glewlwyd (Debian package `glewlwyd`, C) as an independent OpenID
 * Provider on 127.0.0.1, with a throw-away SQLite database and configuration
 * in a temp dir. Set up the way its documentation does it: the packaged
 * database init script, then the admin API (the packaged `admin`/`password`
 * account) creates the OpenID Connect plugin instance, a user and the clients.
 *
 * Deviations from a plain install, and why:
 * - The plugin starts from the admin UI's defaults (glewlwyd-oidc-defaults.ts)
 *   and switches on the features the matrix exercises, which Glewlwyd ships
 *   off: PKCE (`pkce-allowed`), revocation and introspection, session
 *   management (RP-initiated logout), the device grant, and non-OIDC OAuth 2.0
 *   requests (`allow-non-oidc`, which its client credentials grant requires).
 * - `cookie_secure=0`: the provider runs on plain http on loopback (Debian's
 *   own /etc/glewlwyd/glewlwyd.conf does the same).
 * - The webapp is copied into the temp dir with the packaged
 *   templates/config.json: the packaged webapp/config.json is a symlink to a
 *   directory, and Glewlwyd's static file server does not follow symlinks.
 * - Redirect URIs are matched exactly, so the loopback one names a concrete
 *   port (see the README's provider notes).
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ProviderPages } from '../browser.js';
import { GLEWLWYD_OIDC_DEFAULTS } from './glewlwyd-oidc-defaults.js';
import { fetchJson, formSteps, missingFile, ServerProcess, throwAwayDir, type InteropProvider, type ProviderFixture } from './interop-provider.js';
import { freePort } from '../net.js';

const BINARY = '/usr/bin/glewlwyd';
const INIT_SQL = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const WEBAPP = '/usr/share/glewlwyd/webapp';
const WEBAPP_CONFIG = '/usr/share/glewlwyd/templates/config.json';
const MODULES = '/usr/lib/glewlwyd';
const ADMIN = { username: 'admin', password: 'password' };
const USER = { login: 'alice', password: 'alice-interop-password' };
const SERVICE = { clientId: 'latchkey-service', clientSecret: 'interop-service-secret-1', scope: 'api' };
export const SCHEME_REDIRECT_URI = 'dev.latchkey.app:/callback';

/**
 * Glewlwyd's login page is a single-page app: the login form, then a
 * "Continue" screen (the grant is implicit for the `openid` scope). With
 * `max_age` or a new session it asks for the password again on the same form.
 */
const GLEWLWYD_PAGES: ProviderPages = {
  kindScript: `(() => {
    const shown = (sel) => { const e = document.querySelector(sel); return e && e.offsetParent !== null; };
    const prompt = new URLSearchParams(location.search).get('prompt');
    const buttons = [...document.querySelectorAll('button')].filter((b) => b.offsetParent !== null).map((b) => b.innerText.trim());
    if (prompt === 'end_session') return buttons.includes('Logout') ? 'logout' : buttons.includes('Log in') ? 'logged-out' : '';
    if (prompt === 'deviceComplete') return 'device-success';
    if (shown('#password')) return 'login';
    if (buttons.includes('Continue')) return 'consent';
    return '';
  })()`,
  sameDocument: true,
  ...formSteps({ user: '#username', password: '#password', submit: '#loginbut', consent: 'button:has-text("Continue")', confirmLogout: 'button:has-text("Logout")' }, USER),
};

export const glewlwydFixture: ProviderFixture = {
  name: 'Glewlwyd',
  missing: () => missingFile([BINARY, INIT_SQL, WEBAPP_CONFIG, '/usr/bin/sqlite3'], 'glewlwyd'),
  start: startGlewlwyd,
};

async function startGlewlwyd(): Promise<InteropProvider> {
  const { dir, remove } = throwAwayDir('latchkey-glewlwyd-');
  let server: ServerProcess | undefined;
  try {
    const [port, loopbackPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const database = join(dir, 'glewlwyd.db');
    const init = spawnSync('sqlite3', [database], { input: gunzipSync(readFileSync(INIT_SQL)), encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`sqlite3 could not run the Glewlwyd init script: ${init.stderr}`);
    const webapp = join(dir, 'webapp');
    cpSync(WEBAPP, webapp, { recursive: true, dereference: true, filter: (src) => src !== join(WEBAPP, 'config.json') });
    cpSync(WEBAPP_CONFIG, join(webapp, 'config.json'));
    writeFileSync(join(dir, 'glewlwyd.conf'), configFile({ port, base, database, webapp }));

    server = new ServerProcess('glewlwyd', BINARY, ['-c', join(dir, 'glewlwyd.conf')]);
    await server.waitUntil(async () => (await fetch(`${base}/config.json`)).ok);

    const admin = await adminSession(base);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const issuer = `${base}/api/oidc`;
    await admin('POST', '/mod/plugin/', {
      module: 'oidc',
      name: 'oidc',
      display_name: 'OpenID Connect',
      enabled: true,
      parameters: {
        ...GLEWLWYD_OIDC_DEFAULTS,
        key: privateKey,
        cert: publicKey,
        iss: issuer,
        'pkce-allowed': true,
        'introspection-revocation-allowed': true,
        'session-management-allowed': true,
        'auth-type-device-enabled': true,
        'allow-non-oidc': true,
      },
    });
    await admin('POST', '/scope/', { name: SERVICE.scope, display_name: 'API', description: 'Service API', password_required: false, password_max_age: 0, scheme: {} });
    await admin('POST', '/user/', { username: USER.login, password: USER.password, name: 'Alice Interop', email: 'alice@interop.test', scope: ['openid'], enabled: true });
    await admin('POST', '/client/', {
      client_id: 'latchkey',
      name: 'Latchkey',
      enabled: true,
      confidential: false,
      redirect_uri: [`http://127.0.0.1:${loopbackPort}/callback`, SCHEME_REDIRECT_URI],
      authorization_type: ['code', 'refresh_token', 'delete_token', 'device_authorization'],
      token_endpoint_auth_method: ['none'],
      scope: [],
    });
    await admin('POST', '/client/', {
      client_id: SERVICE.clientId,
      name: 'Latchkey service',
      enabled: true,
      confidential: true,
      password: SERVICE.clientSecret,
      redirect_uri: [],
      authorization_type: ['client_credentials'],
      token_endpoint_auth_method: ['client_secret_basic'],
      scope: [SERVICE.scope],
    });
    await server.waitUntil(async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).ok);
    const running = server;
    return {
      name: 'Glewlwyd',
      issuer,
      clientId: 'latchkey',
      loopbackPort,
      serviceClient: SERVICE,
      user: USER,
      pages: GLEWLWYD_PAGES,
      unsupported: {},
      close: async () => {
        await running.stop();
        remove();
      },
    };
  } catch (err) {
    await server?.stop();
    remove();
    throw err;
  }
}

/** Signs in to the admin API and returns a caller that sends its session cookie. */
async function adminSession(base: string): Promise<(method: string, path: string, body: unknown) => Promise<unknown>> {
  const login = await fetch(`${base}/api/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
    signal: AbortSignal.timeout(10_000),
  });
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (!login.ok || !cookie) throw new Error(`Glewlwyd admin sign-in failed: ${login.status}`);
  return (method, path, body) =>
    fetchJson(`${base}/api${path}`, { method, headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify(body) });
}

/** The daemon's configuration (libconfig syntax), following the packaged glewlwyd.conf.sample. */
function configFile(o: { port: number; base: string; database: string; webapp: string }): string {
  const mime = [
    ['.html', 'text/html'],
    ['.css', 'text/css'],
    ['.js', 'application/javascript'],
    ['.json', 'application/json'],
    ['.png', 'image/png'],
    ['.ico', 'image/x-icon'],
    ['.ttf', 'font/ttf'],
    ['.woff', 'font/woff'],
    ['.woff2', 'font/woff2'],
  ];
  return `port=${o.port}
bind_address="127.0.0.1"
external_url="${o.base}"
login_url="login.html"
api_prefix="api"
static_files_path="${o.webapp}/"
allow_origin="*"
log_mode="console"
log_level="${process.env.LATCHKEY_INTEROP_DEBUG ? 'DEBUG' : 'WARNING'}"
cookie_secure=0
cookie_same_site="empty"
session_expiration=2419200
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
add_x_frame_option_header_deny=true
max_post_size=16778240
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="${MODULES}/user"
user_middleware_module_path="${MODULES}/user_middleware"
client_module_path="${MODULES}/client"
user_auth_scheme_module_path="${MODULES}/scheme"
plugin_module_path="${MODULES}/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = "${o.database}"; };
static_files_mime_types = (
${mime.map(([extension, type]) => `  { extension = "${extension}"; mime_type = "${type}"; }`).join(',\n')}
);
`;
}
