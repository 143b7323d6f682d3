/**
 * Docker's credential helper protocol (docker/docker-credential-helpers):
 * `docker-credential-latchkey get|list|store|erase|version`, run without
 * other arguments, the request on stdin.
 *
 * Enforces:
 * - `get` reads a server URL and reduces it to `host[:port]` before looking
 *   it up in the host mapping (Docker sends `https://index.docker.io/v1/`,
 *   `registry.example.com`, `localhost:5000` …);
 * - a registry Latchkey does not know answers exactly
 *   `credentials not found in native keychain` on stdout with exit 1: Docker's
 *   client library matches that text to fall back to its other credentials
 *   (the one answer on stdout that is not JSON);
 * - `Username` is the mapping's `--username` (the registry then gets Basic
 *   auth with the token as password), else `<token>`, Docker's marker for an
 *   identity token (sent to the registry's token endpoint as a refresh token);
 * - `store` and `erase` (from `docker login` / `logout`) are accepted and
 *   change nothing: Latchkey's tokens come from signing in to the provider.
 */
import type { WireToken } from '../wire/owner-contract.js';
import type { HostMap } from './host-map.js';

/** The text the client library compares with (credentials.errCredentialsNotFoundMessage). */
export const CREDENTIALS_NOT_FOUND = 'credentials not found in native keychain';
export const DOCKER_OPERATIONS = ['get', 'list', 'store', 'erase', 'version'] as const;
/** Docker's user name for an identity token. */
export const IDENTITY_TOKEN_USER = '<token>';

export function getAnswer(serverUrl: string, token: WireToken, username: string | undefined): string {
  return `${JSON.stringify({ ServerURL: serverUrl, Username: username ?? IDENTITY_TOKEN_USER, Secret: token.access_token })}\n`;
}

/** `list`: every mapped registry with the user name Docker will see. */
export function listAnswer(map: HostMap): string {
  return `${JSON.stringify(Object.fromEntries(Object.entries(map).map(([host, m]) => [host, m.username ?? IDENTITY_TOKEN_USER])))}\n`;
}
