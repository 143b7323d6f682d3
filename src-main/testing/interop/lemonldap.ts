/**
 * Test-only: LemonLDAP::NG (Debian packages, Perl) as an independent OpenID
 * Provider on 127.0.0.1: its portal under `llng-fastcgi-server` behind nginx,
 * as Debian's /etc/lemonldap-ng/portal-nginx.conf sets it up, but with every
 * file in a temp dir: lemonldap-ng.ini (found through LLNG_DEFAULTCONFFILE),
 * a File configuration backend holding lmConf-1.json, and session stores.
 * Users come from LemonLDAP::NG's Demo backend (dwho/dwho, rtyler/rtyler).
 *
 * Deviations from its defaults, and why:
 * - The OpenID Connect issuer is switched on with one signing key, and the
 *   relying parties are registered: a public client requiring PKCE that may
 *   ask for `offline_access` (refresh tokens are off unless a relying party
 *   allows them), and a confidential one allowed the client credentials grant.
 * - `securedCookie: 0` and the cookie domain 127.0.0.1: plain http on loopback.
 * - Redirect URIs are matched exactly, so the loopback one names a concrete
 *   port (see the README's provider notes).
 * - The FastCGI server refuses to run as root; it runs as www-data, which owns
 *   the temp dir.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chownSync, chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ProviderPages } from '../browser.js';
import { formSteps, missingFile, ServerProcess, throwAwayDir, type InteropProvider, type ProviderFixture } from './interop-provider.js';
import { freePort } from '../net.js';
import { SCHEME_REDIRECT_URI } from './glewlwyd.js';

const FASTCGI_SERVER = '/usr/sbin/llng-fastcgi-server';
const NGINX = '/usr/sbin/nginx';
const PORTAL = '/usr/share/lemonldap-ng/portal';
const SERVICE = { clientId: 'latchkey-service', clientSecret: 'interop-service-secret-2', scope: 'openid' };
const USER = { login: 'dwho', password: 'dwho' };
const RUN_AS = 'www-data';
/** The portal's forms each have one submit button. */
const SUBMIT = 'form button[type=submit]';

/**
 * The portal's pages are server-rendered forms: the login form
 * (`input[name=user]`, `input[name=password]`), the consent form for a new
 * relying party, and the logout confirmation of RP-initiated logout.
 */
const LEMONLDAP_PAGES: ProviderPages = {
  kindScript: `(() => {
    if (window.__latchkeyStale) return '';
    const shown = (sel) => { const e = document.querySelector(sel); return e && e.offsetParent !== null; };
    if (shown('input[name=password]')) return 'login';
    if (document.querySelector('form input[name=confirm]') && /oauth2\\/authorize/.test(location.pathname + document.querySelector('form').action)) return 'consent';
    if (/oauth2\\/logout/.test(location.pathname) && shown('form button[type=submit]')) return 'logout';
    if (document.querySelector('#logout, .logoutMsg, #errormsg .alert-success, .message-positive')) return 'logged-out';
    return '';
  })()`,
  ...formSteps({ user: 'input[name=user]', password: 'input[name=password]', submit: SUBMIT, consent: SUBMIT, confirmLogout: SUBMIT }, USER),
};

export const lemonldapFixture: ProviderFixture = {
  name: 'LemonLDAP::NG',
  missing: () => {
    const file = missingFile([FASTCGI_SERVER, NGINX, `${PORTAL}/htdocs/index.psgi`], 'lemonldap-ng-fastcgi-server liblemonldap-ng-portal-perl nginx-light');
    if (file) return file;
    // The portal's captcha and OIDC issuer need modules Debian only recommends; without them it fails to start.
    const perl = spawnSync('perl', ['-MString::Random', '-MImage::Magick', '-MGD::SecurityImage', '-MIO::String', '-e', '1'], { encoding: 'utf8' });
    return perl.status === 0 ? undefined : `LemonLDAP::NG's recommended Perl modules are missing (see .ci/run): ${perl.stderr.split('\n')[0]}`;
  },
  start: startLemonldap,
};

async function startLemonldap(): Promise<InteropProvider> {
  const { dir, remove } = throwAwayDir('latchkey-lemonldap-');
  const servers: ServerProcess[] = [];
  const stop = async () => {
    for (const s of servers.reverse()) await s.stop();
    remove();
  };
  try {
    const [port, loopbackPort] = [await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${port}/`;
    for (const sub of ['conf', 'sessions', 'sessions/lock', 'psessions', 'psessions/lock', 'cache', 'nginx']) mkdirSync(join(dir, sub));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(join(dir, 'conf', 'lmConf-1.json'), JSON.stringify(portalConfig({ dir, issuer, loopbackPort, privateKey, publicKey }), null, 1));
    writeFileSync(join(dir, 'lemonldap-ng.ini'), iniFile(dir));
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port));
    handOver(dir);

    const socket = join(dir, 'llng-fastcgi.sock');
    const env = {
      ...process.env,
      LLNG_DEFAULTCONFFILE: join(dir, 'lemonldap-ng.ini'),
      LLNG_DEFAULTLOGGER: 'Lemonldap::NG::Common::Logger::Std',
    };
    const asRoot = userInfo().uid === 0;
    const fastcgi = new ServerProcess(
      'llng-fastcgi-server',
      FASTCGI_SERVER,
      ['--foreground', '-n', '2', '-s', socket, '-p', join(dir, 'llng-fastcgi.pid'), ...(asRoot ? ['-u', RUN_AS, '-g', RUN_AS] : [])],
      { env },
    );
    servers.push(fastcgi);
    await fastcgi.waitUntil(async () => readdirSync(dir).includes('llng-fastcgi.sock'));
    const nginx = new ServerProcess('nginx', NGINX, ['-p', join(dir, 'nginx'), '-e', join(dir, 'nginx', 'error.log'), '-c', join(dir, 'nginx.conf')]);
    servers.push(nginx);
    await nginx.waitUntil(async () => (await fetch(`${issuer}.well-known/openid-configuration`)).ok, 30_000);
    return {
      name: 'LemonLDAP::NG',
      issuer,
      clientId: 'latchkey',
      loopbackPort,
      serviceClient: SERVICE,
      // offline_access is accepted (the relying party allows it) but not listed in scopes_supported.
      scope: 'openid profile email offline_access',
      offlinePrompt: 'consent',
      user: USER,
      pages: LEMONLDAP_PAGES,
      unsupported: {},
      close: stop,
    };
  } catch (err) {
    const logs = servers.map((s) => `${s.label}:\n${s.log}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/** The FastCGI server runs as www-data (it refuses root): it must read the config and write the session stores. */
function handOver(dir: string): void {
  if (userInfo().uid !== 0) return;
  const ids = spawnSync('id', ['-u', RUN_AS], { encoding: 'utf8' });
  const gids = spawnSync('id', ['-g', RUN_AS], { encoding: 'utf8' });
  const [uid, gid] = [Number(ids.stdout), Number(gids.stdout)];
  const walk = (path: string) => {
    chownSync(path, uid, gid);
    if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
  chmodSync(dir, 0o750);
}

function portalConfig(o: { dir: string; issuer: string; loopbackPort: number; privateKey: string; publicKey: string }) {
  const store = (sub: string) => ({ Directory: join(o.dir, sub), LockDirectory: join(o.dir, sub, 'lock') });
  return {
    cfgNum: 1,
    cfgAuthor: 'latchkey interop',
    cfgDate: String(Math.floor(Date.now() / 1000)),
    domain: '127.0.0.1',
    portal: o.issuer,
    securedCookie: 0,
    cookieName: 'lemonldap',
    authentication: 'Demo',
    userDB: 'Same',
    passwordDB: 'Demo',
    registerDB: 'Demo',
    demoExportedVars: { cn: 'cn', mail: 'mail', uid: 'uid' },
    exportedVars: { UA: 'HTTP_USER_AGENT' },
    whatToTrace: 'uid',
    globalStorage: 'Apache::Session::File',
    globalStorageOptions: { ...store('sessions'), generateModule: 'Lemonldap::NG::Common::Apache::Session::Generate::SHA256' },
    persistentStorage: 'Apache::Session::File',
    persistentStorageOptions: store('psessions'),
    localSessionStorage: 'Cache::FileCache',
    localSessionStorageOptions: { cache_root: join(o.dir, 'cache'), namespace: 'lemonldap-ng-sessions', default_expires_in: 600, directory_umask: '007', cache_depth: 3 },
    locationRules: { '127.0.0.1': { default: 'accept' } },
    issuerDBOpenIDConnectActivation: 1,
    oidcServicePrivateKeySig: o.privateKey,
    oidcServicePublicKeySig: o.publicKey,
    oidcServiceKeyIdSig: 'interop',
    oidcRPMetaDataOptions: {
      latchkey: {
        oidcRPMetaDataOptionsClientID: 'latchkey',
        oidcRPMetaDataOptionsDisplayName: 'Latchkey',
        oidcRPMetaDataOptionsPublic: 1,
        oidcRPMetaDataOptionsRequirePKCE: 1,
        oidcRPMetaDataOptionsAllowOffline: 1,
        oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
        oidcRPMetaDataOptionsRedirectUris: `http://127.0.0.1:${o.loopbackPort}/callback ${SCHEME_REDIRECT_URI}`,
      },
      'latchkey-service': {
        oidcRPMetaDataOptionsClientID: SERVICE.clientId,
        oidcRPMetaDataOptionsClientSecret: SERVICE.clientSecret,
        oidcRPMetaDataOptionsAllowClientCredentialsGrant: 1,
        oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
      },
    },
    oidcRPMetaDataExportedVars: {
      latchkey: { email: 'mail', name: 'cn', preferred_username: 'uid' },
      'latchkey-service': {},
    },
  };
}

function iniFile(dir: string): string {
  return `[all]
logLevel = ${process.env.LATCHKEY_INTEROP_DEBUG ? 'debug' : 'warn'}
checkTime = 1
[configuration]
type = File
dirName = ${join(dir, 'conf')}
[portal]
staticPrefix = /static
templateDir = ${PORTAL}/templates
languages = en
[handler]
status = 0
`;
}

/** Debian's portal-nginx.conf, on 127.0.0.1:port, talking to the FastCGI socket in the temp dir. */
function nginxConfig(dir: string, port: number): string {
  const n = join(dir, 'nginx');
  return `daemon off;
master_process off;
worker_processes 1;
pid ${n}/nginx.pid;
error_log ${n}/error.log warn;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${n}/body;
  fastcgi_temp_path ${n}/fastcgi;
  proxy_temp_path ${n}/proxy;
  uwsgi_temp_path ${n}/uwsgi;
  scgi_temp_path ${n}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${PORTAL}/htdocs/;
    if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {
      rewrite ^/(.*)$ /index.psgi/$1 break;
    }
    location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:${join(dir, 'llng-fastcgi.sock')};
      fastcgi_param HTTP_HOST $host:$server_port;
      fastcgi_param LLTYPE psgi;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
      fastcgi_param PATH_INFO $fastcgi_path_info;
    }
    index index.psgi;
    location / { try_files $uri $uri/ =404; }
    location /static/ { alias ${PORTAL}/htdocs/static/; }
    location /javascript/ { alias /usr/share/javascript/; }
  }
}
`;
}
